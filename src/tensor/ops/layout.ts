/**
 * Layout ops with PyTorch semantics: views (flatten, squeeze, unsqueeze, view), strided copies
 * (permute, transpose, slice/narrow/sliceAxes, flip, roll, tile/repeat, expand), joins and splits
 * (concat/cat, stack, split, chunk) and padding (constant/reflect/replicate). Index ops (gather,
 * scatterAdd, indexSelect, indexAdd, oneHot) live in indexing.ts.
 */
import type { Binding } from '../../kernels/webgpu/queue';
import { copyRegionKernel, LAYOUT_WG, padBackwardKernel, padKernel, stridedGatherKernel, type LayoutKernel, type PadMode } from '../../kernels/wgsl/layout';
import { grid } from '../../kernels/webgpu/device';
import * as R from './ref/layout';
import { ALL_DTYPES, DTYPES, wgslType, type DType } from '../../base/dtype';
import { ArgumentError, fmtShape, normAxis, sizeOf, stridesOf } from '../../base/shape';
import type { Tensor } from '../tensor';
import { checkOperands, defineComposite, defineOp, internal, type Op, type OutputMeta, type TensorMeta } from './define';
import { fillInto, full } from './creation';
import { sum } from './reduce';
import { reshape, broadcastTo } from './shape-ops';
import { requireTensor } from '../require-tensor';
import type { SplitPlan } from './split';

/** Rows of x map to the same rows of the output (dim 0 untouched): the op splits by batch, with `attrs` per chunk. */
const rowwise = <A>(x: TensorMeta, keepsRows: boolean, attrs?: (rows: number) => A): SplitPlan<A> | null =>
  keepsRows && x.shape.length >= 2 ? { kind: 'batch', batched: ['x'], attrs } : null;

/** WGSL type of a 4-byte dtype (float16 never reaches these ops: checkOperands refuses it). */
const word = (d: DType) => wgslType(d) as 'f32' | 'i32' | 'u32';

export { reshape as view };

const run = (name: string, x: Tensor, k: LayoutKernel, buffers: Binding[], n: number) =>
  x.device.run(name, k.key, k.source, buffers, grid(n, LAYOUT_WG), { layout: k.layout, values: k.values });

function isTensor(fn: string, x: unknown, arg = 'input'): asserts x is Tensor {
  requireTensor(fn, arg, x);
}

function intList(fn: string, arg: string, v: unknown, min = -Infinity): number[] {
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || !list.every((d) => Number.isInteger(d) && d >= min)) {
    throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, min === -Infinity ? 'an integer or an array of integers' : `integers ≥ ${min}`);
  }
  return list.slice();
}

/** y[o] = x[base + Σ stride_d · wrap_d(start_d + o_d·step_d)]. */
function stridedGather(
  name: string,
  x: Tensor,
  y: Tensor,
  o: { base?: number; start?: readonly number[]; step?: readonly number[]; wrap?: readonly number[]; stride: readonly number[] },
): void {
  const shape = y.shape,
    r = shape.length;
  const k = stridedGatherKernel({
    shape,
    base: o.base ?? 0,
    start: o.start ?? new Array(r).fill(0),
    step: o.step ?? new Array(r).fill(1),
    wrap: o.wrap ?? new Array(r).fill(0),
    stride: o.stride,
  });
  run(name, x, k, [x.binding, y.binding], y.size);
}

/** The rule of an op whose output keeps the input's dtype, with the shape `shape` gives. */
const keepsDtype =
  <A>(shape: (x: TensorMeta, a: A) => readonly number[]) =>
  ({ x }: { x: TensorMeta }, a: A): OutputMeta => ({ shape: shape(x, a), dtype: x.dtype });

// ---------------------------------------------------------------- permute

const permuteOp: Op<{ dims: number[] }> = defineOp({
  name: 'permute',
  inputs: { x: 'tensor' },
  shape: keepsDtype((x, { dims }: { dims: number[] }) => dims.map((d) => x.shape[d])),
  forward({ x }, { dims }, [y]) {
    const st = stridesOf(x.shape);
    stridedGather('permute', x, y, { stride: dims.map((d) => st[d]) });
  },
  split: ({ x }, { dims }) => rowwise(x, dims[0] === 0),
  reference: ({ x }, { dims }) => R.refPermute(x, dims),
  vjp: ({ dy, attrs: { dims } }) => {
    const inv = new Array<number>(dims.length);
    dims.forEach((d, i) => {
      inv[d] = i;
    });
    return [permuteOp.call1([dy], { dims: inv })];
  },
});

