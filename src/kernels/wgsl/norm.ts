/**
 * Batch-norm kernels over (N, C, inner) layouts:
 *   stats  one workgroup per channel: mean, then the biased variance as the mean of squared
 *          deviations (two passes over the channel inside one dispatch: stable, no E[x²]−E[x]²)
 *   apply  one thread per element: (x − mean[c]) / sqrt(var[c] + eps) · w[c] + b[c], optionally
 *          followed by ReLU in the same pass (the fused batchNormRelu epilogue)
 *   grad stats  (backward) one workgroup per channel: Σ g and Σ g·(x − mean[c]) in one pass
 *   grad coeffs (backward) one thread per channel: the per-channel coefficients of dx as one [3, C]
 *               tensor (rows A, B, D) and dγ, so backward's small vector algebra is one dispatch
 *   grad apply  (backward) one thread per element: g·A[c] + (x − m[c])·B[c] + D[c] (x − m first: with
 *               few values per channel, x·B and m·B are large and nearly cancel in float32)
 *   running     one thread per channel: both running-statistic updates
 * With the ReLU fused into the forward, the backward kernels read g = dy·[y > 0] from dy and y
 * instead of a separately materialised masked gradient.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';

export const NORM_WG = 256;

const statsLayout = new UniformLayout([
  { name: 'N', type: 'u32' }, { name: 'C', type: 'u32' }, { name: 'inner', type: 'u32' }, { name: 'count', type: 'u32' },
]);
const applyLayout = new UniformLayout([
  { name: 'n', type: 'u32' }, { name: 'C', type: 'u32' }, { name: 'inner', type: 'u32' }, { name: 'eps', type: 'f32' },
]);

export interface NormPlan { key: string; source: () => string; layout: UniformLayout; values: UniformValues; }

export function bnStatsPlan(N: number, C: number, inner: number): NormPlan {
  return { key: 'bn:stats', layout: statsLayout, values: { N, C, inner, count: N * inner }, source: statsSource };
}

export function bnApplyPlan(n: number, C: number, inner: number, eps: number, relu: boolean): NormPlan {
  return { key: `bn:apply:${relu ? 'relu' : 'id'}`, layout: applyLayout, values: { n, C, inner, eps }, source: () => applySource(relu) };
}

const statsSource = () => `${statsLayout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> variance: array<f32>;
var<workgroup> scratch: array<f32, ${NORM_WG}>;


fn total(lid: u32, v: f32) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = ${NORM_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { scratch[lid] += scratch[lid + s]; }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(${NORM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  // walk the channel's N rows of \`inner\` contiguous values (no index division per element)
  var s = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let rb = (n * p.C + c) * p.inner;
    for (var t = lid; t < p.inner; t += ${NORM_WG}u) { s += x[rb + t]; }
  }
  let m = total(lid, s) / f32(p.count);
  var q = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let rb = (n * p.C + c) * p.inner;
    for (var t = lid; t < p.inner; t += ${NORM_WG}u) { let d = x[rb + t] - m; q += d * d; }
  }
  let v = total(lid, q) / f32(p.count);
  if (lid == 0u) { mean[c] = m; variance[c] = v; }
}
`;

/** One thread per element of an NCHW-like tensor, with `c` its channel: reads the named buffers, writes `y`. */
const perChannelSource = (inputs: readonly string[], expr: string, output = 'y') => `${applyLayout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
${inputs.map((name, k) => `@group(0) @binding(${k + 1}) var<storage, read> ${name}: array<f32>;`).join('\n')}
@group(0) @binding(${inputs.length + 1}) var<storage, read_write> ${output}: array<f32>;

@compute @workgroup_size(${NORM_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${NORM_WG}u;
  if (i >= p.n) { return; }
  let c = (i / p.inner) % p.C;
  ${expr}
}
`;

const applySource = (relu: boolean) => perChannelSource(['x', 'mean', 'variance', 'w', 'b'],
  `let v = (x[i] - mean[c]) / sqrt(variance[c] + p.eps) * w[c] + b[c];\n  y[i] = ${relu ? 'select(v, 0.0, v < 0.0)' : 'v'};`);

export function bnGradStatsPlan(N: number, C: number, inner: number, relu: boolean): NormPlan {
  return { key: `bn:gradStats:${relu ? 'relu' : 'id'}`, layout: statsLayout, values: { N, C, inner, count: N * inner }, source: () => gradStatsSource(relu) };
}

export function bnGradApplyPlan(n: number, C: number, inner: number, relu: boolean): NormPlan {
  return { key: `bn:gradApply:${relu ? 'relu' : 'id'}`, layout: applyLayout, values: { n, C, inner, eps: 0 }, source: () => gradApplySource(relu) };
}

const coeffLayout = new UniformLayout([{ name: 'C', type: 'u32' }, { name: 'eps', type: 'f32' }, { name: 'invM', type: 'f32' }]);

