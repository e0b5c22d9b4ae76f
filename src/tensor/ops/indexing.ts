/**
 * Index ops with PyTorch semantics: gather, scatterAdd, indexSelect, indexAdd, oneHot.
 *
 * Index tensors are int32. A GPU cannot throw, so out-of-range indices never fault: a read
 * (gather, indexSelect) gives 0 and a write (scatterAdd, indexAdd) is skipped; oneHot gives an
 * all-zero row. Negative indices are out of range (as in PyTorch's gather/scatter, which reject them).
 */
import type { Binding } from '../../kernels/webgpu/queue';
import { gatherKernel, LAYOUT_WG, oneHotKernel, scatterAddKernel, type LayoutKernel } from '../../kernels/wgsl/layout';
import { grid } from '../../kernels/webgpu/device';
import * as R from './ref/layout';
import { wgslType, type DType } from '../../base/dtype';
import { ArgumentError, fmtShape, normAxis, sizeOf, stridesOf } from '../../base/shape';
import type { Tensor } from '../tensor';
import { defineOp, type Op, type TensorMeta } from './define';
import { full } from './creation';
import { reshape } from './shape-ops';
import { padOp } from './layout';
import { requireTensor } from '../require-tensor';

const word = (d: DType) => wgslType(d) as 'f32' | 'i32' | 'u32';
const run = (name: string, x: Tensor, k: LayoutKernel, buffers: Binding[], n: number) =>
  x.device.run(name, k.key, k.source, buffers, grid(n, LAYOUT_WG), { layout: k.layout, values: k.values });

function isTensor(fn: string, x: unknown, arg = 'input'): asserts x is Tensor {
  requireTensor(fn, arg, x);
}

// ---------------------------------------------------------------- index ops

function checkIndex(fn: string, index: unknown, arg = 'index'): asserts index is Tensor {
  isTensor(fn, index, arg);
  if (index.dtype !== 'int32') throw new ArgumentError(fn, arg, `has dtype ${index.dtype}`, 'int32 indices (cast(index, "int32"))');
}

interface DimAttrs {
  dim: number;
}

const gatherOp: Op<DimAttrs> = defineOp({
  name: 'gather',
  inputs: { x: 'tensor', index: 'tensor' },
  shape: ({ x, index }, _: DimAttrs) => ({ shape: index.shape, dtype: x.dtype }),
  forward: ({ x, index }, { dim }, [y]) =>
    run(
      'gather',
      x,
      gatherKernel({ outShape: index.shape, dim, dimSize: x.shape[dim], xStride: stridesOf(x.shape), idxStride: stridesOf(index.shape) }),
      [x.binding, index.binding, y.binding],
      y.size,
    ),
  reference: ({ x, index }, { dim }) => R.refGather(x, dim, index),
  vjp: ({ dy, inputs: { x, index }, attrs: { dim } }) => [
    scatterAddOp.call1([full(x.shape, 0, { dtype: dy.dtype, device: dy.device }), index, dy], { dim }),
    null,
  ],
});

/** torch.gather: out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (etc.). index has x's rank and sizes ≤ x's on the other dims. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  isTensor('gather', x);
  checkIndex('gather', index);
  const d = normAxis('gather', dim, x.ndim);
  if (x.ndim === 0 && index.ndim === 0) return reshape(gather(reshape(x, [1]), 0, reshape(index, [1])), []);
  if (index.ndim !== x.ndim || index.shape.some((n, k) => k !== d && n > x.shape[k])) {
    throw new ArgumentError('gather', 'index', `has shape ${fmtShape(index.shape)}`, `rank ${x.ndim} with sizes ≤ ${fmtShape(x.shape)} on every dim but ${d}`);
  }
  return gatherOp.call1([x, index], { dim: d });
}

/** Keeps x's shape and dtype (scatterAdd, indexAdd). */
const likeX = ({ x }: { x: TensorMeta }, _: DimAttrs) => ({ shape: x.shape, dtype: x.dtype });

const scatterAddOp: Op<DimAttrs> = defineOp({
  name: 'scatterAdd',
  inputs: { x: 'tensor', index: 'tensor', src: 'tensor' },
  shape: likeX,
  forward({ x, index, src }, { dim }, [y]) {
    const k = scatterAddKernel(word(x.dtype), {
      outShape: x.shape,
      dim,
      count: index.shape[dim],
      idxShape: index.shape,
      idxStride: stridesOf(index.shape),
      srcStride: stridesOf(src.shape),
    });
    run('scatterAdd', x, k, [x.binding, index.binding, src.binding, y.binding], y.size);
  },
  reference: ({ x, index, src }, { dim }) => R.refScatterAdd(x, dim, index, src),
  vjp: ({ dy, inputs: { index, src }, attrs: { dim } }) => {
    let g: Tensor = gatherOp.call1([dy, index], { dim });
    if (src.shape.some((n, d) => n !== index.shape[d]))
      g = padOp.call1([g], { before: src.shape.map(() => 0), after: src.shape.map((n, d) => n - index.shape[d]), mode: 'constant', value: 0 });
    return [dy, null, g];
  },
});

