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
import { kernel, type Shader, type ShaderSpec } from './builder';

export const NORM_WG = 256;

const statsLayout = new UniformLayout([
  { name: 'N', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'count', type: 'u32' },
]);
const applyLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'eps', type: 'f32' },
]);

export interface NormPlan {
  key: string;
  source: () => Shader;
  layout: UniformLayout;
  values: UniformValues;
}

export function bnStatsPlan(N: number, C: number, inner: number): NormPlan {
  return { layout: statsLayout, values: { N, C, inner, count: N * inner }, ...kernel('bn', { op: 'stats' }, statsShader) };
}

export function bnApplyPlan(n: number, C: number, inner: number, eps: number, relu: boolean): NormPlan {
  return { layout: applyLayout, values: { n, C, inner, eps }, ...kernel('bn', { op: 'apply', relu }, (v) => applyShader(v.relu)) };
}

const statsShader = (): ShaderSpec => ({
  uniforms: statsLayout,
  workgroupSize: NORM_WG,
  storage: [
    { name: 'x', type: 'f32' },
    { name: 'mean', type: 'f32', access: 'read_write' as const },
    { name: 'variance', type: 'f32', access: 'read_write' as const },
  ],
  decls: `var<workgroup> scratch: array<f32, ${NORM_WG}>;
fn total(li: u32, v: f32) -> f32 {
  scratch[li] = v;
  workgroupBarrier();
  for (var s = ${NORM_WG / 2}u; s > 0u; s >>= 1u) {
    if (li < s) { scratch[li] += scratch[li + s]; }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
  return r;
}`,
  body: `
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  // walk the channel's N rows of \`inner\` contiguous values (no index division per element)
  var s = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let rb = (n * p.C + c) * p.inner;
    for (var t = li; t < p.inner; t += ${NORM_WG}u) { s += x[rb + t]; }
  }
  let m = total(li, s) / f32(p.count);
  var q = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let rb = (n * p.C + c) * p.inner;
    for (var t = li; t < p.inner; t += ${NORM_WG}u) { let d = x[rb + t] - m; q += d * d; }
  }
  let v = total(li, q) / f32(p.count);
  if (li == 0u) { mean[c] = m; variance[c] = v; }`,
});

/** Elements of one (n, c) row each thread of the per-channel kernels walks (4 per thread, 64 threads per workgroup). */
const ROW_PER_THREAD = 4;
const ROW_WG = 64;

/**
 * Workgroups of a per-channel kernel: x over one (n, c) row of `inner` values, y (folded into z past 65535) over
 * the N·C rows. A workgroup stays inside one row, so the channel is one division per thread rather than two per
 * element (lavapipe turns every vector integer division into scalar ones), and the per-channel values are
 * loaded once per thread.
 */
export function perChannelWorkgroups(n: number, inner: number): [number, number, number] {
  const rows = inner === 0 ? 0 : n / inner;
  const x = Math.ceil(inner / (ROW_WG * ROW_PER_THREAD));
  return rows <= 65535 ? [x, rows, 1] : [x, 65535, Math.ceil(rows / 65535)];
}

/**
 * Per-channel kernel over an NCHW-like tensor: \`pre\` runs once per thread with \`c\` its channel, \`expr\` once per
 * element \`i\`; reads the named buffers, writes \`output\`.
 */
const perChannelShader = (inputs: readonly string[], pre: string, expr: string, output = 'y'): ShaderSpec => ({
  uniforms: applyLayout,
  workgroupSize: ROW_WG,
  storage: [...inputs.map((name) => ({ name, type: 'f32' })), { name: output, type: 'f32', access: 'read_write' }],
  body: `
  let row = wid.y + wid.z * nwg.y;
  if (row * p.inner >= p.n) { return; }
  let c = row % p.C;
  let base = row * p.inner;
  ${pre}
  for (var k = 0u; k < ${ROW_PER_THREAD}u; k++) {
    let t = (wid.x * ${ROW_PER_THREAD}u + k) * ${ROW_WG}u + lid.x;
    if (t >= p.inner) { break; }
    let i = base + t;
    ${expr}
  }`,
});

const applyShader = (relu: boolean) =>
  perChannelShader(
    ['x', 'mean', 'variance', 'w', 'b'],
    'let mc = mean[c]; let sd = sqrt(variance[c] + p.eps); let wc = w[c]; let bc = b[c];',
    `let v = (x[i] - mc) / sd * wc + bc;\n    y[i] = ${relu ? 'select(v, 0.0, v < 0.0)' : 'v'};`,
  );

export function bnGradStatsPlan(N: number, C: number, inner: number, relu: boolean): NormPlan {
  return { layout: statsLayout, values: { N, C, inner, count: N * inner }, ...kernel('bn', { op: 'gradStats', relu }, (v) => gradStatsShader(v.relu)) };
}

export function bnGradApplyPlan(n: number, C: number, inner: number, relu: boolean): NormPlan {
  return { layout: applyLayout, values: { n, C, inner, eps: 0 }, ...kernel('bn', { op: 'gradApply', relu }, (v) => gradApplyShader(v.relu)) };
}

