/**
 * Loss functions with PyTorch's semantics and defaults (torch.nn.functional): binaryCrossEntropy,
 * binaryCrossEntropyWithLogits, crossEntropy, nllLoss, mseLoss, l1Loss, smoothL1Loss.
 * All are composites of public ops (so they are differentiable through the tape), each registered
 * with an independent float64 reference for the registry tests.
 *
 * Class-index targets are matched against the classes with `eq(arange(C), target)` (a one-hot mask)
 * instead of a gather. A target outside [0, C) therefore matches no class: it contributes 0 to the
 * loss and 0 to the weight sum of a 'mean' reduction, i.e. it behaves like `ignoreIndex`.
 * (PyTorch raises a device-side assert instead; a GPU kernel cannot throw.)
 */
import { ArgumentError, fmtShape, sameShape, broadcastShapes } from '../../base/shape';
import { Tensor } from '../tensor';
import { defineComposite, checkOperands, detached, type OutputMeta, type RefTensor, type TensorMeta } from './define';
import { sum } from './reduce';
import { mean } from './stats';
import { logSoftmax, refLogSoftmaxAlong } from './softmax';
import { add, sub, mul, div, neg, log, clamp, softplus, abs, square, where, lt, ge, eq, ne, cast } from './elementwise';
import { arange } from './creation';
import { reshape } from './shape-ops';
import { requireTensor } from '../require-tensor';

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

function reduce(l: Tensor, reduction: Reduction): Tensor {
  return reduction === 'none' ? l : reduction === 'sum' ? sum(l) : mean(l);
}
/** A loss's rule: the input's shape for 'none', else a scalar (float32). */
const lossShape = (shape: readonly number[], reduction: Reduction): OutputMeta => ({ shape: reduction === 'none' ? shape : [], dtype: 'float32' });

function refReduce(shape: number[], vals: Float64Array, reduction: Reduction): RefTensor {
  if (reduction === 'none') return { shape, dtype: 'float32', data: vals };
  const s = vals.reduce((a, b) => a + b, 0);
  return { shape: [], dtype: 'float32', data: Float64Array.of(reduction === 'sum' ? s : s / vals.length) };
}

// ---- argument checks ---------------------------------------------------------------------------

function checkReduction(fn: string, r: unknown): Reduction {
  if (!REDUCTIONS.includes(r as Reduction)) throw new ArgumentError(fn, 'reduction', `is ${JSON.stringify(r)}`, "'mean', 'sum' or 'none'");
  return r as Reduction;
}
function checkFloat(fn: string, arg: string, x: unknown): Tensor {
  requireTensor(fn, arg, x);
  if (x.dtype !== 'float32') throw new ArgumentError(fn, arg, `has dtype ${x.dtype}`, 'float32');
  return x;
}
function checkSame(fn: string, input: Tensor, arg: string, t: Tensor): void {
  if (!sameShape(input.shape, t.shape)) {
    throw new ArgumentError(fn, arg, `has shape ${fmtShape(t.shape)}`, `the input's shape ${fmtShape(input.shape)}`);
  }
}
/** `w` must broadcast to the input's shape without growing it. */
function checkBroadcastsTo(fn: string, arg: string, w: Tensor, input: Tensor): void {
  const out = broadcastShapes(fn, input.shape, w.shape, ['input', arg]);
  if (!sameShape(out, input.shape))
    throw new ArgumentError(fn, arg, `has shape ${fmtShape(w.shape)}`, `a shape that broadcasts to the input's shape ${fmtShape(input.shape)}`);
}

/** Float64 broadcast read of `w` (right-aligned) at flat index k of `shape`. */
function refAt(w: RefTensor, shape: readonly number[], k: number): number {
  let off = 0,
    stride = 1,
    rem = k;
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = rem % shape[d];
    rem = Math.floor(rem / shape[d]);
  }
  for (let d = w.shape.length - 1; d >= 0; d--) {
    const i = w.shape[d] === 1 ? 0 : idx[shape.length - w.shape.length + d];
    off += i * stride;
    stride *= w.shape[d];
  }
  return w.data[off];
}

// ---- binary cross-entropy ----------------------------------------------------------------------

