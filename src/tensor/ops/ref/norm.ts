/**
 * Float64 references for batch, layer and group normalisation, from the definitions in PyTorch's
 * docs: y = (x − E[x]) / sqrt(Var[x] + eps) · γ + β with the biased variance for normalising.
 */
import type { RefTensor } from '../../../base/ref-tensor';

const prodOf = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Per-channel (dim 1) batch statistics: mean and biased variance over every other dim. */
export function refChannelStats(x: RefTensor): { mean: Float64Array; variance: Float64Array; count: number } {
  const [N, C] = x.shape;
  const inner = prodOf(x.shape.slice(2));
  const mean = new Float64Array(C),
    variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const vals: number[] = [];
    for (let n = 0; n < N; n++) for (let j = 0; j < inner; j++) vals.push(x.data[(n * C + c) * inner + j]);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    mean[c] = m;
    variance[c] = vals.reduce((a, v) => a + (v - m) ** 2, 0) / vals.length;
  }
  return { mean, variance, count: N * inner };
}

function normalise(x: RefTensor, mean: ArrayLike<number>, variance: ArrayLike<number>, w: RefTensor, b: RefTensor, eps: number, relu: boolean): RefTensor {
  const C = x.shape[1];
  const inner = prodOf(x.shape.slice(2));
  const y = x.data.map((v, i) => {
    const c = Math.floor(i / inner) % C;
    const r = ((v - mean[c]) / Math.sqrt(variance[c] + eps)) * w.data[c] + b.data[c];
    return relu ? Math.max(r, 0) : r;
  });
  return { shape: x.shape.slice(), dtype: 'float32', data: y };
}

/** Training mode: normalises with the batch statistics; also returns them (mean, biased variance). */
export function refBatchNormTrain(x: RefTensor, w: RefTensor, b: RefTensor, eps: number, relu: boolean): RefTensor[] {
  const { mean, variance } = refChannelStats(x);
  const C = x.shape[1];
  return [normalise(x, mean, variance, w, b, eps, relu), { shape: [C], dtype: 'float32', data: mean }, { shape: [C], dtype: 'float32', data: variance }];
}

/** Evaluation mode: normalises with the running statistics. */
export function refBatchNormEval(x: RefTensor, rm: RefTensor, rv: RefTensor, w: RefTensor, b: RefTensor, eps: number, relu: boolean): RefTensor {
  return normalise(x, rm.data, rv.data, w, b, eps, relu);
}

/** Normalises each contiguous group of `groupSize` elements; scale/shift index = position % period / repeat. */
function normaliseGroups(x: RefTensor, groupSize: number, eps: number): Float64Array {
  const out = new Float64Array(x.data.length);
  for (let g = 0; g < x.data.length / groupSize; g++) {
    const seg = x.data.subarray(g * groupSize, (g + 1) * groupSize);
    const m = seg.reduce((a, v) => a + v, 0) / groupSize;
    const v = seg.reduce((a, u) => a + (u - m) ** 2, 0) / groupSize;
    for (let k = 0; k < groupSize; k++) out[g * groupSize + k] = (seg[k] - m) / Math.sqrt(v + eps);
  }
  return out;
}

/** layer_norm over the trailing dims `normalized` (γ and β have that shape). */
export function refLayerNorm(x: RefTensor, normalized: number[], w: RefTensor | null, b: RefTensor | null, eps: number): RefTensor {
  const k = prodOf(normalized);
  const z = normaliseGroups(x, k, eps);
  const y = z.map((v, i) => v * (w ? w.data[i % k] : 1) + (b ? b.data[i % k] : 0));
  return { shape: x.shape.slice(), dtype: 'float32', data: y };
}

/** group_norm: channels split into `groups` consecutive groups, statistics per (sample, group); γ/β per channel. */
export function refGroupNorm(x: RefTensor, groups: number, w: RefTensor | null, b: RefTensor | null, eps: number): RefTensor {
  const C = x.shape[1];
  const inner = prodOf(x.shape.slice(2));
  const z = normaliseGroups(x, (C / groups) * inner, eps);
  const y = z.map((v, i) => {
    const c = Math.floor(i / inner) % C;
    return v * (w ? w.data[c] : 1) + (b ? b.data[c] : 0);
  });
  return { shape: x.shape.slice(), dtype: 'float32', data: y };
}