export function bnGradCoeffsPlan(C: number, eps: number, M: number, statGrads: boolean): NormPlan {
  return { key: `bn:gradCoeffs:${statGrads ? 'stats' : 'plain'}`, layout: coeffLayout, values: { C, eps, invM: 1 / M }, source: () => gradCoeffsSource(statGrads) };
}

export function bnRunningPlan(C: number, factor: number, bessel: number): NormPlan {
  return { key: 'bn:running', layout: runningLayout, values: { C, keep: 1 - factor, factor, bessel }, source: runningSource };
}

/** g, or g·[y > 0] when the forward fused a ReLU (reads binding y). */
const maskedGrad = (relu: boolean, i: string) => (relu ? `select(g[${i}], 0.0, y[${i}] <= 0.0)` : `g[${i}]`);

const gradStatsSource = (relu: boolean) => `${statsLayout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
${relu ? '@group(0) @binding(2) var<storage, read> y: array<f32>;' : ''}
@group(0) @binding(${relu ? 3 : 2}) var<storage, read> x: array<f32>;
@group(0) @binding(${relu ? 4 : 3}) var<storage, read> mean: array<f32>;
@group(0) @binding(${relu ? 5 : 4}) var<storage, read_write> sg: array<f32>;
@group(0) @binding(${relu ? 6 : 5}) var<storage, read_write> sgxc: array<f32>;
var<workgroup> s1: array<f32, ${NORM_WG}>;
var<workgroup> s2: array<f32, ${NORM_WG}>;

@compute @workgroup_size(${NORM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  let m = mean[c];
  var a = 0.0; var b = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let rb = (n * p.C + c) * p.inner;
    for (var t = lid; t < p.inner; t += ${NORM_WG}u) { let gv = ${maskedGrad(relu, 'rb + t')}; a += gv; b += gv * (x[rb + t] - m); }
  }
  s1[lid] = a; s2[lid] = b;
  workgroupBarrier();
  for (var s = ${NORM_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { s1[lid] += s1[lid + s]; s2[lid] += s2[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { sg[c] = s1[0]; sgxc[c] = s2[0]; }
}
`;

// (the output binding is named out here: y is the forward output when a ReLU was fused)
const gradApplySource = (relu: boolean) => perChannelSource(relu ? ['g', 'y', 'x', 'm', 'coef'] : ['g', 'x', 'm', 'coef'],
  `out[i] = ${maskedGrad(relu, 'i')} * coef[c] + (x[i] - m[c]) * coef[p.C + c] + coef[2u * p.C + c];`, 'out');

/**
 * Per channel, with inv = 1/√(var + eps) and M values per channel (dMean/dVar: the cotangents of the
 * batch statistics, only bound when some loss used the statistics themselves):
 *   A = γ·inv   B = −γ·inv³·Σg(x−m)/M + 2·dVar/M   D = −γ·inv·Σg/M + dMean/M   dγ = inv·Σg(x−m)
 */
const gradCoeffsSource = (statGrads: boolean) => `${coeffLayout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> variance: array<f32>;
@group(0) @binding(3) var<storage, read> sg: array<f32>;
@group(0) @binding(4) var<storage, read> sgxc: array<f32>;
${statGrads ? `@group(0) @binding(5) var<storage, read> dmean: array<f32>;
@group(0) @binding(6) var<storage, read> dvar: array<f32>;` : ''}
@group(0) @binding(${statGrads ? 7 : 5}) var<storage, read_write> coef: array<f32>;
@group(0) @binding(${statGrads ? 8 : 6}) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(${NORM_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let inv = inverseSqrt(variance[c] + p.eps);
  let wInv = w[c] * inv;
  coef[c] = wInv;
  coef[p.C + c] = -wInv * inv * inv * sgxc[c] * p.invM${statGrads ? ' + 2.0 * dvar[c] * p.invM' : ''};
  coef[2u * p.C + c] = -wInv * sg[c] * p.invM${statGrads ? ' + dmean[c] * p.invM' : ''};
  dw[c] = sgxc[c] * inv;
}
`;

const runningLayout = new UniformLayout([{ name: 'C', type: 'u32' }, { name: 'keep', type: 'f32' }, { name: 'factor', type: 'f32' }, { name: 'bessel', type: 'f32' }]);

/** running_mean ← (1 − f)·running_mean + f·mean; running_var ← (1 − f)·running_var + f·bessel·var. */
const runningSource = () => `${runningLayout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rm: array<f32>;
@group(0) @binding(2) var<storage, read> rv: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> variance: array<f32>;
@group(0) @binding(5) var<storage, read_write> outMean: array<f32>;
@group(0) @binding(6) var<storage, read_write> outVar: array<f32>;

@compute @workgroup_size(${NORM_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  outMean[c] = p.keep * rm[c] + p.factor * mean[c];
  outVar[c] = p.keep * rv[c] + p.factor * p.bessel * variance[c];
}
`;