/**
 * Reorders dims: result dim i is input dim dims[i] (torch.permute). A copy.
 *
 * @example
 * ```ts
 * import { init, zeros, permute } from '@webgrad/core/node';
 * await init();
 * const nhwc = zeros([1, 4, 4, 3]);
 * console.log(permute(nhwc, [0, 3, 1, 2]).shape); // [1, 3, 4, 4]
 * ```
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  isTensor('permute', x);
  const list = intList('permute', 'dims', dims);
  if (list.length !== x.ndim)
    throw new ArgumentError(
      'permute',
      'dims',
      `has ${list.length} entries (${JSON.stringify(dims)})`,
      `${x.ndim}, one per dim of the input of shape ${fmtShape(x.shape)}`,
    );
  const norm = list.map((d) => normAxis('permute', d, x.ndim, 'dims'));
  if (new Set(norm).size !== norm.length)
    throw new ArgumentError('permute', 'dims', `is ${JSON.stringify(dims)}, which is not a permutation`, `each of 0..${x.ndim - 1} exactly once`);
  if (x.ndim === 0) return x;
  return permuteOp.call1([x], { dims: norm });
}

const transposeOp: Op<{ dim0: number; dim1: number }> = defineComposite({
  name: 'transpose',
  inputs: { x: 'tensor' },
  shape: keepsDtype((x, { dim0, dim1 }: { dim0: number; dim1: number }) => {
    const r = x.shape.length,
      a = dim0 < 0 ? dim0 + r : dim0,
      b = dim1 < 0 ? dim1 + r : dim1;
    return x.shape.map((_, d) => x.shape[d === a ? b : d === b ? a : d]);
  }),
  impl: ({ x }, { dim0, dim1 }) => transpose(x, dim0, dim1),
  reference: ({ x: r }, { dim0, dim1 }) => {
    const dims = r.shape.map((_, i) => i);
    const a = dim0 < 0 ? dim0 + r.shape.length : dim0,
      b = dim1 < 0 ? dim1 + r.shape.length : dim1;
    return R.build(
      dims.map((d) => r.shape[d === a ? b : d === b ? a : d]),
      r.dtype,
      (o) => {
        const i = o.slice();
        i[a] = o[b];
        i[b] = o[a];
        return R.at(r, i);
      },
    );
  },
});
void transposeOp;

/** Swaps two dims (torch.transpose). */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  isTensor('transpose', x);
  const a = normAxis('transpose', dim0, x.ndim, 'dim0'),
    b = normAxis('transpose', dim1, x.ndim, 'dim1');
  if (x.ndim === 0) return x;
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permuteOp.call1([x], { dims });
}

/** Transpose of a matrix (≤ 2-D, as torch.t: 0-D and 1-D are returned as is). */
export function t(x: Tensor): Tensor {
  isTensor('t', x);
  if (x.ndim > 2) throw new ArgumentError('t', 'input', `has shape ${fmtShape(x.shape)} (rank ${x.ndim})`, 'a tensor of rank ≤ 2 (use transpose or permute)');
  return x.ndim < 2 ? x : transpose(x, 0, 1);
}

// ---------------------------------------------------------------- views

/** Merges dims startDim..endDim into one (torch.flatten). A view. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  isTensor('flatten', x);
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.ndim, 'startDim'),
    e = normAxis('flatten', endDim, x.ndim, 'endDim');
  if (s > e) throw new ArgumentError('flatten', 'startDim', `is ${startDim} (dim ${s}), after endDim ${endDim} (dim ${e})`, 'startDim ≤ endDim');
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Removes size-1 dims: all of them, or only `dim` (one or several) where its size is 1 (torch.squeeze). A view. */
export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  isTensor('squeeze', x);
  const dims = dim === undefined ? x.shape.map((_, i) => i) : intList('squeeze', 'dim', dim).map((d) => normAxis('squeeze', d, x.ndim));
  return reshape(
    x,
    x.shape.filter((d, i) => !(d === 1 && dims.includes(i))),
  );
}

