/**
 * Generator for reductions over any set of axes. One workgroup reduces one output element
 * (threads stride over the reduced elements, then a workgroup-memory tree), or, when the
 * reduced extent is small, one thread reduces one output element.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { wgslType, type DType } from '../../tensor/dtype';
import { stridesOf, type Shape } from '../../tensor/shape';
import { MAX_RANK } from './elementwise';

export type ReduceKind = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';
export const REDUCE_WG = 256;

const layout = new UniformLayout([
  { name: 'nOut', type: 'u32' }, { name: 'nRed', type: 'u32' }, { name: 'rankK', type: 'u32' }, { name: 'rankR', type: 'u32' },
  { name: 'kshape', type: 'u32', vec4s: 2 }, { name: 'kstride', type: 'u32', vec4s: 2 },
  { name: 'rshape', type: 'u32', vec4s: 2 }, { name: 'rstride', type: 'u32', vec4s: 2 },
]);

export interface ReducePlan { key: string; source: () => string; values: UniformValues; layout: UniformLayout; workgroups: [number, number, number]; nOut: number; }

/** Splits `shape` into kept and reduced dims, merging neighbours that stay adjacent in memory. */
export function reducePlan(kind: ReduceKind, dtype: DType, shape: Shape, axes: readonly number[]): ReducePlan {
  if (shape.length > MAX_RANK) throw new Error(`${kind}: rank ${shape.length} exceeds ${MAX_RANK}`);
  const st = stridesOf(shape);
  const kshape: number[] = [], kstride: number[] = [], rshape: number[] = [], rstride: number[] = [];
  shape.forEach((d, i) => { if (axes.includes(i)) { rshape.push(d); rstride.push(st[i]); } else { kshape.push(d); kstride.push(st[i]); } });
  const nOut = kshape.reduce((a, b) => a * b, 1);
  const nRed = rshape.reduce((a, b) => a * b, 1);
  const perThread = nRed <= 64;
  const t = wgslType(dtype);
  const isArg = kind === 'argmax' || kind === 'argmin';
  const outT = isArg ? 'i32' : t;
  const key = `reduce:${kind}:${t}:${perThread ? 't' : 'w'}`;
  const values = { nOut, nRed, rankK: kshape.length, rankR: rshape.length, kshape, kstride, rshape, rstride };
  const groups = perThread ? Math.ceil(nOut / REDUCE_WG) : nOut;
  const workgroups: [number, number, number] = groups <= 65535 ? [groups, 1, 1] : [65535, Math.ceil(groups / 65535), 1];
  return { key, values, layout, workgroups, nOut, source: () => reduceSource(kind, t, outT, perThread) };
}

function init(kind: ReduceKind, t: string): string {
  if (kind === 'sum') return `${t}(0)`;
  if (kind === 'prod') return `${t}(1)`;
  const big = t === 'f32' ? 'inf_f32()' : t === 'i32' ? 'i32(2147483647)' : '4294967295u';
  const small = t === 'f32' ? '-inf_f32()' : t === 'i32' ? 'i32(-2147483647 - 1)' : '0u';
  return kind === 'max' || kind === 'argmax' ? small : big;
}

function reduceSource(kind: ReduceKind, t: string, outT: string, perThread: boolean): string {
  const isArg = kind === 'argmax' || kind === 'argmin';
  const nanAware = t === 'f32';
  // combine(a, ia, b, ib): for arg kinds keeps the first index among equal values; NaN wins (PyTorch)
  const better = kind === 'max' || kind === 'argmax' ? '>' : '<';
  const combine = kind === 'sum' ? 'return V(a.v + b.v, 0);'
    : kind === 'prod' ? 'return V(a.v * b.v, 0);'
    : `
  ${nanAware ? 'if (is_nan(a.v) || is_nan(b.v)) { if (is_nan(a.v) && (!is_nan(b.v) || a.i <= b.i)) { return a; } return b; }' : ''}
  if (b.v ${better} a.v || (b.v == a.v && b.i < a.i)) { return b; }
  return a;`;
  const body = perThread
    ? `
  let o = (wid.x + wid.y * nwg.x) * ${REDUCE_WG}u + lid;
  if (o >= p.nOut) { return; }
  let base = keptOffset(o);
  var acc = V(${init(kind, t)}, 0);
  for (var r = 0u; r < p.nRed; r++) { acc = combine(acc, V(x[base + redOffset(r)], i32(r))); }
  out[o] = ${isArg ? 'acc.i' : 'acc.v'};`
    : `
  let o = wid.x + wid.y * nwg.x;
  if (o >= p.nOut) { return; }
  let base = keptOffset(o);
  var acc = V(${init(kind, t)}, 2147483647);
  for (var r = lid; r < p.nRed; r += ${REDUCE_WG}u) { acc = combine(acc, V(x[base + redOffset(r)], i32(r))); }
  scratch[lid] = acc;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { scratch[lid] = combine(scratch[lid], scratch[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { out[o] = ${isArg ? 'scratch[0].i' : 'scratch[0].v'}; }`;
  return `${layout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${outT}>;
struct V { v: ${t}, i: i32 };
${perThread ? '' : `var<workgroup> scratch: array<V, ${REDUCE_WG}>;`}
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn inf_f32() -> f32 { var bits = 0x7f800000u; return bitcast<f32>(bits); }
fn combine(a: V, b: V) -> V {${combine}
}
fn keptOffset(o: u32) -> u32 {
  var r = o; var off = 0u;
  for (var d = i32(p.rankK) - 1; d >= 0; d--) {
    let k = u32(d); let sz = p.kshape[k / 4u][k % 4u];
    off += (r % sz) * p.kstride[k / 4u][k % 4u]; r = r / sz;
  }
  return off;
}
fn redOffset(q: u32) -> u32 {
  var r = q; var off = 0u;
  for (var d = i32(p.rankR) - 1; d >= 0; d--) {
    let k = u32(d); let sz = p.rshape[k / 4u][k % 4u];
    off += (r % sz) * p.rstride[k / 4u][k % 4u]; r = r / sz;
  }
  return off;
}
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {${body}
}
`;
}
