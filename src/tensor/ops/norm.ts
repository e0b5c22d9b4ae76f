/**
 * Normalisation: batchNorm (fused kernels: per-channel statistics in one dispatch, then one apply
 * pass, optionally with ReLU fused in), layerNorm and groupNorm (composites of public ops).
 * Running statistics are returned as new tensors, never mutated (see DESIGN.md).
 */
import {
  bnApplyPlan,
  bnGradApplyPlan,
  bnGradCoeffsPlan,
  bnGradStatsPlan,
  bnRunningPlan,
  bnStatsPlan,
  NORM_WG,
  perChannelWorkgroups,
} from '../../kernels/wgsl/norm';
import { grid } from '../../kernels/webgpu/device';
import {
  refBatchNormEval,
  refBatchNormGradApply,
  refBatchNormGradCoeffs,
  refBatchNormGradStats,
  refBatchNormRunning,
  refBatchNormTrain,
  refGroupNorm,
  refLayerNorm,
} from './ref/norm';
import { ArgumentError, fmtShape } from '../../base/shape';
import { Tensor, empty, view } from '../tensor';
import { byBatch, exceedsBinding, rowChunks, runSplit, takeRows } from './split';
import { defineComposite, defineOp, internal, untraced, type OutputMeta, type RefTensor, type TensorMeta } from './define';
import { add, div, le, mul, neg, rsqrt, sub, square, where } from './elementwise';
import { sum } from './reduce';
import { reshape } from './shape-ops';
import { full, ones, zeros, zerosLike } from './creation';
import { concat, narrow } from './layout';
import { allReduce, syncBatchNormGroup } from './collective';
import type { Collective } from '../../base/collective';

interface BnAttrs {
  eps: number;
  relu: boolean;
}

const inner = (x: TensorMeta) => x.shape.slice(2).reduce((a, b) => a * b, 1);
/** Shape that broadcasts a per-channel [C] vector against x. */
const chanShape = (x: Tensor) => x.shape.map((d, i) => (i === 1 ? d : 1));
const otherAxes = (x: Tensor) => x.shape.map((_, i) => i).filter((i) => i !== 1);
/** A float32 output shaped like `x`; a float32 [C] vector. */
const like = (x: TensorMeta): OutputMeta => ({ shape: x.shape, dtype: 'float32' });
const channels = (c: number): OutputMeta => ({ shape: [c], dtype: 'float32' });

/** y = (x − mean)·inv·γ + β (then ReLU): writes into y, which may be empty when the batch is. */
function apply(x: Tensor, mean: Tensor, variance: Tensor, w: Tensor, b: Tensor, a: BnAttrs, y: Tensor): void {
  if (y.size === 0) return;
  const plan = bnApplyPlan(y.size, x.shape[1], inner(x), a.eps, a.relu);
  x.device.run(
    a.relu ? 'batchNormRelu' : 'batchNorm',
    plan.key,
    plan.source,
    [x, mean, variance, w, b, y].map((t) => t.binding),
    perChannelWorkgroups(y.size, inner(x)),
    { layout: plan.layout, values: plan.values },
  );
}

const perChannel = (t: Tensor, v: Tensor) => reshape(v, chanShape(t));

interface GradAttrs {
  relu: boolean;
}
/** g·[y > 0] with a fused ReLU, else g (public ops, for the VJPs of the fused backward kernels). */
const reluMask = (g: Tensor, y: Tensor, relu: boolean) => (relu ? where(le(y, 0), 0, g) : g); // as relu's VJP (NaN passes)
/** Row r of a [3, C] coefficient tensor as a [C] vector. */
const row = (coef: Tensor, r: number) => reshape(narrow(coef, 0, r, 1), [coef.shape[1]]);

/**
 * Batch-norm backward's channel sums [Σ g, Σ g·(x − mean[c])] over every axis but 1, in one pass;
 * g = dy·[y > 0] when the forward fused a ReLU (inputs [dy, y, x, mean]; y is ignored without ReLU).
 */