/**
 * torch.scatter_add (out of place): out = x, then out[index[i][j]][j] += src[i][j] for dim 0 (etc.), over
 * index's shape. Deterministic: each output element sums its contributions in index order.
 */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  isTensor('scatterAdd', x);
  checkIndex('scatterAdd', index);
  isTensor('scatterAdd', src, 'src');
  const d = normAxis('scatterAdd', dim, x.ndim);
  if (src.dtype !== x.dtype) throw new ArgumentError('scatterAdd', 'src', `has dtype ${src.dtype}`, `${x.dtype}, the dtype of input`);
  if (x.dtype === 'bool') throw new ArgumentError('scatterAdd', 'input', 'has dtype bool', 'a numeric dtype');
  if (x.ndim === 0 && index.ndim === 0 && src.ndim === 0) return reshape(scatterAdd(reshape(x, [1]), 0, reshape(index, [1]), reshape(src, [1])), []);
  if (index.ndim !== x.ndim || src.ndim !== x.ndim || index.shape.some((n, k) => (k !== d && n > x.shape[k]) || n > src.shape[k])) {
    throw new ArgumentError(
      'scatterAdd',
      'index',
      `has shape ${fmtShape(index.shape)}`,
      `rank ${x.ndim}, sizes ≤ src's ${fmtShape(src.shape)}, and ≤ input's ${fmtShape(x.shape)} on every dim but ${d}`,
    );
  }
  return scatterAddOp.call1([x, index, src], { dim: d });
}

const selectStrides = (rank: number, dim: number) => Array.from({ length: rank }, (_, k) => (k === dim ? 1 : 0));

const indexSelectOp: Op<DimAttrs> = defineOp({
  name: 'indexSelect',
  inputs: { x: 'tensor', index: 'tensor' },
  shape: ({ x, index }, { dim }: DimAttrs) => {
    const shape = [...x.shape];
    shape[dim] = sizeOf(index.shape);
    return { shape, dtype: x.dtype };
  },
  forward: ({ x, index }, { dim }, [y]) =>
    run(
      'indexSelect',
      x,
      gatherKernel({ outShape: y.shape, dim, dimSize: x.shape[dim], xStride: stridesOf(x.shape), idxStride: selectStrides(y.shape.length, dim) }),
      [x.binding, index.binding, y.binding],
      y.size,
    ),
  reference: ({ x, index }, { dim }) => R.refIndexSelect(x, dim, index),
  vjp: ({ dy, inputs: { x, index }, attrs: { dim } }) => [
    indexAddOp.call1([full(x.shape, 0, { dtype: dy.dtype, device: dy.device }), index, dy], { dim }),
    null,
  ],
});

/** torch.index_select: the entries index[k] (a 1-D int32 tensor) along `dim`. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  isTensor('indexSelect', x);
  checkIndex('indexSelect', index);
  if (index.ndim > 1) throw new ArgumentError('indexSelect', 'index', `has shape ${fmtShape(index.shape)}`, 'a 1-D (or 0-D) index');
  const d = normAxis('indexSelect', dim, x.ndim);
  if (x.ndim === 0) return x;
  return indexSelectOp.call1([x, reshape(index, [index.size])], { dim: d });
}

const indexAddOp: Op<DimAttrs> = defineOp({
  name: 'indexAdd',
  inputs: { x: 'tensor', index: 'tensor', src: 'tensor' },
  shape: likeX,
  forward({ x, index, src }, { dim }, [y]) {
    const k = scatterAddKernel(word(x.dtype), {
      outShape: x.shape,
      dim,
      count: index.size,
      idxShape: x.shape,
      idxStride: selectStrides(x.ndim, dim),
      srcStride: stridesOf(src.shape),
    });
    run('indexAdd', x, k, [x.binding, index.binding, src.binding, y.binding], y.size);
  },
  reference: ({ x, index, src }, { dim }) => R.refIndexAdd(x, dim, index, src),
  vjp: ({ dy, inputs: { index }, attrs: { dim } }) => [dy, null, indexSelectOp.call1([dy, index], { dim })],
});

/** torch.index_add (out of place): out = x; out[.., index[k], ..] += src[.., k, ..] along `dim`. Deterministic. */
export function indexAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  isTensor('indexAdd', x);
  checkIndex('indexAdd', index);
  isTensor('indexAdd', src, 'src');
  if (index.ndim > 1) throw new ArgumentError('indexAdd', 'index', `has shape ${fmtShape(index.shape)}`, 'a 1-D index');
  const d = normAxis('indexAdd', dim, x.ndim);
  const want = [...x.shape];
  want[d] = index.size;
  if (src.ndim !== x.ndim || src.shape.some((n, k) => n !== want[k]))
    throw new ArgumentError('indexAdd', 'src', `has shape ${fmtShape(src.shape)}`, `${fmtShape(want)} (the input's shape with dim ${d} = index length)`);
  if (src.dtype !== x.dtype) throw new ArgumentError('indexAdd', 'src', `has dtype ${src.dtype}`, `${x.dtype}, the dtype of input`);
  return indexAddOp.call1([x, reshape(index, [index.size]), src], { dim: d });
}

const oneHotOp: Op<{ numClasses: number }> = defineOp({
  name: 'oneHot',
  inputs: { index: 'tensor' },
  shape: ({ index }, { numClasses }: { numClasses: number }) => ({ shape: [...index.shape, numClasses], dtype: 'int32' }),
  forward: ({ index }, { numClasses }, [y]) => run('oneHot', index, oneHotKernel(y.size, numClasses), [index.binding, y.binding], y.size),
  reference: ({ index }, { numClasses }) => R.refOneHot(index, numClasses),
  noGrad: 'integer output',
});

/**
 * F.one_hot: int32 (PyTorch returns int64) with a trailing dim of `numClasses`. numClasses is required
 * (inferring it would need a read-back); indices outside [0, numClasses) give an all-zero row.
 */
export function oneHot(index: Tensor, numClasses: number): Tensor {
  checkIndex('oneHot', index, 'input');
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ArgumentError('oneHot', 'numClasses', `is ${numClasses}`, 'a positive integer');
  return oneHotOp.call1([index], { numClasses });
}