/** Inserts a size-1 dim at `dim` (in [-ndim-1, ndim], torch.unsqueeze). A view. */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  isTensor('unsqueeze', x);
  const d = normAxis('unsqueeze', dim, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

/** Broadcasts to `shape`; -1 keeps that dim's size (Tensor.expand). Materialised (tensors are contiguous). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  isTensor('expand', x);
  const s = intList('expand', 'shape', shape, -1);
  if (s.length < x.ndim)
    throw new ArgumentError(
      'expand',
      'shape',
      `is ${fmtShape(s)} (${s.length} dims)`,
      `at least ${x.ndim} dims, the input's rank (shape ${fmtShape(x.shape)})`,
    );
  const lead = s.length - x.ndim;
  const target = s.map((d, i) => {
    if (d !== -1) return d;
    if (i < lead) throw new ArgumentError('expand', 'shape', `has -1 at new leading dim ${i} (${fmtShape(s)})`, 'explicit sizes for new dims');
    return x.shape[i - lead];
  });
  return broadcastTo(x, target);
}

// ---------------------------------------------------------------- slicing

interface SliceAttrs {
  start: number[];
  step: number[];
  shape: number[];
}

const sliceOp: Op<SliceAttrs> = defineOp({
  name: 'slice',
  inputs: { x: 'tensor' },
  shape: keepsDtype((_, a: SliceAttrs) => a.shape),
  forward: ({ x }, { start, step }, [y]) => stridedGather('slice', x, y, { start, step, stride: stridesOf(x.shape) }),
  split: ({ x }, a) => rowwise(x, a.start[0] === 0 && a.step[0] === 1 && a.shape[0] === x.shape[0], (rows) => ({ ...a, shape: [rows, ...a.shape.slice(1)] })),
  reference: ({ x }, a) => R.refSlice(x, a.start, a.step, a.shape),
  vjp: ({ dy, inputs: { x }, attrs: a }) => [sliceBackwardOp.call1([dy], { shape: [...x.shape], start: a.start, step: a.step })],
});

interface SliceBackwardAttrs {
  shape: number[];
  start: number[];
  step: number[];
}

const sliceBackwardOp: Op<SliceBackwardAttrs> = defineOp({
  name: 'sliceBackward',
  inputs: { dy: 'tensor' },
  shape: ({ dy }, { shape }: SliceBackwardAttrs) => ({ shape, dtype: dy.dtype }),
  // zeros around the slice: built with full, then the slice's region copied in
  produce({ dy }, { shape, start, step }) {
    const y = full(shape, 0, { dtype: dy.dtype, device: dy.device });
    if (dy.size === 0) return y;
    const st = stridesOf(shape);
    const k = copyRegionKernel({ shape: dy.shape, base: start.reduce((s, c, d) => s + c * st[d], 0), dstStride: st.map((s, d) => s * step[d]) });
    run('sliceBackward', dy, k, [dy.binding, y.binding], dy.size);
    return y;
  },
  reference: ({ dy }, a) => R.refSliceBackward(dy, a.shape, a.start, a.step),
  vjp: ({ dy, inputs: { dy: g }, attrs: a }) => [sliceOp.call1([dy], { start: a.start, step: a.step, shape: [...g.shape] })],
});

/** One dim of a Python slice: resolves negative/None bounds and clamps, as `x[start:end:step]`. */
function resolveSlice(fn: string, n: number, start: number | undefined, end: number | undefined, step: number): [number, number] {
  for (const [arg, v] of [
    ['start', start],
    ['end', end],
  ] as const) {
    if (v !== undefined && !Number.isInteger(v)) throw new ArgumentError(fn, arg, `is ${v}`, 'an integer or undefined');
  }
  if (!Number.isInteger(step) || step <= 0)
    throw new ArgumentError(fn, 'step', `is ${step}`, 'a positive integer (PyTorch slicing has no negative steps; use flip)');
  const clampIdx = (v: number | undefined, dflt: number) => (v === undefined ? dflt : Math.min(Math.max(v < 0 ? v + n : v, 0), n));
  const s = clampIdx(start, 0),
    e = clampIdx(end, n);
  return [s, Math.max(0, Math.ceil((e - s) / step))];
}

/** A slice spec for one dim: [start, end, step] with undefined for Python's omitted bounds. */
export type SliceSpec = readonly [start?: number, end?: number, step?: number] | null | undefined;

/**
 * Multi-dim slicing, `x[s0, s1, ...]` with Python slices: specs[d] = [start, end, step] (entries may
 * be undefined; null/undefined or a missing entry keeps the whole dim). Negative bounds count from
 * the end, out-of-range bounds clamp, step > 0. A copy.
 * Example: `sliceAxes(x, [null, [1, -1], [undefined, undefined, 2]])` is `x[:, 1:-1, ::2]`.
 */
export function sliceAxes(x: Tensor, specs: readonly SliceSpec[]): Tensor {
  isTensor('sliceAxes', x);
  if (specs.length > x.ndim)
    throw new ArgumentError('sliceAxes', 'specs', `has ${specs.length} entries`, `at most ${x.ndim}, the rank of the input (shape ${fmtShape(x.shape)})`);
  const start: number[] = [],
    step: number[] = [],
    shape: number[] = [];
  x.shape.forEach((n, d) => {
    const [s, e, k = 1] = specs[d] ?? [];
    const [s0, len] = resolveSlice('sliceAxes', n, s, e, k);
    start.push(s0);
    step.push(k);
    shape.push(len);
  });
  if (shape.every((n, d) => n === x.shape[d])) return x;
  return sliceOp.call1([x], { start, step, shape });
}
export { sliceAxes as index };

/** `x[..., start:end:step, ...]` along `dim` (Python slicing; step > 0). */
export function slice(x: Tensor, dim: number, start?: number, end?: number, step = 1): Tensor {
  isTensor('slice', x);
  const d = normAxis('slice', dim, x.ndim);
  const [s, len] = resolveSlice('slice', x.shape[d], start, end, step);
  if (len === x.shape[d] && step === 1) return x;
  const starts = x.shape.map(() => 0),
    steps = x.shape.map(() => 1),
    shape = [...x.shape];
  starts[d] = s;
  steps[d] = step;
  shape[d] = len;
  return sliceOp.call1([x], { start: starts, step: steps, shape });
}

/** `length` elements from `start` along `dim` (torch.narrow: start may be negative; no clamping). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  isTensor('narrow', x);
  const d = normAxis('narrow', dim, x.ndim);
  const n = x.shape[d];
  if (!Number.isInteger(start) || start < -n || start > n)
    throw new ArgumentError('narrow', 'start', `is ${start}`, `an integer in [${-n}, ${n}] for dim ${d} of size ${n}`);
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(length) || length < 0 || s + length > n)
    throw new ArgumentError('narrow', 'length', `is ${length}`, `an integer in [0, ${n - s}] (start ${s}, dim size ${n})`);
  return slice(x, d, s, s + length);
}

// ---------------------------------------------------------------- flip, roll, tile

const flipOp: Op<{ dims: number[] }> = defineOp({
  name: 'flip',
  inputs: { x: 'tensor' },
  shape: keepsDtype((x, _: { dims: number[] }) => x.shape),
  forward({ x }, { dims }, [y]) {
    stridedGather('flip', x, y, {
      start: x.shape.map((n, d) => (dims.includes(d) ? n - 1 : 0)),
      step: x.shape.map((_, d) => (dims.includes(d) ? -1 : 1)),
      stride: stridesOf(x.shape),
    });
  },
  reference: ({ x }, { dims }) => R.refFlip(x, dims),
  vjp: ({ dy, attrs }) => [flipOp.call1([dy], attrs)],
});

/** Reverses the order along each of `dims` (torch.flip). */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  isTensor('flip', x);
  const list = intList('flip', 'dims', dims).map((d) => normAxis('flip', d, x.ndim, 'dims'));
  if (new Set(list).size !== list.length) throw new ArgumentError('flip', 'dims', `repeats a dim (${JSON.stringify(dims)})`, 'each dim at most once');
  return flipOp.call1([x], { dims: list });
}