const bnGradStatsOp = defineOp({
  name: 'batchNormGradStats',
  inputs: { g: 'tensor', y: 'tensor', x: 'tensor', mean: 'tensor' },
  shape: ({ g }, _: GradAttrs) => [channels(g.shape[1]), channels(g.shape[1])],
  forward({ g, y, x, mean }, a, [sg, sgxc]) {
    const Cn = g.shape[1];
    const plan = bnGradStatsPlan(g.shape[0], Cn, inner(g), a.relu);
    const bufs = (a.relu ? [g, y, x, mean, sg, sgxc] : [g, x, mean, sg, sgxc]).map((t) => t.binding);
    g.device.run('batchNormGradStats', plan.key, plan.source, bufs, Cn <= 65535 ? [Cn, 1, 1] : [65535, Math.ceil(Cn / 65535), 1], {
      layout: plan.layout,
      values: plan.values,
    });
  },
  // channel sums over the batch: chunks' sums add up
  split: () => ({ kind: 'batch-sum', batched: ['g', 'y', 'x'] }),
  reference: ({ g, y, x, mean }, a) => refBatchNormGradStats(g, y, x, mean, a.relu),
  vjp({ dys: [dsg, dsgxc], inputs: { g, y, x, mean }, attrs: a }) {
    const gm = reluMask(g, y, a.relu);
    const xc = sub(x, perChannel(x, mean));
    return [
      reluMask(add(perChannel(g, dsg), mul(xc, perChannel(g, dsgxc))), y, a.relu),
      zerosLike(y), // the ReLU mask is piecewise constant in y
      mul(gm, perChannel(g, dsgxc)),
      mul(neg(dsgxc), reshape(sum(gm, { dim: otherAxes(g) }), [g.shape[1]])),
    ];
  },
});

interface CoeffAttrs {
  eps: number;
  M: number;
}

/**
 * Batch-norm backward's per-channel coefficients: [coef [3, C] (rows A, B, D of dx), dγ [C]].
 * Inputs [γ, var, Σg, Σg·xc] and, when a loss used the batch statistics, their cotangents [dMean, dVar].
 */
const bnGradCoeffsOp = defineOp({
  name: 'batchNormGradCoeffs',
  inputs: { w: 'tensor', variance: 'tensor', sg: 'tensor', sgxc: 'tensor', dMean: 'tensor?', dVar: 'tensor?' },
  shape: ({ w }, _: CoeffAttrs) => [{ shape: [3, w.shape[0]], dtype: 'float32' }, channels(w.shape[0])],
  forward({ w, variance, sg, sgxc, dMean, dVar }, a, [coef, dw]) {
    const C = w.shape[0];
    const stats = dMean && dVar ? [dMean, dVar] : [];
    const plan = bnGradCoeffsPlan(C, a.eps, a.M, stats.length === 2);
    w.device.run(
      'batchNormGradCoeffs',
      plan.key,
      plan.source,
      [w, variance, sg, sgxc, ...stats, coef, dw].map((t) => t.binding),
      grid(C, NORM_WG),
      { layout: plan.layout, values: plan.values },
    );
  },
  reference: ({ w, variance, sg, sgxc, dMean, dVar }, a) => refBatchNormGradCoeffs(w, variance, sg, sgxc, dMean, dVar, a.eps, a.M),
  vjp({ dys: [dCoef, cW], inputs: { w: W, variance, sg: SG, sgxc: SX, dMean }, attrs: a }) {
    const [cA, cB, cD] = [0, 1, 2].map((r) => row(dCoef, r));
    const inv = rsqrt(add(variance, a.eps)),
      inv3 = mul(square(inv), inv),
      m = 1 / a.M;
    // d inv / d var = −inv³/2 and d inv³ / d var = −3·inv⁵/2
    const dInv = add(add(mul(cA, W), mul(cD, mul(W, mul(SG, -m)))), mul(cW, SX));
    const dInv3 = mul(cB, mul(W, mul(SX, -m)));
    return [
      add(add(mul(cA, inv), mul(cB, mul(inv3, mul(SX, -m)))), mul(cD, mul(inv, mul(SG, -m)))),
      add(mul(dInv, mul(inv3, -0.5)), mul(dInv3, mul(mul(inv3, square(inv)), -1.5))),
      mul(cD, mul(mul(W, inv), -m)),
      add(mul(cB, mul(mul(W, inv3), -m)), mul(cW, inv)),
      ...(dMean !== undefined ? [mul(cD, m), mul(cB, 2 * m)] : []),
    ];
  },
});