interface BceAttrs {
  reduction: Reduction;
  weighted: boolean;
}
/** PyTorch's EPSILON in binary_cross_entropy_backward: the floor of p(1 − p) in the gradient's denominator. */
const BCE_EPS = 1e-12;

const bceOp = defineComposite({
  name: 'binaryCrossEntropy',
  inputs: { p: 'tensor', target: 'tensor', weight: 'tensor?' },
  shape: ({ p }, a: BceAttrs) => lossShape(p.shape, a.reduction),
  impl: ({ p, target: t, weight: w }, a) => {
    // PyTorch's gradient is (p − t)/max(p(1 − p), 1e-12): finite at p = 0 or 1, where the logs' is not.
    // Inside (p(1 − p) ≥ 1e-12, so log p > −28 and the −100 clamp is idle) the logs are differentiated as
    // usual, on p swapped for 0.5 outside so no NaN leaks through the masked branch; outside, the clamped
    // logs of a constant p give the value and a zero-valued (p − sg p)·sg((p − t)/1e-12) term the gradient.
    const inside = ge(mul(p, sub(1, p)), BCE_EPS);
    const ps = where(inside, p, 0.5),
      pc = detached(p);
    const lp = where(inside, log(ps), clamp(log(pc), -100));
    const l1p = where(inside, log(sub(1, ps)), clamp(log(sub(1, pc)), -100));
    const edge = where(inside, 0, mul(sub(p, pc), detached(div(sub(p, t), BCE_EPS))));
    let l = add(neg(add(mul(t, lp), mul(sub(1, t), l1p))), edge);
    if (a.weighted && w) l = mul(l, w);
    return reduce(l, a.reduction);
  },
  reference: ({ p: P, target: Y, weight: W }, a) => {
    const vals = P.data.map((pv, k) => {
      const y = Y.data[k];
      const l = -(y * Math.max(Math.log(pv), -100) + (1 - y) * Math.max(Math.log(1 - pv), -100));
      return a.weighted && W ? l * refAt(W, P.shape, k) : l;
    });
    return refReduce(P.shape, vals, a.reduction);
  },
});

export interface BceOptions {
  weight?: Tensor;
  reduction?: Reduction;
}

/**
 * −w·(t·log p + (1−t)·log(1−p)), with each log clamped at −100 as PyTorch (so p = 0, t = 1 gives 100).
 * `p` must lie in [0, 1] (not checked on the GPU; PyTorch raises). `weight` broadcasts to p's shape.
 * Gradient: w·(p − t)/max(p(1 − p), 1e-12), as PyTorch (finite at p exactly 0 or 1).
 */
export function binaryCrossEntropy(p: Tensor, target: Tensor, { weight, reduction = 'mean' }: BceOptions = {}): Tensor {
  const fn = 'binaryCrossEntropy';
  checkFloat(fn, 'input', p);
  checkFloat(fn, 'target', target);
  checkSame(fn, p, 'target', target);
  if (weight !== undefined) {
    checkFloat(fn, 'weight', weight);
    checkBroadcastsTo(fn, 'weight', weight, p);
  }
  checkOperands(fn, weight ? [p, target, weight] : [p, target], ['input', 'target', 'weight']);
  return bceOp.call1(weight ? [p, target, weight] : [p, target], { reduction: checkReduction(fn, reduction), weighted: !!weight });
}

interface BceLogitsAttrs extends BceAttrs {
  posWeighted: boolean;
}

/** weights: [weight] and/or [posWeight], in that order, as attrs.weighted / attrs.posWeighted say. */
const bceLogitsOp = defineComposite({
  name: 'binaryCrossEntropyWithLogits',
  inputs: { x: 'tensor', target: 'tensor', weights: 'tensor[]' },
  shape: ({ x }, a: BceLogitsAttrs) => lossShape(x.shape, a.reduction),
  impl: ({ x, target: t, weights }, a) => {
    const w = a.weighted ? weights[0] : null;
    const pw = a.posWeighted ? weights[a.weighted ? 1 : 0] : null;
    // softplus(−x) = log(1 + e^−x) = max(−x, 0) + log1p(e^−|x|), smooth at x = 0 (its gradient there is exact)
    const sp = softplus(neg(x));
    const lw = pw ? add(mul(sub(pw, 1), t), 1) : null;
    let l = add(mul(sub(1, t), x), lw ? mul(lw, sp) : sp);
    if (w) l = mul(l, w);
    return reduce(l, a.reduction);
  },
  reference: ({ x: X, target: Y, weights }, a) => {
    const W = a.weighted ? weights[0] : null,
      PW = a.posWeighted ? weights[a.weighted ? 1 : 0] : null;
    const vals = X.data.map((x, k) => {
      const y = Y.data[k];
      const logSig = x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)); // log σ(x)
      const logOneMinusSig = logSig - x; // log(1 − σ(x))
      const pw = PW ? refAt(PW, X.shape, k) : 1;
      const l = -(pw * y * logSig + (1 - y) * logOneMinusSig);
      return W ? l * refAt(W, X.shape, k) : l;
    });
    return refReduce(X.shape, vals, a.reduction);
  },
});