const rollOp: Op<{ shifts: number[]; dims: number[] }> = defineOp({
  name: 'roll',
  inputs: { x: 'tensor' },
  shape: keepsDtype((x, _: { shifts: number[]; dims: number[] }) => x.shape),
  forward({ x }, { shifts, dims }, [y]) {
    const start = x.shape.map(() => 0);
    dims.forEach((d, q) => {
      start[d] -= shifts[q];
    });
    stridedGather('roll', x, y, { start: start.map((s, d) => (x.shape[d] ? s % x.shape[d] : 0)), wrap: x.shape, stride: stridesOf(x.shape) });
  },
  reference: ({ x }, { shifts, dims }) => R.refRoll(x, shifts, dims),
  vjp: ({ dy, attrs: { shifts, dims } }) => [rollOp.call1([dy], { shifts: shifts.map((s) => -s), dims })],
});

/** Rolls elements along `dims` by `shifts` (wrapping around); with no dims, over the flattened tensor (torch.roll). */
export function roll(x: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
  isTensor('roll', x);
  const s = intList('roll', 'shifts', shifts);
  if (dims === undefined) {
    if (s.length !== 1) throw new ArgumentError('roll', 'shifts', `is ${JSON.stringify(shifts)}`, 'a single shift when dims is omitted');
    if (x.size === 0) return x;
    return internal(() => reshape(rollOp.call1([reshape(x, [x.size])], { shifts: s, dims: [0] }), x.shape));
  }
  const d = intList('roll', 'dims', dims).map((q) => normAxis('roll', q, x.ndim, 'dims'));
  if (d.length !== s.length) throw new ArgumentError('roll', 'shifts', `has ${s.length} entries`, `one per entry of dims (${d.length})`);
  return rollOp.call1([x], { shifts: s, dims: d });
}