/** dy·A[c] + (x − m[c])·B[c] + D[c] (batch-norm backward's dx; dy masked by [y > 0] with a fused ReLU). */
const bnGradApplyOp = defineOp({
  name: 'batchNormGradApply',
  inputs: { g: 'tensor', y: 'tensor', x: 'tensor', m: 'tensor', coef: 'tensor' },
  shape: ({ g }, _: GradAttrs) => like(g),
  forward({ g, y, x, m, coef }, a, [out]) {
    const plan = bnGradApplyPlan(out.size, g.shape[1], inner(g), a.relu);
    const bufs = (a.relu ? [g, y, x, m, coef, out] : [g, x, m, coef, out]).map((t) => t.binding);
    g.device.run('batchNormGradApply', plan.key, plan.source, bufs, perChannelWorkgroups(out.size, inner(g)), { layout: plan.layout, values: plan.values });
  },
  split: byBatch('g', 'y', 'x'),
  reference: ({ g, y, x, m, coef }, a) => refBatchNormGradApply(g, y, x, m, coef, a.relu),
  vjp({ dy, inputs: { g: G, y: Y, x: X, m, coef: K }, attrs: a }) {
    const axes = otherAxes(G),
      C = [G.shape[1]];
    const [A, B] = [row(K, 0), row(K, 1)];
    const sdy = reshape(sum(dy, { dim: axes }), C);
    const chan = (t: Tensor) => reshape(sum(t, { dim: axes }), [1, G.shape[1]]);
    return [
      reluMask(mul(dy, perChannel(G, A)), Y, a.relu),
      zerosLike(Y),
      mul(dy, perChannel(G, B)),
      mul(neg(sdy), B),
      concat([chan(mul(dy, reluMask(G, Y, a.relu))), chan(mul(dy, sub(X, perChannel(X, m)))), reshape(sdy, [1, G.shape[1]])], 0),
    ];
  },
});

interface RunningAttrs {
  factor: number;
  bessel: number;
}

/** Both running-statistic updates in one dispatch: [(1 − f)·rm + f·mean, (1 − f)·rv + f·bessel·var]. */
const bnRunningOp = defineOp({
  name: 'batchNormRunningStats',
  inputs: { runningMean: 'tensor', runningVar: 'tensor', mean: 'tensor', variance: 'tensor' },
  shape: ({ runningMean }, _: RunningAttrs) => [channels(runningMean.shape[0]), channels(runningMean.shape[0])],
  forward({ runningMean, runningVar, mean, variance }, a, [m, v]) {
    const plan = bnRunningPlan(m.size, a.factor, a.bessel);
    m.device.run(
      'batchNormRunningStats',
      plan.key,
      plan.source,
      [runningMean, runningVar, mean, variance, m, v].map((t) => t.binding),
      grid(m.size, NORM_WG),
      { layout: plan.layout, values: plan.values },
    );
  },
  reference: ({ runningMean, runningVar, mean, variance }, a) => refBatchNormRunning(runningMean, runningVar, mean, variance, a.factor, a.bessel),
  vjp: ({ dys: [dm, dv], attrs: a }) => [mul(dm, 1 - a.factor), mul(dv, 1 - a.factor), mul(dm, a.factor), mul(dv, a.factor * a.bessel)],
});