export interface BceLogitsOptions extends BceOptions {
  posWeight?: Tensor;
}

/**
 * BCE on logits, stable for any x: (1 − t)·x + (1 + (posWeight − 1)·t)·softplus(−x), which equals
 * max(x, 0) − x·t + log1p(exp(−|x|)) without posWeight. `posWeight` (e.g. shape [C]) broadcasts over
 * the input, weighting positive targets, as PyTorch's pos_weight.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, { weight, posWeight, reduction = 'mean' }: BceLogitsOptions = {}): Tensor {
  const fn = 'binaryCrossEntropyWithLogits';
  checkFloat(fn, 'input', logits);
  checkFloat(fn, 'target', target);
  checkSame(fn, logits, 'target', target);
  if (weight !== undefined) {
    checkFloat(fn, 'weight', weight);
    checkBroadcastsTo(fn, 'weight', weight, logits);
  }
  if (posWeight !== undefined) {
    checkFloat(fn, 'posWeight', posWeight);
    checkBroadcastsTo(fn, 'posWeight', posWeight, logits);
  }
  const inputs = [logits, target, ...(weight ? [weight] : []), ...(posWeight ? [posWeight] : [])];
  checkOperands(fn, inputs, ['input', 'target', ...(weight ? ['weight'] : []), ...(posWeight ? ['posWeight'] : [])]);
  return bceLogitsOp.call1(inputs, { reduction: checkReduction(fn, reduction), weighted: !!weight, posWeighted: !!posWeight });
}

// ---- negative log-likelihood and cross-entropy ---------------------------------------------------

interface NllAttrs {
  reduction: Reduction;
  weighted: boolean;
  ignoreIndex: number;
  labelSmoothing: number;
}

/** Class dim: 1, or 0 for an unbatched input of shape [C]. */
const classDim = (x: { shape: readonly number[] }) => (x.shape.length === 1 ? 0 : 1);

/**
 * Shared by nllLoss and crossEntropy (index targets): logp has the class dim at `cd`;
 * loss_i = −w[t_i]·logp[i, t_i]  (1 − ε) + ε/C · (−Σ_c w_c·logp[i, c]), zero where t_i is ignored.
 * 'mean' divides both parts by Σ_i w[t_i] over non-ignored targets (PyTorch's rule).
 */
function nllCore(logp: Tensor, t: Tensor, w: Tensor | null, a: NllAttrs): Tensor {
  const cd = classDim(logp);
  const C = logp.shape[cd];
  const atClass = logp.shape.map((_, i) => (i === cd ? C : 1));
  const tUn = reshape(
    t,
    logp.shape.map((d, i) => (i === cd ? 1 : d)),
  );
  const mask = cast(eq(reshape(arange(0, C, 1, { dtype: 'int32', device: logp.device }), atClass), tUn), 'float32');
  const valid = cast(ne(t, a.ignoreIndex), 'float32');
  const wRow = w ? reshape(w, atClass) : null;
  const wt = mul(sum(wRow ? mul(mask, wRow) : mask, { dim: cd }), valid); // w[t_i], 0 if ignored
  const picked = sum(mul(logp, mask), { dim: cd }); // logp[i, t_i]
  const l = neg(mul(picked, wt));
  let smooth: Tensor | null = null;
  if (a.labelSmoothing > 0) smooth = mul(neg(sum(wRow ? mul(logp, wRow) : logp, { dim: cd })), valid);
  if (a.reduction === 'none') {
    return smooth ? add(mul(l, 1 - a.labelSmoothing), mul(smooth, a.labelSmoothing / C)) : l;
  }
  let total = sum(l);
  if (smooth) total = add(mul(total, 1 - a.labelSmoothing), mul(sum(smooth), a.labelSmoothing / C));
  return a.reduction === 'sum' ? total : div(total, sum(wt));
}

