/** Reductions over any axes with keepdim: sum, prod, max, min, argmax, argmin. */
import { reducePlan, type ReduceKind } from '../../kernels/wgsl/reduce';
import type { DType } from '../../base/dtype';
import { normAxes, ArgumentError, fmtShape } from '../../base/shape';
import { reduceArgs } from '../../base/options';
import { Tensor, empty } from '../tensor';
import { defineOp, internal, type OutputMeta, type RefTensor, type TensorMeta } from './define';
import type { SplitPlan } from './split';

/**
 * A reduction that keeps dim 0 works row by row ('batch'); one over dim 0 splits only when its chunks' results
 * add up ('batch-sum', for sum); a 1-d input cannot split.
 */
const reduceSplit =
  (summable: boolean) =>
  ({ x }: { x: TensorMeta }, a: ReduceAttrs): SplitPlan<ReduceAttrs> | null => {
    if (!a.axes.includes(0)) return { kind: 'batch', batched: ['x'] };
    return summable ? { kind: 'batch-sum', batched: ['x'] } : null;
  };
import { mul, div, eq } from './elementwise';
import { reshape, broadcastTo } from './shape-ops';

export interface ReduceOptions {
  dim?: number | readonly number[];
  keepdim?: boolean;
}
interface ReduceAttrs {
  axes: number[];
  keepdim: boolean;
}

/** Output shape of reducing `shape` over `axes`. */
export const reducedShape = (shape: readonly number[], axes: readonly number[], keepdim: boolean) =>
  keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));

function runReduce(kind: ReduceKind, x: Tensor, { axes }: ReduceAttrs, y: Tensor): void {
  const isArg = kind === 'argmax' || kind === 'argmin';
  if (x.size === 0 && (kind === 'max' || kind === 'min' || isArg)) {
    throw new ArgumentError(kind, 'input', `is empty along the reduced dims (shape ${fmtShape(x.shape)})`, 'a non-empty reduction (it has no identity)');
  }
  const plan = reducePlan(kind, x.dtype === 'bool' ? 'uint32' : x.dtype, x.shape, axes);
  const [first, second] = plan.stages;
  if (!second) {
    x.device.run(kind, first.key, first.source, [x.binding, y.binding], first.workgroups, { layout: first.layout, values: first.values });
    return;
  }
  // two passes: partial results (and their indices for argmax/argmin) in pooled scratch buffers
  const pv = empty([plan.partials], x.dtype === 'bool' ? 'uint32' : x.dtype, x.device);
  const pi = isArg ? empty([plan.partials], 'int32', x.device) : null;
  x.device.run(kind, first.key, first.source, [x.binding, pv.binding, ...(pi ? [pi.binding] : [])], first.workgroups, {
    layout: first.layout,
    values: first.values,
  });
  x.device.run(kind, second.key, second.source, [pv.binding, ...(pi ? [pi.binding] : []), y.binding], second.workgroups, {
    layout: second.layout,
    values: second.values,
  });
  // queued work runs in order, so the pool may hand these buffers out again right away
  pv.dispose();
  pi?.dispose();
}

/** Float64 reference: walks every input element and folds it into its output cell. */
export function refReduce(
  x: RefTensor,
  axes: readonly number[],
  keepdim: boolean,
  init: number,
  fold: (acc: number, v: number, idx: number, accIdx: number) => [number, number],
  arg: boolean,
  dtype: DType,
): RefTensor {
  const shape = reducedShape(x.shape, axes, keepdim);
  const n = shape.reduce((a, b) => a * b, 1);
  const acc = new Float64Array(n).fill(init);
  const accIdx = new Float64Array(n).fill(-1);
  const counters = new Float64Array(n);
  const idx = new Array<number>(x.shape.length).fill(0);
  for (let k = 0; k < x.data.length; k++) {
    let o = 0;
    x.shape.forEach((d, i) => {
      if (!axes.includes(i)) o = o * d + idx[i];
    });
    const local = counters[o]++;
    [acc[o], accIdx[o]] = fold(acc[o], x.data[k], local, accIdx[o]);
    for (let d = x.shape.length - 1; d >= 0; d--) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape, dtype, data: arg ? accIdx : acc };
}

const attrs = (fn: string, x: Tensor, o: ReduceOptions): ReduceAttrs => {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  return { axes: normAxes(fn, o.dim, x.ndim), keepdim: o.keepdim ?? false };
};

/** dy reshaped to keepdim form and broadcast back over the input's shape. */
export const expandBack = (dy: Tensor, x: Tensor, a: ReduceAttrs) => broadcastTo(reshape(dy, reducedShape(x.shape, a.axes, true)), x.shape);

const sumDtype = (d: DType): DType => (d === 'bool' || d === 'uint32' ? (d === 'bool' ? 'int32' : 'uint32') : d);

/** A reduction's rule: the reduced shape, with `dtype` of the input's dtype. */
const reduced =
  (dtype: (d: DType) => DType) =>
  ({ x }: { x: TensorMeta }, a: ReduceAttrs): OutputMeta => ({ shape: reducedShape(x.shape, a.axes, a.keepdim), dtype: dtype(x.dtype) });