const tileOp: Op<{ reps: number[] }> = defineOp({
  name: 'tile',
  inputs: { x: 'tensor' },
  shape: keepsDtype((x, { reps }: { reps: number[] }) => x.shape.map((n, d) => n * reps[d])),
  forward: ({ x }, _, [y]) => stridedGather('tile', x, y, { wrap: x.shape, stride: stridesOf(x.shape) }),
  reference: ({ x }, { reps }) => R.refTile(x, reps),
  vjp: ({ dy, inputs: { x }, attrs: { reps } }) => {
    const xs = x.shape;
    const split = reshape(
      dy,
      xs.flatMap((n, d) => [reps[d], n]),
    );
    return [reshape(sum(split, { dim: xs.map((_, d) => 2 * d) }), xs)];
  },
});

/** Repeats the tensor `reps[d]` times along each dim; a shorter `reps` is padded with leading 1s, a shorter rank with leading size-1 dims (torch.tile). */
export function tile(x: Tensor, reps: number | readonly number[]): Tensor {
  isTensor('tile', x);
  const r = intList('tile', 'reps', reps, 0);
  const rank = Math.max(r.length, x.ndim);
  const full = [...new Array(rank - r.length).fill(1), ...r];
  const xs = [...new Array(rank - x.ndim).fill(1), ...x.shape];
  if (full.every((k) => k === 1)) return xs.length === x.ndim ? x : reshape(x, xs);
  return internal(() => tileOp.call1([xs.length === x.ndim ? x : reshape(x, xs)], { reps: full }));
}

/** Tensor.repeat: like tile, but `repeats` must have at least as many entries as the input has dims. */
export function repeat(x: Tensor, repeats: readonly number[]): Tensor {
  isTensor('repeat', x);
  const r = intList('repeat', 'repeats', repeats, 0);
  if (r.length < x.ndim)
    throw new ArgumentError(
      'repeat',
      'repeats',
      `has ${r.length} entries (${JSON.stringify(repeats)})`,
      `at least ${x.ndim}, the input's rank (shape ${fmtShape(x.shape)})`,
    );
  return tile(x, r);
}

/**
 * torch.repeat_interleave with an integer count: each element repeated `repeats` times along `dim`
 * (over the flattened tensor when `dim` is omitted). Built from expand + reshape, so differentiable.
 * (Per-element counts given as a tensor are not supported: the output size would need a read-back.)
 */
export function repeatInterleave(x: Tensor, repeats: number, dim?: number): Tensor {
  isTensor('repeatInterleave', x);
  if (!Number.isInteger(repeats) || repeats < 0) throw new ArgumentError('repeatInterleave', 'repeats', `is ${repeats}`, 'a non-negative integer');
  if (dim === undefined) return repeatInterleave(reshape(x, [x.size]), repeats, 0);
  const d = normAxis('repeatInterleave', dim, x.ndim);
  if (x.ndim === 0) return repeatInterleave(reshape(x, [1]), repeats, 0);
  const shape = [...x.shape.slice(0, d + 1), repeats, ...x.shape.slice(d + 1)];
  const out = [...x.shape];
  out[d] *= repeats;
  return internal(() => reshape(broadcastTo(unsqueeze(x, d + 1), shape), out));
}