/** Per-channel mean and biased variance of x over every axis but 1 (one dispatch). */
function batchStats(x: Tensor, mean: Tensor, variance: Tensor): void {
  const C = x.shape[1];
  if (C === 0 || x.size === 0) return;
  const plan = bnStatsPlan(x.shape[0], C, inner(x));
  x.device.run(
    'batchNormStats',
    plan.key,
    plan.source,
    [x.binding, mean.binding, variance.binding],
    C <= 65535 ? [C, 1, 1] : [65535, Math.ceil(C / 65535), 1],
    {
      layout: plan.layout,
      values: plan.values,
    },
  );
}

/**
 * batchNormTrain's forward past the binding cap: statistics per chunk of rows, combined with Chan et al.'s
 * pairwise formula (counts nA, nB; δ = meanB − meanA; mean = meanA + δ·nB/n; M2 = M2A + M2B + δ²·nA·nB/n,
 * as sync BN combines devices), then the normalisation chunk by chunk.
 */
function trainSplit(x: Tensor, w: Tensor, b: Tensor, a: BnAttrs, y: Tensor, mean: Tensor, variance: Tensor): void {
  const C = x.shape[1];
  const { rows, views } = rowChunks('batchNormTrain', [x, y], x.device);
  const per = inner(x);
  let acc: { n: number; mean: Tensor; m2: Tensor } | null = null;
  for (let start = 0; start < x.shape[0]; start += rows) {
    const count = Math.min(rows, x.shape[0] - start);
    const xc = takeRows(x, start, count, views);
    const [mc, vc] = [empty([C], 'float32', x.device), empty([C], 'float32', x.device)];
    batchStats(xc, mc, vc);
    xc.dispose();
    const nb = count * per;
    const m2b = mul(vc, nb);
    vc.dispose();
    if (!acc) {
      acc = { n: nb, mean: mc, m2: m2b };
      continue;
    }
    const n: number = acc.n + nb;
    const delta = sub(mc, acc.mean);
    const meanNext: Tensor = add(acc.mean, mul(delta, nb / n));
    const sq = mul(square(delta), (acc.n * nb) / n);
    const sum2: Tensor = add(acc.m2, m2b);
    const m2Next: Tensor = add(sum2, sq);
    for (const t of [mc, m2b, delta, sq, sum2, acc.mean, acc.m2]) t.dispose();
    acc = { n, mean: meanNext, m2: m2Next };
  }
  if (!acc) return;
  const v = mul(acc.m2, 1 / acc.n);
  x.device.queue.copy(acc.mean.storage.buffer, acc.mean.byteOffset, mean.storage.buffer, mean.byteOffset, mean.byteLength);
  x.device.queue.copy(v.storage.buffer, v.byteOffset, variance.storage.buffer, variance.byteOffset, variance.byteLength);
  for (const t of [v, acc.mean, acc.m2]) t.dispose();
  runSplit('batchNormTrain', { kind: 'batch', batched: ['x'] }, { x, mean, variance, w, b }, a, [y], (ins, at, [yc]) =>
    apply(ins.x as Tensor, mean, variance, w, b, at, yc),
  );
}

