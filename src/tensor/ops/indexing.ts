/**
 * Index ops with PyTorch semantics: gather, scatterAdd, indexSelect, indexAdd, oneHot.
 *
 * Index tensors are int32. A GPU cannot throw, so out-of-range indices never fault: a read
 * (gather, indexSelect) gives 0 and a write (scatterAdd, indexAdd) is skipped; oneHot gives an
 * all-zero row. Negative indices are out of range (as in PyTorch's gather/scatter, which reject them).
 */
import { gatherKernel, LAYOUT_WG, oneHotKernel, scatterAddKernel, type LayoutKernel } from '../../kernels/wgsl/layout';
import { grid } from '../../kernels/webgpu/device';
import * as R from './ref/layout';
import { wgslType, type DType } from '../../base/dtype';
import { ArgumentError, fmtShape, normAxis, stridesOf } from '../../base/shape';
import { Tensor, empty } from '../tensor';
import { defineOp, type Op, type RefTensor } from './define';
import { full } from './creation';
import { reshape } from './shape-ops';
import { padOp } from './layout';

const word = (d: DType) => wgslType(d) as 'f32' | 'i32' | 'u32';
const run = (name: string, x: Tensor, k: LayoutKernel, buffers: GPUBuffer[], n: number) =>
  x.device.run(name, k.key, k.source, buffers, grid(n, LAYOUT_WG), { layout: k.layout, values: k.values });