// ---------------------------------------------------------------- concat, stack, split, chunk

const concatOp: Op<{ dim: number }> = defineOp({
  name: 'concat',
  inputs: { xs: 'tensor[]' },
  dtypes: ALL_DTYPES,
  shape: ({ xs }, { dim }: { dim: number }) => {
    const shape = [...xs[0].shape];
    shape[dim] = xs.reduce((s, t) => s + t.shape[dim], 0);
    return { shape, dtype: xs[0].dtype };
  },
  forward({ xs }, { dim }, [y]) {
    const st = stridesOf(y.shape);
    let offset = 0;
    for (const t of xs) {
      if (t.size > 0)
        run(
          'concat',
          t,
          copyRegionKernel({ shape: t.shape, base: offset * st[dim], dstStride: st }, t.dtype === 'float16' ? 'f16' : 'u32'),
          [t.binding, y.binding],
          t.size,
        );
      offset += t.shape[dim];
    }
  },
  // along another dim than 0, each input's rows go to the same output rows
  split: ({ xs }, { dim }) => (dim !== 0 ? { kind: 'batch', batched: ['xs'] } : null),
  reference: ({ xs }, { dim }) => R.refConcat([...xs], dim),
  vjp: ({ dy, inputs: { xs }, attrs: { dim } }) => {
    let offset = 0;
    return xs.map((t) => {
      const n = t.shape[dim];
      offset += n;
      return slice(dy, dim, offset - n, offset);
    });
  },
});

function checkList(fn: string, tensors: readonly Tensor[]): void {
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new ArgumentError(fn, 'tensors', `is ${Array.isArray(tensors) ? 'an empty array' : typeof tensors}`, 'a non-empty array of Tensors');
  checkOperands(
    fn,
    tensors,
    tensors.map((_, i) => `tensors[${i}]`),
    fn === 'concat' ? ALL_DTYPES : DTYPES,
  );
  tensors.forEach((t, i) => {
    if (t.dtype !== tensors[0].dtype)
      throw new ArgumentError(fn, `tensors[${i}]`, `has dtype ${t.dtype}`, `${tensors[0].dtype}, the dtype of tensors[0] (cast first)`);
  });
}

/**
 * Joins tensors along an existing dim (torch.cat). All shapes must match except along `dim`.
 *
 * @example
 * ```ts
 * import { init, ones, zeros, cat } from '@webgrad/core/node';
 * await init();
 * console.log(cat([ones([2, 3]), zeros([1, 3])], 0).shape); // [3, 3]
 * ```
 */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList('concat', tensors);
  const first = tensors[0];
  const d = normAxis('concat', dim, first.ndim);
  if (first.ndim === 0) throw new ArgumentError('concat', 'tensors[0]', 'is 0-d', 'tensors with at least one dim (use stack)');
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((n, k) => k !== d && n !== first.shape[k])) {
      const want = first.shape.map((n, k) => (k === d ? '*' : String(n)));
      throw new ArgumentError(
        'concat',
        `tensors[${i}]`,
        `has shape ${fmtShape(t.shape)}`,
        `shape [${want.join(', ')}] (that of tensors[0], ${fmtShape(first.shape)}, except along dim ${d})`,
      );
    }
  });
  if (tensors.length === 1) return first;
  return concatOp.call1(tensors, { dim: d });
}
export { concat as cat };

const stackOp = defineComposite({
  name: 'stack',
  inputs: { xs: 'tensor[]' },
  shape: ({ xs }, { dim }: { dim: number }) => {
    const d = dim < 0 ? dim + xs[0].shape.length + 1 : dim;
    const shape = [...xs[0].shape];
    shape.splice(d, 0, xs.length);
    return { shape, dtype: xs[0].dtype };
  },
  impl: ({ xs }, { dim }) => stack(xs, dim),
  reference: ({ xs: rs }, { dim }) => {
    const d = dim < 0 ? dim + rs[0].shape.length + 1 : dim;
    const shape = [...rs[0].shape];
    shape.splice(d, 0, rs.length);
    return R.build(shape, rs[0].dtype, (o) => {
      const i = o.slice();
      const [k] = i.splice(d, 1);
      return R.at(rs[k], i);
    });
  },
});
void stackOp;