/** Float64 reference for index targets, from the definition: loops over samples and classes. */
function refNll(logp: RefTensor, t: RefTensor, w: RefTensor | null, a: NllAttrs): RefTensor {
  const cd = classDim(logp);
  const C = logp.shape[cd];
  const inner = logp.shape.slice(cd + 1).reduce((x, y) => x * y, 1);
  const outer = logp.shape.slice(0, cd).reduce((x, y) => x * y, 1);
  const vals = new Float64Array(outer * inner);
  let wsum = 0;
  for (let n = 0; n < outer; n++) {
    for (let s = 0; s < inner; s++) {
      const i = n * inner + s;
      const lp = (c: number) => logp.data[(n * C + c) * inner + s];
      const wc = (c: number) => (w ? w.data[c] : 1);
      const y = t.data[i];
      if (y === a.ignoreIndex || y < 0 || y >= C) continue;
      let smooth = 0;
      for (let c = 0; c < C; c++) smooth -= wc(c) * lp(c);
      vals[i] = (1 - a.labelSmoothing) * -wc(y) * lp(y) + (a.labelSmoothing / C) * smooth;
      wsum += wc(y);
    }
  }
  const shape = logp.shape.filter((_, i) => i !== cd);
  if (a.reduction === 'none') return { shape, dtype: 'float32', data: vals };
  const total = vals.reduce((x, y) => x + y, 0);
  return { shape: [], dtype: 'float32', data: Float64Array.of(a.reduction === 'sum' ? total : total / wsum) };
}

/** An NLL-style loss's rule: the input's shape without the class dim for 'none', else a scalar. */
const perSample = ({ x }: { x: TensorMeta }, a: NllAttrs) =>
  lossShape(
    x.shape.filter((_, i) => i !== classDim(x)),
    a.reduction,
  );

const nllOp = defineComposite({
  name: 'nllLoss',
  inputs: { x: 'tensor', target: 'tensor', weight: 'tensor?' },
  shape: perSample,
  impl: ({ x, target, weight }, a) => nllCore(x, target, a.weighted && weight ? weight : null, a),
  reference: ({ x, target, weight }, a) => refNll(x, target, a.weighted && weight ? weight : null, a),
});

interface CeAttrs extends NllAttrs {
  probs: boolean;
}

const ceOp = defineComposite({
  name: 'crossEntropy',
  inputs: { x: 'tensor', target: 'tensor', weight: 'tensor?' },
  shape: (ins, a: CeAttrs) => perSample(ins, a),
  impl: ({ x, target: t, weight }, a) => {
    const logp = logSoftmax(x, classDim(x));
    const wt = a.weighted && weight ? weight : null;
    if (!a.probs) return nllCore(logp, t, wt, a);
    const cd = classDim(logp);
    const C = logp.shape[cd];
    const q = a.labelSmoothing > 0 ? add(mul(t, 1 - a.labelSmoothing), a.labelSmoothing / C) : t;
    const wq = wt
      ? mul(
          q,
          reshape(
            wt,
            logp.shape.map((d, i) => (i === cd ? C : 1)),
          ),
        )
      : q;
    const l = neg(sum(mul(logp, wq), { dim: cd }));
    // 'mean' divides by the number of samples (batch × spatial), not by weights, for probability targets
    return reduce(l, a.reduction);
  },
  reference: ({ x, target: t, weight: w }, a) => {
    const logp = refLogSoftmaxAlong(x, classDim(x));
    if (!a.probs) return refNll(logp, t, a.weighted && w ? w : null, a);
    const cd = classDim(logp);
    const C = logp.shape[cd];
    const inner = logp.shape.slice(cd + 1).reduce((p, q) => p * q, 1);
    const outer = logp.shape.slice(0, cd).reduce((p, q) => p * q, 1);
    const vals = new Float64Array(outer * inner);
    for (let n = 0; n < outer; n++) {
      for (let s = 0; s < inner; s++) {
        for (let c = 0; c < C; c++) {
          const k = (n * C + c) * inner + s;
          const q = t.data[k] * (1 - a.labelSmoothing) + a.labelSmoothing / C;
          vals[n * inner + s] -= (a.weighted && w ? w.data[c] : 1) * q * logp.data[k];
        }
      }
    }
    return refReduce(
      logp.shape.filter((_, i) => i !== cd),
      vals,
      a.reduction,
    );
  },
});