function isTensor(fn: string, x: unknown, arg = 'input'): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${x === null ? 'null' : typeof x}`, 'a Tensor');
}

// ---------------------------------------------------------------- index ops

function checkIndex(fn: string, index: unknown, arg = 'index'): asserts index is Tensor {
  isTensor(fn, index, arg);
  if (index.dtype !== 'int32') throw new ArgumentError(fn, arg, `has dtype ${index.dtype}`, 'int32 indices (cast(index, "int32"))');
}

const gatherOp: Op<{ dim: number }> = defineOp<{ dim: number }>({
  name: 'gather',
  forward([x, index], { dim }) {
    const t = x as Tensor, idx = index as Tensor;
    const y = empty(idx.shape, t.dtype, t.device);
    if (y.size === 0) return y;
    run('gather', t, gatherKernel({ outShape: idx.shape, dim, dimSize: t.shape[dim], xStride: stridesOf(t.shape), idxStride: stridesOf(idx.shape) }), [t.buffer, idx.buffer, y.buffer], y.size);
    return y;
  },
  reference: ([x, index], { dim }) => R.refGather(x as RefTensor, dim, index as RefTensor),
  vjp: ({ dy, inputs: [x, index], attrs: { dim } }) => {
    const t = x as Tensor;
    return [scatterAddOp.call1([full(t.shape, 0, { dtype: dy.dtype, device: dy.device }), index, dy], { dim }), null];
  },
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

const scatterAddOp: Op<{ dim: number }> = defineOp<{ dim: number }>({
  name: 'scatterAdd',
  forward([x, index, src], { dim }) {
    const t = x as Tensor, idx = index as Tensor, s = src as Tensor;
    const y = empty(t.shape, t.dtype, t.device);
    if (y.size === 0) return y;
    const k = scatterAddKernel(word(t.dtype), { outShape: t.shape, dim, count: idx.shape[dim], idxShape: idx.shape, idxStride: stridesOf(idx.shape), srcStride: stridesOf(s.shape) });
    run('scatterAdd', t, k, [t.buffer, idx.buffer, s.buffer, y.buffer], y.size);
    return y;
  },
  reference: ([x, index, src], { dim }) => R.refScatterAdd(x as RefTensor, dim, index as RefTensor, src as RefTensor),
  vjp: ({ dy, inputs: [, index, src], attrs: { dim } }) => {
    const idx = index as Tensor, s = src as Tensor;
    let g: Tensor = gatherOp.call1([dy, idx], { dim });
    if (s.shape.some((n, d) => n !== idx.shape[d])) g = padOp.call1([g], { before: s.shape.map(() => 0), after: s.shape.map((n, d) => n - idx.shape[d]), mode: 'constant', value: 0 });
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
    throw new ArgumentError('scatterAdd', 'index', `has shape ${fmtShape(index.shape)}`, `rank ${x.ndim}, sizes ≤ src's ${fmtShape(src.shape)}, and ≤ input's ${fmtShape(x.shape)} on every dim but ${d}`);
  }
  return scatterAddOp.call1([x, index, src], { dim: d });
}

const selectStrides = (rank: number, dim: number) => Array.from({ length: rank }, (_, k) => (k === dim ? 1 : 0));

const indexSelectOp: Op<{ dim: number }> = defineOp<{ dim: number }>({
  name: 'indexSelect',
  forward([x, index], { dim }) {
    const t = x as Tensor, idx = index as Tensor;
    const shape = [...t.shape]; shape[dim] = idx.size;
    const y = empty(shape, t.dtype, t.device);
    if (y.size === 0) return y;
    run('indexSelect', t, gatherKernel({ outShape: shape, dim, dimSize: t.shape[dim], xStride: stridesOf(t.shape), idxStride: selectStrides(shape.length, dim) }), [t.buffer, idx.buffer, y.buffer], y.size);
    return y;
  },
  reference: ([x, index], { dim }) => R.refIndexSelect(x as RefTensor, dim, index as RefTensor),
  vjp: ({ dy, inputs: [x, index], attrs: { dim } }) => [indexAddOp.call1([full((x as Tensor).shape, 0, { dtype: dy.dtype, device: dy.device }), index, dy], { dim }), null],
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

const indexAddOp: Op<{ dim: number }> = defineOp<{ dim: number }>({
  name: 'indexAdd',
  forward([x, index, src], { dim }) {
    const t = x as Tensor, idx = index as Tensor, s = src as Tensor;
    const y = empty(t.shape, t.dtype, t.device);
    if (y.size === 0) return y;
    const k = scatterAddKernel(word(t.dtype), { outShape: t.shape, dim, count: idx.size, idxShape: t.shape, idxStride: selectStrides(t.ndim, dim), srcStride: stridesOf(s.shape) });
    run('indexAdd', t, k, [t.buffer, idx.buffer, s.buffer, y.buffer], y.size);
    return y;
  },
  reference: ([x, index, src], { dim }) => R.refIndexAdd(x as RefTensor, dim, index as RefTensor, src as RefTensor),
  vjp: ({ dy, inputs: [, index], attrs: { dim } }) => [dy, null, indexSelectOp.call1([dy, index], { dim })],
});

/** torch.index_add (out of place): out = x; out[.., index[k], ..] += src[.., k, ..] along `dim`. Deterministic. */
export function indexAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  isTensor('indexAdd', x);
  checkIndex('indexAdd', index);
  isTensor('indexAdd', src, 'src');
  if (index.ndim > 1) throw new ArgumentError('indexAdd', 'index', `has shape ${fmtShape(index.shape)}`, 'a 1-D index');
  const d = normAxis('indexAdd', dim, x.ndim);
  const want = [...x.shape]; want[d] = index.size;
  if (src.ndim !== x.ndim || src.shape.some((n, k) => n !== want[k])) throw new ArgumentError('indexAdd', 'src', `has shape ${fmtShape(src.shape)}`, `${fmtShape(want)} (the input's shape with dim ${d} = index length)`);
  if (src.dtype !== x.dtype) throw new ArgumentError('indexAdd', 'src', `has dtype ${src.dtype}`, `${x.dtype}, the dtype of input`);
  return indexAddOp.call1([x, reshape(index, [index.size]), src], { dim: d });
}

const oneHotOp: Op<{ numClasses: number }> = defineOp<{ numClasses: number }>({
  name: 'oneHot',
  forward([index], { numClasses }) {
    const idx = index as Tensor;
    const y = empty([...idx.shape, numClasses], 'int32', idx.device);
    if (y.size === 0) return y;
    run('oneHot', idx, oneHotKernel(y.size, numClasses), [idx.buffer, y.buffer], y.size);
    return y;
  },
  reference: ([index], { numClasses }) => R.refOneHot(index as RefTensor, numClasses),
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