/** g, or g·[y > 0] with a fused ReLU: the gradient reaching the normalised pre-activation. */
const masked = (g: RefTensor, y: RefTensor, relu: boolean, i: number) => (relu && y.data[i] <= 0 ? 0 : g.data[i]);

/** Per channel c of (N, C, …): [Σ g, Σ g·(x − mean[c])] over every other axis (batch-norm backward's two sums). */
export function refBatchNormGradStats(g: RefTensor, y: RefTensor, x: RefTensor, mean: RefTensor, relu: boolean): RefTensor[] {
  const C = g.shape[1];
  const inner = g.shape.slice(2).reduce((a, v) => a * v, 1);
  const sg = new Float64Array(C),
    sgxc = new Float64Array(C);
  for (let i = 0; i < g.data.length; i++) {
    const c = Math.floor(i / inner) % C;
    const gv = masked(g, y, relu, i);
    sg[c] += gv;
    sgxc[c] += gv * (x.data[i] - mean.data[c]);
  }
  return [
    { shape: [C], dtype: 'float32', data: sg },
    { shape: [C], dtype: 'float32', data: sgxc },
  ];
}

/** Batch-norm backward's per-channel coefficients [rows A, B, D; dγ] (see the kernel's comment); absent dMean/dVar count as 0. */
export function refBatchNormGradCoeffs(
  w: RefTensor,
  variance: RefTensor,
  sg: RefTensor,
  sgxc: RefTensor,
  dMean: RefTensor | undefined,
  dVar: RefTensor | undefined,
  eps: number,
  M: number,
): RefTensor[] {
  const C = w.shape[0];
  const out = new Float64Array(3 * C),
    dw = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const inv = 1 / Math.sqrt(variance.data[c] + eps);
    out[c] = w.data[c] * inv;
    out[C + c] = (-w.data[c] * inv ** 3 * sgxc.data[c]) / M + (2 * (dVar?.data[c] ?? 0)) / M;
    out[2 * C + c] = (-w.data[c] * inv * sg.data[c]) / M + (dMean?.data[c] ?? 0) / M;
    dw[c] = sgxc.data[c] * inv;
  }
  return [
    { shape: [3, C], dtype: 'float32', data: out },
    { shape: [C], dtype: 'float32', data: dw },
  ];
}

/** g·A[c] + (x − m[c])·B[c] + D[c] over (N, C, …) with coef rows [A, B, D] (batch-norm backward's dx). */
export function refBatchNormGradApply(g: RefTensor, y: RefTensor, x: RefTensor, m: RefTensor, coef: RefTensor, relu: boolean): RefTensor {
  const C = g.shape[1];
  const inner = g.shape.slice(2).reduce((s, v) => s * v, 1);
  const out = new Float64Array(g.data.length);
  for (let i = 0; i < out.length; i++) {
    const c = Math.floor(i / inner) % C;
    out[i] = masked(g, y, relu, i) * coef.data[c] + (x.data[i] - m.data[c]) * coef.data[C + c] + coef.data[2 * C + c];
  }
  return { shape: g.shape.slice(), dtype: 'float32', data: out };
}

/** The two running-statistic updates: [(1 − f)·rm + f·mean, (1 − f)·rv + f·bessel·var]. */
export function refBatchNormRunning(rm: RefTensor, rv: RefTensor, mean: RefTensor, variance: RefTensor, factor: number, bessel: number): RefTensor[] {
  const C = rm.shape[0];
  const m = new Float64Array(C),
    v = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    m[c] = (1 - factor) * rm.data[c] + factor * mean.data[c];
    v[c] = (1 - factor) * rv.data[c] + factor * bessel * variance.data[c];
  }
  return [
    { shape: [C], dtype: 'float32', data: m },
    { shape: [C], dtype: 'float32', data: v },
  ];
}