/** Training mode: [y, batch mean, biased batch variance]. Gradients flow through the statistics. */
const bnTrainOp = defineOp({
  name: 'batchNormTrain',
  inputs: { x: 'tensor', w: 'tensor', b: 'tensor' },
  shape: ({ x }, _: BnAttrs) => [like(x), channels(x.shape[1]), channels(x.shape[1])],
  forward({ x, w, b }, a, [y, mean, variance]) {
    if (exceedsBinding(x.device, [x, y])) return trainSplit(x, w, b, a, y, mean, variance);
    batchStats(x, mean, variance);
    apply(x, mean, variance, w, b, a, y);
  },
  // the forward splits itself (statistics combined with Chan's formula)
  split: () => null,
  reference: ({ x, w, b }, a) => refBatchNormTrain(x, w, b, a.eps, a.relu),
  vjp({ dys: [dy, dMean, dVar], inputs: { x: X, w }, outputs: [y, mean, variance], attrs: a }) {
    const M = X.size / X.shape[1];
    // three dispatches: the channel sums Σg and Σg·(x − mean) (g = dy masked by the fused ReLU), the
    // per-channel coefficients, then dx = γ·inv·g − γ·inv·Σg/M − γ·inv³·Σ(g·xc)·xc/M (+ the statistics'
    // own cotangents: dMean/M and 2·dVar·xc/M) as g·A + (x − mean)·B + D
    const r = { relu: a.relu };
    const [sg, sgxc] = bnGradStatsOp.callN([dy, y, X, mean], r);
    // dMean/dVar are null (sparseCotangents) unless some loss used the batch statistics themselves
    const statGrads = dMean || dVar ? [dMean ?? zerosLike(mean), dVar ?? zerosLike(variance)] : [];
    const [coef, dw] = bnGradCoeffsOp.callN([w, variance, sg, sgxc, ...statGrads], { eps: a.eps, M });
    const dx = bnGradApplyOp.call1([dy, y, X, mean, coef], r);
    return [dx, dw, sg];
  },
  sparseCotangents: true,
});

/** Evaluation mode: normalises with the running statistics (gradients to x, both statistics, γ and β). */
const bnEvalOp = defineOp({
  name: 'batchNormEval',
  inputs: { x: 'tensor', runningMean: 'tensor', runningVar: 'tensor', w: 'tensor', b: 'tensor' },
  shape: ({ x }, _: BnAttrs) => like(x),
  forward: ({ x, runningMean, runningVar, w, b }, a, [y]) => apply(x, runningMean, runningVar, w, b, a, y),
  split: byBatch('x'),
  reference: ({ x, runningMean, runningVar, w, b }, a) => refBatchNormEval(x, runningMean, runningVar, w, b, a.eps, a.relu),
  vjp({ dy, inputs: { x: X, runningMean: rm, runningVar: rv, w }, outputs: [y], attrs: a }) {
    const cs = chanShape(X),
      axes = otherAxes(X),
      C = [X.shape[1]];
    const g = a.relu ? where(le(y, 0), 0, dy) : dy; // as relu's VJP (NaN passes)
    const inv = rsqrt(add(rv, a.eps));
    const xc = sub(X, reshape(rm, cs));
    const sg = reshape(sum(g, { dim: axes }), C);
    const sgxc = reshape(sum(mul(g, xc), { dim: axes }), C);
    const wInv = mul(w, inv);
    return [mul(g, reshape(wInv, cs)), mul(sg, mul(wInv, -1)), mul(mul(sgxc, w), mul(mul(square(inv), inv), -0.5)), mul(sgxc, inv), sg];
  },
});

export interface BatchNormOptions {
  /** Normalise with the batch statistics and update the running ones (default false). */
  training?: boolean;
  /** Running-average factor (default 0.1); null for a cumulative average (needs numBatchesTracked). */
  momentum?: number | null;
  eps?: number;
  /** With momentum null: the number of batches seen including this one (PyTorch's num_batches_tracked after increment). */
  numBatchesTracked?: number;
}

export interface BatchNormResult {
  y: Tensor;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
}