export interface NllOptions {
  weight?: Tensor;
  ignoreIndex?: number;
  reduction?: Reduction;
}
export interface CrossEntropyOptions extends NllOptions {
  labelSmoothing?: number;
}

function checkIndexTarget(fn: string, input: Tensor, target: unknown): Tensor {
  const cd = classDim(input);
  const want = input.shape.filter((_, i) => i !== cd);
  if (!(target instanceof Tensor)) throw new ArgumentError(fn, 'target', `is ${target === null ? 'null' : typeof target}`, 'a Tensor');
  if (target.dtype !== 'int32') throw new ArgumentError(fn, 'target', `has dtype ${target.dtype}`, 'int32 class indices');
  if (!sameShape(target.shape, want)) {
    throw new ArgumentError(
      fn,
      'target',
      `has shape ${fmtShape(target.shape)}`,
      `${fmtShape(want)} (the input's shape ${fmtShape(input.shape)} without the class dim ${cd})`,
    );
  }
  return target;
}
function checkInput(fn: string, x: unknown): Tensor {
  const t = checkFloat(fn, 'input', x);
  if (t.ndim < 1) throw new ArgumentError(fn, 'input', `has shape ${fmtShape(t.shape)}`, 'shape [C], [N, C] or [N, C, d1, ...]');
  return t;
}
function checkClassWeight(fn: string, input: Tensor, weight: Tensor | undefined): void {
  if (weight === undefined) return;
  checkFloat(fn, 'weight', weight);
  const C = input.shape[classDim(input)];
  if (!sameShape(weight.shape, [C]))
    throw new ArgumentError(fn, 'weight', `has shape ${fmtShape(weight.shape)}`, `[${C}], one weight per class of the input ${fmtShape(input.shape)}`);
}
function checkIgnore(fn: string, v: number): number {
  if (!Number.isInteger(v)) throw new ArgumentError(fn, 'ignoreIndex', `is ${v}`, 'an integer');
  return v;
}

/**
 * Negative log-likelihood on log-probabilities (class dim 1, or 0 for an unbatched [C] input):
 * −weight[t]·logProbs[t] per sample, 0 where target = ignoreIndex (default −100). 'mean' divides by the
 * sum of the weights of the non-ignored targets (NaN when every target is ignored), as PyTorch.
 */
export function nllLoss(logProbs: Tensor, target: Tensor, { weight, ignoreIndex = -100, reduction = 'mean' }: NllOptions = {}): Tensor {
  const fn = 'nllLoss';
  checkInput(fn, logProbs);
  checkIndexTarget(fn, logProbs, target);
  checkClassWeight(fn, logProbs, weight);
  const inputs = weight ? [logProbs, target, weight] : [logProbs, target];
  checkOperands(fn, inputs, ['input', 'target', 'weight']);
  return nllOp.call1(inputs, { reduction: checkReduction(fn, reduction), weighted: !!weight, ignoreIndex: checkIgnore(fn, ignoreIndex), labelSmoothing: 0 });
}

