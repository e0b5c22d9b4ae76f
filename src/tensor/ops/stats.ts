/**
 * Statistics built from the reductions: mean, variance (torch.var), std, logsumexp, all, any.
 * Composites (taped through public ops), each with an independent float64 reference.
 */
import type { DType } from '../../base/dtype';
import { normAxes, ArgumentError } from '../../base/shape';
import { reduceArgs } from '../../base/options';
import { Tensor } from '../tensor';
import { defineComposite, detached, type OutputMeta, type RefTensor, type TensorMeta } from './define';
import { sum, max, reducedShape, type ReduceOptions, type DimArg } from './reduce';
import { sub, div, exp, log, sqrt, square, where, eq, abs, add, ne, logicalNot, logicalOr, isnan } from './elementwise';
import { reshape } from './shape-ops';

interface Axes {
  axes: number[];
  keepdim: boolean;
}
interface VarAttrs extends Axes {
  correction: number;
}

const axesOf = (fn: string, x: Tensor, o: ReduceOptions): Axes => {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  return { axes: normAxes(fn, o.dim, x.ndim), keepdim: o.keepdim ?? false };
};
const floatOnly = (fn: string, x: Tensor) => {
  if (x.dtype !== 'float32')
    throw new ArgumentError(fn, 'input', `has dtype ${x.dtype}`, 'float32 (cast integer tensors first, as torch requires a floating dtype)');
};
const count = (shape: readonly number[], axes: readonly number[]) => axes.reduce((n, a) => n * shape[a], 1);

// ---- float64 references: explicit loops over (kept index, reduced index) ----------------------

