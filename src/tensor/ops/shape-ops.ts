/** The two layout ops the engine itself needs: reshape (a view) and broadcastTo (a copy). */
import { elementwiseKernel, WG } from '../../kernels/wgsl/elementwise';
import { grid } from '../../kernels/webgpu/device';
import { refMap } from './ref/elementwise';
import { ArgumentError, broadcastShapes, fmtShape, sameShape, sizeOf } from '../../base/shape';
import { Tensor, view } from '../tensor';
import { defineOp } from './define';
import { sumToShape } from './sum-to-shape';

interface ShapeAttrs {
  shape: number[];
}

const reshapeOp = defineOp({
  name: 'reshape',
  inputs: { x: 'tensor' },
  shape: ({ x }, { shape }: ShapeAttrs) => ({ shape, dtype: x.dtype }),
  produce: ({ x }, { shape }) => view(x, shape),
  reference: ({ x }, { shape }) => ({ ...x, shape }),
  vjp: ({ dy, inputs: { x } }) => [reshape(dy, x.shape)],
});

/**
 * Same data, new shape (one entry may be -1). A view: no copy.
 *
 * @example
 * ```ts
 * import { init, arange, reshape } from '@webgrad/core/node';
 * await init();
 * const x = reshape(arange(6), [2, 3]);
 * console.log(reshape(x, [-1]).shape); // [6]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError('reshape', 'input', `is ${typeof x}`, 'a Tensor');
  const s = shape.slice();
  const unknown = s.indexOf(-1);
  if (s.some((d, i) => !Number.isInteger(d) || d < -1 || (d === -1 && i !== unknown))) {
    throw new ArgumentError('reshape', 'shape', `is ${fmtShape(shape)}`, 'non-negative integers with at most one -1');
  }
  if (unknown >= 0) {
    const known = sizeOf(s.filter((_, i) => i !== unknown));
    if (known === 0 || x.size % known !== 0)
      throw new ArgumentError('reshape', 'shape', `${fmtShape(shape)} cannot hold ${x.size} elements`, `a shape with ${x.size} elements`);
    s[unknown] = x.size / known;
  }
  if (sizeOf(s) !== x.size)
    throw new ArgumentError(
      'reshape',
      'shape',
      `is ${fmtShape(shape)} (${sizeOf(s)} elements)`,
      `a shape with ${x.size} elements, like the input ${fmtShape(x.shape)}`,
    );
  return reshapeOp.call1([x], { shape: s });
}

const broadcastOp = defineOp({
  name: 'broadcastTo',
  inputs: { x: 'tensor' },
  shape: ({ x }, { shape }: ShapeAttrs) => ({ shape, dtype: x.dtype }),
  forward({ x: t }, _, [y]) {
    // y's shape, not the attribute: a split runs this on chunks of rows
    const k = elementwiseKernel('broadcastTo', 'v0', [{ dtype: t.dtype, shape: t.shape }], t.dtype, t.dtype, y.shape);
    t.device.run('broadcastTo', k.key, k.source, [t.binding, y.binding], grid(y.size, WG), { layout: k.layout, values: k.values });
  },
  split: ({ x }, { shape }) => ({ kind: 'batch', batched: x.ndim === shape.length && x.shape[0] === shape[0] && shape[0] > 1 ? ['x'] : [] }),
  reference: ({ x }, { shape }) => refMap([x, { shape, dtype: x.dtype, data: new Float64Array(sizeOf(shape)) }], (a) => a, x.dtype),
  vjp: ({ dy, inputs: { x } }) => [sumToShape(dy, x.shape)],
});

/** Broadcasts to `shape` with PyTorch's rules (materialised: tensors are always contiguous). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes('broadcastTo', shape, x.shape, ['shape', 'input']);
  if (!sameShape(target, shape))
    throw new ArgumentError(
      'broadcastTo',
      'input',
      `of shape ${fmtShape(x.shape)} cannot broadcast to ${fmtShape(shape)}`,
      'a shape whose dims are 1 or match',
    );
  return broadcastOp.call1([x], { shape: target });
}