/**
 * Cross-entropy of logits (class dim 1, or 0 for an unbatched [C] input), as torch.nn.functional.cross_entropy.
 * `target` is either int32 class indices (the input's shape without the class dim; ignoreIndex applies) or
 * float class probabilities of the input's shape. labelSmoothing ε mixes in the uniform distribution:
 * (1 − ε)·nll + ε/C·(−Σ_c w_c log p_c), each part reduced with PyTorch's rules.
 *
 * @example
 * ```ts
 * import { init, tensor, crossEntropy } from '@webgrad/core/node';
 * await init();
 * const logits = tensor([[2, 0.5, -1], [0, 1, 3]]); // [N, C]
 * const target = tensor([0, 2], { dtype: 'int32' }); // class indices
 * console.log(await crossEntropy(logits, target).item()); // ≈ 0.206
 * console.log(await crossEntropy(logits, target, { labelSmoothing: 0.1 }).item());
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  { weight, ignoreIndex = -100, labelSmoothing = 0, reduction = 'mean' }: CrossEntropyOptions = {},
): Tensor {
  const fn = 'crossEntropy';
  checkInput(fn, logits);
  const probs = target instanceof Tensor && target.dtype === 'float32';
  if (probs) {
    if (!sameShape(target.shape, logits.shape)) {
      throw new ArgumentError(
        fn,
        'target',
        `has shape ${fmtShape(target.shape)} (float, so read as class probabilities)`,
        `the input's shape ${fmtShape(logits.shape)}, or int32 class indices of shape ${fmtShape(logits.shape.filter((_, i) => i !== classDim(logits)))}`,
      );
    }
  } else checkIndexTarget(fn, logits, target);
  checkClassWeight(fn, logits, weight);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new ArgumentError(fn, 'labelSmoothing', `is ${labelSmoothing}`, 'a number in [0, 1]');
  const inputs = weight ? [logits, target, weight] : [logits, target];
  checkOperands(fn, inputs, ['input', 'target', 'weight']);
  return ceOp.call1(inputs, { reduction: checkReduction(fn, reduction), weighted: !!weight, ignoreIndex: checkIgnore(fn, ignoreIndex), labelSmoothing, probs });
}

// ---- regression losses ---------------------------------------------------------------------------

interface PairAttrs {
  reduction: Reduction;
  beta: number;
}

const pairLoss = (name: string, f: (d: Tensor, a: PairAttrs) => Tensor, ref: (d: number, a: PairAttrs) => number) =>
  defineComposite({
    name,
    inputs: { x: 'tensor', target: 'tensor' },
    shape: ({ x }, a: PairAttrs) => lossShape(x.shape, a.reduction),
    impl: ({ x, target }, a) => reduce(f(sub(x, target), a), a.reduction),
    reference: ({ x, target }, a) =>
      refReduce(
        x.shape,
        x.data.map((v, k) => ref(v - target.data[k], a)),
        a.reduction,
      ),
  });
const mseOp = pairLoss(
  'mseLoss',
  (d) => square(d),
  (d) => d * d,
);
const l1Op = pairLoss('l1Loss', (d) => abs(d), Math.abs);
const smoothL1Op = pairLoss(
  'smoothL1Loss',
  (d, { beta }) => (beta === 0 ? abs(d) : where(lt(abs(d), beta), mul(square(d), 0.5 / beta), sub(abs(d), 0.5 * beta))),
  (d, { beta }) => (Math.abs(d) < beta ? (0.5 * d * d) / beta : Math.abs(d) - 0.5 * beta),
);

function pair(fn: string, op: typeof mseOp, x: Tensor, t: Tensor, reduction: Reduction, beta = 0): Tensor {
  checkFloat(fn, 'input', x);
  checkFloat(fn, 'target', t);
  // PyTorch broadcasts with a warning; a mismatch is almost always a bug ([N, 1] vs [N]), so it is an error here
  checkSame(fn, x, 'target', t);
  checkOperands(fn, [x, t], ['input', 'target']);
  return op.call1([x, t], { reduction: checkReduction(fn, reduction), beta });
}

/** Mean squared error (x − t)², as torch.nn.functional.mse_loss (shapes must match). */
export const mseLoss = (input: Tensor, target: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}) =>
  pair('mseLoss', mseOp, input, target, reduction);
/** Mean absolute error |x − t|. */
export const l1Loss = (input: Tensor, target: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}) => pair('l1Loss', l1Op, input, target, reduction);
/** Huber-like: 0.5·d²/β where |d| < β, else |d| − 0.5·β (β = 1 by default; β = 0 is l1Loss). */
export function smoothL1Loss(input: Tensor, target: Tensor, { beta = 1, reduction = 'mean' }: { beta?: number; reduction?: Reduction } = {}): Tensor {
  if (!(Number.isFinite(beta) && beta >= 0)) throw new ArgumentError('smoothL1Loss', 'beta', `is ${beta}`, 'a finite non-negative number');
  return pair('smoothL1Loss', smoothL1Op, input, target, reduction, beta);
}