/** Groups x's values by output cell: groups[o] lists the reduced elements feeding output o (row-major order). */
function groups(x: RefTensor, axes: readonly number[]): number[][] {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const nOut = kept.reduce((n, i) => n * x.shape[i], 1);
  const out: number[][] = Array.from({ length: nOut }, () => []);
  const idx = new Array<number>(x.shape.length).fill(0);
  for (let k = 0; k < x.data.length; k++) {
    let o = 0;
    for (const i of kept) o = o * x.shape[i] + idx[i];
    out[o].push(x.data[k]);
    for (let d = x.shape.length - 1; d >= 0; d--) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}
function refStat(x: RefTensor, a: Axes, f: (vs: number[]) => number, dtype: DType = 'float32'): RefTensor {
  return { shape: reducedShape(x.shape, a.axes, a.keepdim), dtype, data: Float64Array.from(groups(x, a.axes), f) };
}
const meanOf = (vs: number[]) => vs.reduce((s, v) => s + v, 0) / vs.length;
const varOf = (vs: number[], correction: number) => {
  const m = meanOf(vs);
  return vs.reduce((s, v) => s + (v - m) * (v - m), 0) / Math.max(0, vs.length - correction);
};
const lseOf = (vs: number[]) => {
  const m = Math.max(...vs);
  if (!Number.isFinite(m)) return vs.length === 0 ? -Infinity : m === Infinity ? Infinity : Math.log(vs.reduce((s, v) => s + Math.exp(v), 0));
  return m + Math.log(vs.reduce((s, v) => s + Math.exp(v - m), 0));
};

// ---- composites -------------------------------------------------------------------------------

/** A statistic's rule: the reduced shape, float32 (bool for all/any). */
const stat =
  <A extends Axes>(dtype: DType = 'float32') =>
  ({ x }: { x: TensorMeta }, a: A): OutputMeta => ({ shape: reducedShape(x.shape, a.axes, a.keepdim), dtype });

const meanOp = defineComposite({
  name: 'mean',
  inputs: { x: 'tensor' },
  shape: stat<Axes>(),
  impl: ({ x }, a) => div(sum(x, { dim: a.axes, keepdim: a.keepdim }), count(x.shape, a.axes)),
  reference: ({ x }, a) => refStat(x, a, meanOf),
});

const varianceOp = defineComposite({
  name: 'variance',
  inputs: { x: 'tensor' },
  shape: stat<VarAttrs>(),
  impl: ({ x }, a) => {
    const n = count(x.shape, a.axes);
    const m = div(sum(x, { dim: a.axes, keepdim: true }), n);
    return div(sum(square(sub(x, m)), { dim: a.axes, keepdim: a.keepdim }), Math.max(0, n - a.correction));
  },
  reference: ({ x }, a) => refStat(x, a, (vs) => varOf(vs, a.correction)),
});

const stdOp = defineComposite({
  name: 'std',
  inputs: { x: 'tensor' },
  shape: stat<VarAttrs>(),
  impl: ({ x }, a) => sqrt(varianceOp.call1([x], a)),
  reference: ({ x }, a) => refStat(x, a, (vs) => Math.sqrt(varOf(vs, a.correction))),
});

/** max over axes (keepdim), with ±inf replaced by 0 so x − m stays finite; no gradient flows through it. */
export function stableShift(x: Tensor, axes: readonly number[]): Tensor {
  const m = detached(max(x, { dim: axes, keepdim: true }));
  return where(eq(abs(m), Infinity), 0, m);
}

const logsumexpOp = defineComposite({
  name: 'logsumexp',
  inputs: { x: 'tensor' },
  shape: stat<Axes>(),
  impl: ({ x: t }, a) => {
    if (t.size === 0) return log(sum(exp(t), { dim: a.axes, keepdim: a.keepdim }));
    const m = stableShift(t, a.axes);
    const s = log(sum(exp(sub(t, m)), { dim: a.axes, keepdim: true }));
    const y = add(s, m);
    return a.keepdim ? y : reshape(y, reducedShape(t.shape, a.axes, false));
  },
  reference: ({ x }, a) => refStat(x, a, lseOf),
});

// NaN is truthy (as in PyTorch); the explicit isnan keeps it so under compilers that assume no NaNs
const truthy = (x: Tensor) => (x.dtype === 'bool' ? x : x.dtype === 'float32' ? logicalOr(ne(x, 0), isnan(x)) : ne(x, 0));
const allOp = defineComposite({
  name: 'all',
  inputs: { x: 'tensor' },
  shape: stat<Axes>('bool'),
  impl: ({ x }, a) => eq(sum(logicalNot(truthy(x)), { dim: a.axes, keepdim: a.keepdim }), 0),
  reference: ({ x }, a) => refStat(x, a, (vs) => (vs.every((v) => v !== 0) ? 1 : 0), 'bool'),
  noGrad: 'boolean output',
});
const anyOp = defineComposite({
  name: 'any',
  inputs: { x: 'tensor' },
  shape: stat<Axes>('bool'),
  impl: ({ x }, a) => ne(sum(truthy(x), { dim: a.axes, keepdim: a.keepdim }), 0),
  reference: ({ x }, a) => refStat(x, a, (vs) => (vs.some((v) => v !== 0) ? 1 : 0), 'bool'),
  noGrad: 'boolean output',
});

export interface VarOptions extends ReduceOptions {
  /** Bessel's correction: divide by N − correction (1 = unbiased, the default, as torch.var; 0 = population). */
  correction?: number;
}
const varAttrs = (fn: string, x: Tensor, d: unknown, third: unknown): VarAttrs => {
  const o = reduceArgs<VarOptions>(fn, d, third, ['dim', 'keepdim', 'correction'], false);
  const a = axesOf(fn, x, o);
  floatOnly(fn, x);
  const correction = o.correction ?? 1;
  if (typeof correction !== 'number' || !Number.isFinite(correction) || correction < 0)
    throw new ArgumentError(fn, 'correction', `is ${correction}`, 'a finite non-negative number');
  return { ...a, correction };
};
const opts = (fn: string, d: unknown, k: unknown) => reduceArgs<ReduceOptions>(fn, d, k, ['dim', 'keepdim']);

/**
 * Mean over `dim` (all dims by default), as torch.mean. Needs a float tensor. `mean(x, dim, keepdim?)` or `mean(x, { dim, keepdim })`.
 *
 * @example
 * ```ts
 * import { init, tensor, mean, variance } from '@webgrad/core/node';
 * await init();
 * const x = tensor([[1, 2], [3, 6]]);
 * console.log(await mean(x, 1).data()); // Float32Array [1.5, 4.5]
 * console.log(await variance(x).item()); // unbiased, as torch.var: 4.667
 * ```
 */
export function mean(x: Tensor, dim?: DimArg, keepdim?: boolean): Tensor {
  const a = axesOf('mean', x, opts('mean', dim, keepdim));
  floatOnly('mean', x);
  return meanOp.call1([x], a);
}
/**
 * Variance over `dim`: torch.var (named `variance` because `var` is reserved in JavaScript).
 * Divides by max(0, N − correction): NaN or Inf when N ≤ correction, as PyTorch.
 * `variance(x, dim, { correction, keepdim })` or `variance(x, { dim, correction, keepdim })`; a boolean third
 * argument is refused (torch's old overload reads it as `unbiased`, the newer one as `keepdim`).
 */
export const variance = (x: Tensor, dim?: number | readonly number[] | VarOptions, o?: Omit<VarOptions, 'dim'>) =>
  varianceOp.call1([x], varAttrs('variance', x, dim, o));
/** Standard deviation: sqrt(variance), as torch.std (its gradient is infinite where the variance is 0). */
export const std = (x: Tensor, dim?: number | readonly number[] | VarOptions, o?: Omit<VarOptions, 'dim'>) => stdOp.call1([x], varAttrs('std', x, dim, o));
/** log(sum(exp(x))) over `dim`, computed stably (shifted by the max); its gradient is softmax(x). */
export function logsumexp(x: Tensor, dim?: DimArg, keepdim?: boolean): Tensor {
  const a = axesOf('logsumexp', x, opts('logsumexp', dim, keepdim));
  floatOnly('logsumexp', x);
  return logsumexpOp.call1([x], a);
}
/** True where every element along `dim` is nonzero (any dtype; NaN counts as nonzero). Empty → true. */
export const all = (x: Tensor, dim?: DimArg, keepdim?: boolean) => allOp.call1([x], axesOf('all', x, opts('all', dim, keepdim)));
/** True where some element along `dim` is nonzero. Empty → false. */
export const any = (x: Tensor, dim?: DimArg, keepdim?: boolean) => anyOp.call1([x], axesOf('any', x, opts('any', dim, keepdim)));