function checkVector(fn: string, arg: string, v: Tensor | null | undefined, C: number, required: boolean): void {
  if (v == null) {
    if (required) throw new ArgumentError(fn, arg, 'is missing', `a float32 tensor of shape [${C}]`);
    return;
  }
  if (!(v instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${typeof v}`, `a float32 tensor of shape [${C}]`);
  if (v.ndim !== 1 || v.shape[0] !== C || v.dtype !== 'float32') {
    throw new ArgumentError(fn, arg, `has shape ${fmtShape(v.shape)} (${v.dtype})`, `a float32 tensor of shape [${C}] (one value per channel of the input)`);
  }
}

function batchNormImpl(
  fn: string,
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  o: BatchNormOptions,
  relu: boolean,
): BatchNormResult {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  if (x.ndim < 2 || x.dtype !== 'float32')
    throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)} (${x.dtype})`, 'a float32 tensor (N, C, …) of rank ≥ 2');
  const C = x.shape[1];
  const training = o.training ?? false;
  const eps = o.eps ?? 1e-5;
  if (!(eps >= 0)) throw new ArgumentError(fn, 'eps', `is ${eps}`, 'a non-negative number');
  checkVector(fn, 'runningMean', runningMean, C, !training);
  checkVector(fn, 'runningVar', runningVar, C, !training);
  checkVector(fn, 'weight', weight, C, false);
  checkVector(fn, 'bias', bias, C, false);
  const w = weight ?? ones([C], { device: x.device });
  const b = bias ?? zeros([C], { device: x.device });
  const a: BnAttrs = { eps, relu };
  // the stand-in γ = 1 / β = 0 are freed at once unless a gradient trace holds them (its VJP reads γ)
  const free = (out: Tensor) => {
    if (out.traces.length > 0) return;
    if (!weight) w.dispose();
    if (!bias) b.dispose();
  };
  if (!training) {
    const y = bnEvalOp.call1([x, runningMean!, runningVar!, w, b], a);
    free(y);
    return { y, runningMean: view(runningMean!, runningMean!.shape), runningVar: view(runningVar!, runningVar!.shape) };
  }
  const count = x.size / Math.max(C, 1);
  const group = syncBatchNormGroup();
  // synchronised over K ≥ 2 ranks, one value a channel on each rank still gives a global batch of K
  if (group && group.size > 1 && count < 1)
    throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)}, no value per channel`, 'at least 1 value per channel on each rank');
  if ((!group || group.size === 1) && count <= 1)
    throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)}, one value per channel`, 'more than 1 value per channel when training');
  const momentum = o.momentum === undefined ? 0.1 : o.momentum;
  let factor: number;
  if (momentum === null) {
    const nb = o.numBatchesTracked;
    if (!Number.isInteger(nb) || nb! < 1)
      throw new ArgumentError(fn, 'numBatchesTracked', `is ${nb}`, 'a positive integer when momentum is null (cumulative average)');
    factor = 1 / nb!;
  } else {
    if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentError(fn, 'momentum', `is ${momentum}`, 'a number in [0, 1] or null');
    factor = momentum;
  }
  if (group) {
    const r = syncTrain(x, runningMean, runningVar, w, b, a, factor, group);
    free(r.y);
    return r;
  }
  const [y, mean, variance] = bnTrainOp.callN([x, w, b], a);
  free(y);
  // PyTorch updates the running variance with the unbiased batch variance (Bessel's correction)
  const [rm, rv] =
    runningMean && runningVar
      ? untraced(() => bnRunningOp.callN([runningMean, runningVar, mean, variance], { factor, bessel: count / (count - 1) }))
      : untraced(() => [
          runningMean ? add(mul(runningMean, 1 - factor), mul(mean, factor)) : null,
          runningVar ? add(mul(runningVar, 1 - factor), mul(variance, (factor * count) / (count - 1))) : null,
        ]);
  if (y.traces.length === 0) {
    mean.dispose();
    variance.dispose();
  }
  return { y, runningMean: rm, runningVar: rv };
}

/**
 * Synchronised training BatchNorm (inside syncBatchNorm), as torch.nn.SyncBatchNorm: each rank's count, mean and
 * centred sum of squares M2 per channel are gathered from every rank (an allReduce of a vector that is zero
 * outside this rank's slot, so the sum is exact) and combined as Chan et al. do: mean = Σ n·m / N and
 * M2 = Σ M2ₖ + Σ nₖ·(mₖ − mean)², which stays accurate where Σx² − N·mean² would cancel (a channel with a large
 * mean and a small spread). The normalising pass is the eval kernel fed with the global statistics, so the
 * gradient (torch's all-reduced Σdy and Σdy·x̂) comes from these ops and allReduce's VJP.
 */
