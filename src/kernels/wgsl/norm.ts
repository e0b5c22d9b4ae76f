/**
 * Batch-norm kernels over (N, C, inner) layouts:
 *   stats  one workgroup per channel: mean, then the biased variance as the mean of squared
 *          deviations (two passes over the channel inside one dispatch: stable, no E[x²]−E[x]²)
 *   apply  one thread per element: (x − mean[c]) / sqrt(var[c] + eps) · w[c] + b[c], optionally
 *          followed by ReLU in the same pass (the fused batchNormRelu epilogue)
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

fn at(c: u32, t: u32) -> f32 {
  let n = t / p.inner;
  return x[(n * p.C + c) * p.inner + (t - n * p.inner)];
}

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
  var s = 0.0;
  for (var t = lid; t < p.count; t += ${NORM_WG}u) { s += at(c, t); }
  let m = total(lid, s) / f32(p.count);
  var q = 0.0;
  for (var t = lid; t < p.count; t += ${NORM_WG}u) { let d = at(c, t) - m; q += d * d; }
  let v = total(lid, q) / f32(p.count);
  if (lid == 0u) { mean[c] = m; variance[c] = v; }
}
`;

const applySource = (relu: boolean) => `${applyLayout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> variance: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> b: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(${NORM_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${NORM_WG}u;
  if (i >= p.n) { return; }
  let c = (i / p.inner) % p.C;
  let v = (x[i] - mean[c]) / sqrt(variance[c] + p.eps) * w[c] + b[c];
  y[i] = ${relu ? 'max(v, 0.0)' : 'v'};
}
`;
