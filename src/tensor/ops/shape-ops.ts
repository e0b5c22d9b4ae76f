/** The two layout ops the engine itself needs: reshape (a view) and broadcastTo (a copy). */
import { elementwiseKernel, WG } from '../../kernels/wgsl/elementwise';
import { grid } from '../../kernels/webgpu/device';
import { refMap } from './ref/elementwise';
import { ArgumentError, broadcastShapes, fmtShape, sameShape, sizeOf } from '../../base/shape';
import { Tensor, empty, view } from '../tensor';
import { defineOp, type RefTensor } from './define';
import { sumToShape } from './sum-to-shape';

interface ShapeAttrs { shape: number[] }

const reshapeOp = defineOp<ShapeAttrs>({
  name: 'reshape',
  forward: ([x], { shape }) => view(x as Tensor, shape),
  reference: ([x], { shape }) => ({ ...(x as RefTensor), shape }),
  vjp: ({ dy, inputs: [x] }) => [reshape(dy, (x as Tensor).shape)],
});

/** Same data, new shape (one entry may be -1). A view: no copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError('reshape', 'input', `is ${typeof x}`, 'a Tensor');
  const s = shape.slice();
  const unknown = s.indexOf(-1);
  if (s.some((d, i) => !Number.isInteger(d) || d < -1 || (d === -1 && i !== unknown))) {
    throw new ArgumentError('reshape', 'shape', `is ${fmtShape(shape)}`, 'non-negative integers with at most one -1');
  }
  if (unknown >= 0) {
    const known = sizeOf(s.filter((_, i) => i !== unknown));
    if (known === 0 || x.size % known !== 0) throw new ArgumentError('reshape', 'shape', `${fmtShape(shape)} cannot hold ${x.size} elements`, `a shape with ${x.size} elements`);
    s[unknown] = x.size / known;
  }
  if (sizeOf(s) !== x.size) throw new ArgumentError('reshape', 'shape', `is ${fmtShape(shape)} (${sizeOf(s)} elements)`, `a shape with ${x.size} elements, like the input ${fmtShape(x.shape)}`);
  return reshapeOp.call1([x], { shape: s });
}

const broadcastOp = defineOp<ShapeAttrs>({
  name: 'broadcastTo',
  forward([x], { shape }) {
    const t = x as Tensor;
    const y = empty(shape, t.dtype, t.device);
    if (y.size === 0) return y;
    const k = elementwiseKernel('broadcastTo', 'v0', [{ dtype: t.dtype, shape: t.shape }], t.dtype, t.dtype, shape);
    t.device.run('broadcastTo', k.key, k.source, [t.buffer, y.buffer], grid(y.size, WG), { layout: k.layout, values: k.values });
    return y;
  },
  reference: ([x], { shape }) => {
    const r = x as RefTensor;
    const out = refMap([r, { shape, dtype: r.dtype, data: new Float64Array(sizeOf(shape)) }], (a) => a, r.dtype);
    return out;
  },
  vjp: ({ dy, inputs: [x] }) => [sumToShape(dy, (x as Tensor).shape)],
});

/** Broadcasts to `shape` with PyTorch's rules (materialised: tensors are always contiguous). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes('broadcastTo', shape, x.shape, ['shape', 'input']);
  if (!sameShape(target, shape)) throw new ArgumentError('broadcastTo', 'input', `of shape ${fmtShape(x.shape)} cannot broadcast to ${fmtShape(shape)}`, 'a shape whose dims are 1 or match');
  return broadcastOp.call1([x], { shape: target });
}