function syncTrain(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  w: Tensor,
  b: Tensor,
  a: BnAttrs,
  factor: number,
  group: Collective,
): BatchNormResult {
  const C = x.shape[1];
  const K = group.size;
  const L = 2 * C + 1;
  return internal(() => {
    const n = x.size / C;
    const axes = otherAxes(x);
    const m = div(sum(x, { dim: axes }), n);
    const m2 = sum(square(sub(x, perChannel(x, m))), { dim: axes });
    const slot = [
      ...(group.rank > 0 ? [zeros([group.rank * L], { device: x.device })] : []),
      m,
      m2,
      full([1], n, { device: x.device }),
      ...(group.rank < K - 1 ? [zeros([(K - 1 - group.rank) * L], { device: x.device })] : []),
    ];
    const all = reshape(allReduce(concat(slot, 0), group), [K, L]); // row k: rank k's [means, M2s, count]
    const counts = narrow(all, 1, 2 * C, 1); // [K, 1]
    const total = sum(counts, { dim: 0 }); // [1]
    const means = narrow(all, 1, 0, C);
    const mean = div(sum(mul(means, counts), { dim: 0 }), total);
    const between = sum(mul(square(sub(means, reshape(mean, [1, C]))), counts), { dim: 0 });
    const M2 = add(sum(narrow(all, 1, C, C), { dim: 0 }), between);
    const variance = div(M2, total);
    const y = bnEvalOp.call1([x, mean, variance, w, b], a);
    // the running variance takes the unbiased global variance M2 / (N − 1) (N is only known on the GPU)
    const [rm, rv] = untraced(() => [
      runningMean ? add(mul(runningMean, 1 - factor), mul(mean, factor)) : null,
      runningVar ? add(mul(runningVar, 1 - factor), mul(div(M2, sub(total, 1)), factor)) : null,
    ]);
    return { y, runningMean: rm, runningVar: rv };
  });
}

/**
 * torch.nn.functional.batch_norm over dim 1 of an (N, C, …) tensor. Returns the output and the new
 * running statistics (new tensors; in eval mode, new handles on the same values). Training mode
 * normalises with the biased batch variance and updates the running variance with the unbiased one.
 *
 * @example
 * ```ts
 * import { init, random, randn, zeros, ones, batchNorm } from '@webgrad/core/node';
 * await init();
 * const x = randn(random.key(0), [8, 3, 4, 4]);
 * const { y, runningMean, runningVar } = batchNorm(x, zeros([3]), ones([3]), ones([3]), zeros([3]), { training: true });
 * console.log(y.shape, await runningMean!.data()); // [8, 3, 4, 4], 0.1 × the batch means
 * ```
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  options: BatchNormOptions = {},
): BatchNormResult {
  return batchNormImpl('batchNorm', x, runningMean, runningVar, weight, bias, options, false);
}

/** batchNorm followed by an activation; 'relu' runs as one fused kernel (BN apply + ReLU in one pass). */
export function batchNormAct(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  options: BatchNormOptions & { activation?: 'relu' | 'none' } = {},
): BatchNormResult {
  const act = options.activation ?? 'relu';
  if (act !== 'relu' && act !== 'none') throw new ArgumentError('batchNormAct', 'activation', `is ${JSON.stringify(act)}`, "'relu' or 'none'");
  return batchNormImpl('batchNormAct', x, runningMean, runningVar, weight, bias, options, act === 'relu');
}

// ---- layer and group norm (composites) --------------------------------------------------------

interface LnAttrs {
  normalizedShape: number[];
  eps: number;
}
interface GnAttrs {
  groups: number;
  eps: number;
}