/** Joins tensors of equal shape along a new dim (torch.stack). */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList('stack', tensors);
  const first = tensors[0];
  const d = normAxis('stack', dim, first.ndim + 1);
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((n, k) => n !== first.shape[k]))
      throw new ArgumentError('stack', `tensors[${i}]`, `has shape ${fmtShape(t.shape)}`, `${fmtShape(first.shape)}, the shape of tensors[0]`);
  });
  return internal(() => {
    const parts = tensors.map((t) => unsqueeze(t, d));
    return parts.length === 1 ? parts[0] : concatOp.call1(parts, { dim: d });
  });
}

const splitSizes = (fn: string, n: number, sizeOrSections: number | readonly number[]): number[] => {
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0)
      throw new ArgumentError(fn, 'splitSizeOrSections', `is ${sizeOrSections}`, 'a positive integer or an array of sizes');
    if (n === 0) return [0];
    return Array.from({ length: Math.ceil(n / sizeOrSections) }, (_, i) => Math.min(sizeOrSections, n - i * sizeOrSections));
  }
  const list = intList(fn, 'splitSizeOrSections', sizeOrSections, 0);
  const total = list.reduce((a, b) => a + b, 0);
  if (total !== n)
    throw new ArgumentError(fn, 'splitSizeOrSections', `sums to ${total} (${JSON.stringify(list)})`, `sizes summing to ${n}, the size of the split dim`);
  return list;
};

function splitBy(x: Tensor, sizes: readonly number[], d: number): Tensor[] {
  let offset = 0;
  return sizes.map((k) => {
    offset += k;
    return slice(x, d, offset - k, offset);
  });
}

const splitOp = defineComposite({
  name: 'split',
  inputs: { x: 'tensor' },
  shape: ({ x }, { sizes, dim }: { sizes: number[]; dim: number }) =>
    sizes.map((k) => {
      const shape = [...x.shape];
      shape[dim] = k;
      return { shape, dtype: x.dtype };
    }),
  impl: ({ x }, { sizes, dim }) => split(x, sizes, dim),
  reference: ({ x: r }, { sizes, dim }) => {
    let offset = 0;
    return sizes.map((k) => {
      const o0 = offset;
      offset += k;
      const shape = [...r.shape];
      shape[dim] = k;
      return R.build(shape, r.dtype, (o) => {
        const i = o.slice();
        i[dim] += o0;
        return R.at(r, i);
      });
    });
  },
});
void splitOp;

/** Splits along `dim` into pieces of `splitSizeOrSections` (the last may be smaller) or of the listed sizes (torch.split). */
export function split(x: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  isTensor('split', x);
  const d = normAxis('split', dim, x.ndim);
  return splitBy(x, splitSizes('split', x.shape[d], splitSizeOrSections), d);
}