const coeffLayout = new UniformLayout([
  { name: 'C', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'invM', type: 'f32' },
]);

export function bnGradCoeffsPlan(C: number, eps: number, M: number, statGrads: boolean): NormPlan {
  return { layout: coeffLayout, values: { C, eps, invM: 1 / M }, ...kernel('bn', { op: 'gradCoeffs', statGrads }, (v) => gradCoeffsShader(v.statGrads)) };
}

export function bnRunningPlan(C: number, factor: number, bessel: number): NormPlan {
  return { layout: runningLayout, values: { C, keep: 1 - factor, factor, bessel }, ...kernel('bn', { op: 'running' }, runningShader) };
}

/** g, or g·[y > 0] when the forward fused a ReLU (reads binding y). */
const maskedGrad = (relu: boolean, i: string) => (relu ? `select(g[${i}], 0.0, y[${i}] <= 0.0)` : `g[${i}]`);

const gradStatsShader = (relu: boolean): ShaderSpec => ({
  uniforms: statsLayout,
  workgroupSize: NORM_WG,
  storage: [
    { name: 'g', type: 'f32' },
    ...(relu ? [{ name: 'y', type: 'f32' }] : []),
    { name: 'x', type: 'f32' },
    { name: 'mean', type: 'f32' },
    { name: 'sg', type: 'f32', access: 'read_write' },
    { name: 'sgxc', type: 'f32', access: 'read_write' },
  ],
  decls: `var<workgroup> s1: array<f32, ${NORM_WG}>;
var<workgroup> s2: array<f32, ${NORM_WG}>;`,
  body: `
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  let m = mean[c];
  var a = 0.0; var b = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let rb = (n * p.C + c) * p.inner;
    for (var t = li; t < p.inner; t += ${NORM_WG}u) { let gv = ${maskedGrad(relu, 'rb + t')}; a += gv; b += gv * (x[rb + t] - m); }
  }
  s1[li] = a; s2[li] = b;
  workgroupBarrier();
  for (var s = ${NORM_WG / 2}u; s > 0u; s >>= 1u) {
    if (li < s) { s1[li] += s1[li + s]; s2[li] += s2[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) { sg[c] = s1[0]; sgxc[c] = s2[0]; }`,
});

// (the output binding is named out here: y is the forward output when a ReLU was fused)
const gradApplyShader = (relu: boolean) =>
  perChannelShader(
    relu ? ['g', 'y', 'x', 'm', 'coef'] : ['g', 'x', 'm', 'coef'],
    'let A = coef[c]; let B = coef[p.C + c]; let D = coef[2u * p.C + c]; let mc = m[c];',
    `out[i] = ${maskedGrad(relu, 'i')} * A + (x[i] - mc) * B + D;`,
    'out',
  );

/**
 * Per channel, with inv = 1/√(var + eps) and M values per channel (dMean/dVar: the cotangents of the
 * batch statistics, only bound when some loss used the statistics themselves):
 *   A = γ·inv   B = −γ·inv³·Σg(x−m)/M + 2·dVar/M   D = −γ·inv·Σg/M + dMean/M   dγ = inv·Σg(x−m)
 */
const gradCoeffsShader = (statGrads: boolean): ShaderSpec => ({
  uniforms: coeffLayout,
  workgroupSize: NORM_WG,
  storage: [
    ...['w', 'variance', 'sg', 'sgxc', ...(statGrads ? ['dmean', 'dvar'] : [])].map((name) => ({ name, type: 'f32' })),
    { name: 'coef', type: 'f32', access: 'read_write' },
    { name: 'dw', type: 'f32', access: 'read_write' },
  ],
  body: `
  let c = gid.x;
  if (c >= p.C) { return; }
  let inv = inverseSqrt(variance[c] + p.eps);
  let wInv = w[c] * inv;
  coef[c] = wInv;
  coef[p.C + c] = -wInv * inv * inv * sgxc[c] * p.invM${statGrads ? ' + 2.0 * dvar[c] * p.invM' : ''};
  coef[2u * p.C + c] = -wInv * sg[c] * p.invM${statGrads ? ' + dmean[c] * p.invM' : ''};
  dw[c] = sgxc[c] * inv;`,
});

const runningLayout = new UniformLayout([
  { name: 'C', type: 'u32' },
  { name: 'keep', type: 'f32' },
  { name: 'factor', type: 'f32' },
  { name: 'bessel', type: 'f32' },
]);

/** running_mean ← (1 − f)·running_mean + f·mean; running_var ← (1 − f)·running_var + f·bessel·var. */
const runningShader = (): ShaderSpec => ({
  uniforms: runningLayout,
  workgroupSize: NORM_WG,
  storage: [
    ...['rm', 'rv', 'mean', 'variance'].map((name) => ({ name, type: 'f32' })),
    { name: 'outMean', type: 'f32', access: 'read_write' },
    { name: 'outVar', type: 'f32', access: 'read_write' },
  ],
  body: `
  let c = gid.x;
  if (c >= p.C) { return; }
  outMean[c] = p.keep * rm[c] + p.factor * mean[c];
  outVar[c] = p.keep * rv[c] + p.factor * p.bessel * variance[c];`,
});