/** Normalises over the trailing `k` dims of x: (x − mean) / sqrt(biased var + eps). */
function standardise(x: Tensor, k: number, eps: number): Tensor {
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const n = axes.reduce((s, i) => s * x.shape[i], 1);
  const xc = sub(x, div(sum(x, { dim: axes, keepdim: true }), n));
  const v = div(sum(square(xc), { dim: axes, keepdim: true }), n);
  return mul(xc, rsqrt(add(v, eps)));
}

/** Optional scale and shift; absent ones travel as the numbers 1 and 0. */
function affine(y: Tensor, w: Tensor | number | undefined, b: Tensor | number | undefined, shape: (v: Tensor) => Tensor): Tensor {
  if (w instanceof Tensor) y = mul(y, shape(w));
  if (b instanceof Tensor) y = add(y, shape(b));
  return y;
}
const refOrNull = (v: RefTensor | number | undefined) => (typeof v === 'object' ? v : null);
const NORM_INPUTS = { x: 'tensor', w: 'operand?', b: 'operand?' } as const;

const layerNormOp = defineComposite({
  name: 'layerNorm',
  inputs: NORM_INPUTS,
  shape: ({ x }, _: LnAttrs) => like(x),
  impl({ x, w, b }, a) {
    const y = standardise(x, a.normalizedShape.length, a.eps);
    return affine(y, w, b, (v) => v);
  },
  reference: ({ x, w, b }, a) => refLayerNorm(x, a.normalizedShape, refOrNull(w), refOrNull(b), a.eps),
});

const groupNormOp = defineComposite({
  name: 'groupNorm',
  inputs: NORM_INPUTS,
  shape: ({ x }, _: GnAttrs) => like(x),
  impl({ x: X, w, b }, a) {
    const y = reshape(standardise(reshape(X, [X.shape[0], a.groups, X.size / Math.max(X.shape[0] * a.groups, 1)]), 1, a.eps), X.shape);
    return affine(y, w, b, (v) => reshape(v, chanShape(X)));
  },
  reference: ({ x, w, b }, a) => refGroupNorm(x, a.groups, refOrNull(w), refOrNull(b), a.eps),
});

/** torch.nn.functional.layer_norm: normalises over the trailing dims `normalizedShape`; weight and bias have that shape. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const fn = 'layerNorm';
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.ndim - ns.length);
  if (ns.length === 0 || ns.length > x.ndim || !ns.every((d, i) => d === tail[i])) {
    throw new ArgumentError(
      fn,
      'normalizedShape',
      `is ${fmtShape(ns)} for an input of shape ${fmtShape(x.shape)}`,
      "a non-empty shape equal to the input's trailing dims",
    );
  }
  for (const [arg, v] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (v != null && (!(v instanceof Tensor) || v.shape.length !== ns.length || !v.shape.every((d, i) => d === ns[i]))) {
      throw new ArgumentError(fn, arg, `has shape ${v instanceof Tensor ? fmtShape(v.shape) : typeof v}`, `shape ${fmtShape(ns)} (normalizedShape)`);
    }
  }
  return layerNormOp.call1([x, ...(weight || bias ? [weight ?? 1, bias ?? 0] : [])], { normalizedShape: ns, eps });
}

/** torch.nn.functional.group_norm: channels (dim 1) split into numGroups groups, statistics per sample and group. */
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const fn = 'groupNorm';
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  if (x.ndim < 2) throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)}`, 'a tensor (N, C, …) of rank ≥ 2');
  const C = x.shape[1];
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    throw new ArgumentError(fn, 'numGroups', `is ${numGroups} for ${C} channels`, 'a positive integer dividing the number of channels');
  }
  checkVector(fn, 'weight', weight, C, false);
  checkVector(fn, 'bias', bias, C, false);
  return groupNormOp.call1([x, ...(weight || bias ? [weight ?? 1, bias ?? 0] : [])], { groups: numGroups, eps });
}