/** Splits into `chunks` pieces of ceil(n / chunks) along `dim` (torch.chunk: may return fewer pieces). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  isTensor('chunk', x);
  if (!Number.isInteger(chunks) || chunks <= 0) throw new ArgumentError('chunk', 'chunks', `is ${chunks}`, 'a positive integer');
  const d = normAxis('chunk', dim, x.ndim);
  const n = x.shape[d];
  return splitBy(x, splitSizes('chunk', n, Math.max(1, Math.ceil(n / chunks))), d);
}

// ---------------------------------------------------------------- pad

interface PadAttrs {
  before: number[];
  after: number[];
  mode: PadMode;
  value: number;
}

export const padOp: Op<PadAttrs> = defineOp({
  name: 'pad',
  inputs: { x: 'tensor' },
  shape: keepsDtype((x, { before, after }: PadAttrs) => x.shape.map((n, d) => n + before[d] + after[d])),
  forward: ({ x }, { before, mode, value }, [y]) =>
    run('pad', x, padKernel(mode, word(x.dtype), { outShape: y.shape, inShape: x.shape, lo: before, value }), [x.binding, y.binding], y.size),
  split: ({ x }, a) => rowwise(x, a.before[0] === 0 && a.after[0] === 0),
  reference: ({ x }, a) => R.refPad(x, a.before, a.after, a.mode, a.value),
  vjp: ({ dy, inputs: { x }, attrs: a }) => [padBackwardOp.call1([dy], { inShape: [...x.shape], before: a.before, mode: a.mode })],
});

interface PadBackwardAttrs {
  inShape: number[];
  before: number[];
  mode: PadMode;
}

const padBackwardOp: Op<PadBackwardAttrs> = defineOp({
  name: 'padBackward',
  inputs: { dy: 'tensor' },
  shape: ({ dy }, { inShape }: PadBackwardAttrs) => ({ shape: inShape, dtype: dy.dtype }),
  forward({ dy }, { inShape, before, mode }, [y]) {
    // nothing to gather from: the gradient is zero (a fill into the output)
    if (dy.size === 0) return fillInto(y);
    run('padBackward', dy, padBackwardKernel(mode, word(dy.dtype), { outShape: dy.shape, inShape, lo: before }), [dy.binding, y.binding], y.size);
  },
  split: ({ dy }, a) =>
    a.before[0] === 0 && a.inShape[0] === dy.shape[0] && dy.ndim >= 2
      ? { kind: 'batch', batched: ['dy'], attrs: (rows) => ({ ...a, inShape: [rows, ...a.inShape.slice(1)] }) }
      : null,
  reference: ({ dy }, a) => R.refPadBackward(dy, a.inShape, a.before, a.mode),
  vjp: ({ dy, inputs: { dy: g }, attrs: a }) => {
    const out = g.shape;
    return [padOp.call1([dy], { before: a.before, after: out.map((m, d) => m - a.inShape[d] - a.before[d]), mode: a.mode, value: 0 })];
  },
});

export interface PadOptions {
  mode?: PadMode;
  value?: number;
}

/**
 * torch.nn.functional.pad. `pads` lists (before, after) pairs starting from the LAST dim:
 * [left, right, top, bottom, front, back, ...]. constant mode fills `value` (default 0) and accepts
 * negative pads, which crop. reflect mirrors without repeating the edge and needs each pad < that
 * dim's size; replicate repeats the edge and needs a non-empty dim. reflect/replicate pads must be ≥ 0.
 */
export function pad(x: Tensor, pads: readonly number[], { mode = 'constant', value = 0 }: PadOptions = {}): Tensor {
  isTensor('pad', x);
  const p = intList('pad', 'pads', pads);
  if (p.length % 2 !== 0 || p.length / 2 > x.ndim)
    throw new ArgumentError(
      'pad',
      'pads',
      `has ${p.length} entries (${JSON.stringify(pads)})`,
      `an even number of entries, at most ${2 * x.ndim} (two per dim of the input of shape ${fmtShape(x.shape)})`,
    );
  if (!['constant', 'reflect', 'replicate'].includes(mode))
    throw new ArgumentError('pad', 'mode', `is ${JSON.stringify(mode)}`, "'constant', 'reflect' or 'replicate'");
  if (typeof value !== 'number') throw new ArgumentError('pad', 'value', `is ${typeof value}`, 'a number');
  const before = x.shape.map(() => 0),
    after = x.shape.map(() => 0);
  for (let k = 0; k < p.length / 2; k++) {
    const d = x.ndim - 1 - k;
    before[d] = p[2 * k];
    after[d] = p[2 * k + 1];
    const n = x.shape[d];
    if (n + before[d] + after[d] < 0) throw new ArgumentError('pad', 'pads', `crop dim ${d} (size ${n}) by ${-(before[d] + after[d])}`, 'a resulting size ≥ 0');
    if (mode !== 'constant') {
      if (before[d] < 0 || after[d] < 0)
        throw new ArgumentError('pad', 'pads', `has negative entries ${JSON.stringify(pads)} in ${mode} mode`, 'non-negative pads (only constant mode crops)');
      if (mode === 'reflect' && (before[d] >= n || after[d] >= n))
        throw new ArgumentError(
          'pad',
          'pads',
          `of (${before[d]}, ${after[d]}) on dim ${d} of size ${n} are too large for reflect mode`,
          `pads < ${n}, the size of dim ${d} (input shape ${fmtShape(x.shape)})`,
        );
      if (mode === 'replicate' && n === 0 && before[d] + after[d] > 0)
        throw new ArgumentError('pad', 'input', `is empty along dim ${d} (shape ${fmtShape(x.shape)})`, 'a non-empty dim to replicate');
    }
  }
  if (before.every((b, d) => b === 0 && after[d] === 0)) return x;
  const v = x.dtype === 'float32' ? value : x.dtype === 'bool' ? (value ? 1 : 0) : Math.trunc(value);
  return padOp.call1([x], { before, after, mode, value: v });
}