const sumOp = defineOp({
  name: 'sum',
  inputs: { x: 'tensor' },
  shape: reduced(sumDtype),
  forward: ({ x }, a, [y]) => runReduce('sum', x, a, y),
  split: reduceSplit(true),
  reference: ({ x }, a) => refReduce(x, a.axes, a.keepdim, 0, (s, v) => [s + v, 0], false, sumDtype(x.dtype)),
  vjp: ({ dy, inputs: { x }, attrs: a }) => [expandBack(dy, x, a)],
});
const prodOp = defineOp({
  name: 'prod',
  inputs: { x: 'tensor' },
  shape: reduced(sumDtype),
  forward: ({ x }, a, [y]) => runReduce('prod', x, a, y),
  split: reduceSplit(false),
  reference: ({ x }, a) => refReduce(x, a.axes, a.keepdim, 1, (s, v) => [s * v, 0], false, sumDtype(x.dtype)),
  // d prod / d x_i = prod / x_i (inputs with zeros give NaN/Inf here; PyTorch special-cases them)
  vjp: ({ dy, inputs: { x }, outputs: [y], attrs: a }) => [div(expandBack(mul(dy, y), x, a), x)],
});

const extremum = (name: 'max' | 'min') =>
  defineOp({
    name: name === 'max' ? 'amax' : 'amin',
    inputs: { x: 'tensor' },
    shape: reduced((d) => d),
    forward: ({ x }, a, [y]) => runReduce(name, x, a, y),
    split: reduceSplit(false),
    reference: ({ x }, a) =>
      refReduce(
        x,
        a.axes,
        a.keepdim,
        name === 'max' ? -Infinity : Infinity,
        (s, v) => [Number.isNaN(s) || Number.isNaN(v) ? NaN : name === 'max' ? Math.max(s, v) : Math.min(s, v), 0],
        false,
        x.dtype,
      ),
    // the gradient is shared evenly among tied extremes (PyTorch's amax/amin rule)
    vjp: ({ dy, inputs: { x }, outputs: [y], attrs: a }) => {
      const mask = eq(x, expandBack(y, x, a));
      const count = sumOp.call1([mask], { axes: a.axes, keepdim: true });
      return [div(mul(expandBack(dy, x, a), mask), count)];
    },
  });
const amaxOp = extremum('max');
const aminOp = extremum('min');

const argOp = (name: 'argmax' | 'argmin') =>
  defineOp({
    name,
    inputs: { x: 'tensor' },
    shape: reduced(() => 'int32'),
    forward: ({ x }, a, [y]) => runReduce(name, x, a, y),
    split: reduceSplit(false),
    reference: ({ x }, a) =>
      refReduce(
        x,
        a.axes,
        a.keepdim,
        name === 'argmax' ? -Infinity : Infinity,
        (s, v, i, si) => {
          if (Number.isNaN(s)) return [s, si];
          if (Number.isNaN(v) || (name === 'argmax' ? v > s : v < s) || si < 0) return [v, i];
          return [s, si];
        },
        true,
        'int32',
      ),
    noGrad: 'integer output',
  });
const argmaxOp = argOp('argmax');
const argminOp = argOp('argmin');

/** `f(x, dim?, keepdim?)` (PyTorch's positional form) or `f(x, { dim, keepdim })`. */
export type DimArg = number | readonly number[] | ReduceOptions;
const REDUCE_KEYS = ['dim', 'keepdim'] as const;
const opts = (fn: string, d: unknown, k: unknown) => reduceArgs<ReduceOptions>(fn, d, k, REDUCE_KEYS);

/**
 * Sum over `dim` (all dimensions by default), keeping reduced dimensions as size 1 when `keepdim` (torch.sum).
 *
 * @example
 * ```ts
 * import { init, tensor, sum } from '@webgrad/core/node';
 * await init();
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(await sum(x).item()); // 21
 * console.log(await sum(x, 1).data()); // Float32Array [6, 15]
 * console.log(sum(x, { dim: 0, keepdim: true }).shape); // [1, 3]
 * ```
 */
export const sum = (x: Tensor, dim?: DimArg, keepdim?: boolean) => sumOp.call1([x], attrs('sum', x, opts('sum', dim, keepdim)));
/** Product over `dim` (all dimensions by default) (torch.prod). */
export const prod = (x: Tensor, dim?: DimArg, keepdim?: boolean) => prodOp.call1([x], attrs('prod', x, opts('prod', dim, keepdim)));
/** Maximum over `dim` (all dims by default); like torch.amax. */
export const max = (x: Tensor, dim?: DimArg, keepdim?: boolean) => amaxOp.call1([x], attrs('max', x, opts('max', dim, keepdim)));
/** Minimum over `dim` (all dimensions by default); like torch.amin. */
export const min = (x: Tensor, dim?: DimArg, keepdim?: boolean) => aminOp.call1([x], attrs('min', x, opts('min', dim, keepdim)));

function argOptions(fn: string, x: Tensor, d: unknown, k: unknown): ReduceOptions {
  const o = opts(fn, d, k);
  if (o.dim !== undefined && typeof o.dim !== 'number')
    throw new ArgumentError(fn, 'dim', `is ${JSON.stringify(o.dim)}`, 'a single integer (or omitted: the flattened tensor)');
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  return o;
}
/** Index of the first maximum along one `dim` (over the flattened tensor when `dim` is omitted). */
export function argmax(x: Tensor, dim?: number | { dim?: number; keepdim?: boolean }, keepdim?: boolean): Tensor {
  const o = argOptions('argmax', x, dim, keepdim);
  return o.dim === undefined
    ? internal(() => argmaxOp.call1([reshape(x, [x.size])], { axes: [0], keepdim: false }))
    : argmaxOp.call1([x], attrs('argmax', x, o));
}
/** Index of the first minimum along one `dim` (over the flattened tensor when `dim` is omitted) (torch.argmin). */
export function argmin(x: Tensor, dim?: number | { dim?: number; keepdim?: boolean }, keepdim?: boolean): Tensor {
  const o = argOptions('argmin', x, dim, keepdim);
  return o.dim === undefined
    ? internal(() => argminOp.call1([reshape(x, [x.size])], { axes: [0], keepdim: false }))
    : argminOp.call1([x], attrs('argmin', x, o));
}
