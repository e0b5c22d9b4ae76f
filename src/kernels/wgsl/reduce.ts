/**
 * Generator for reductions over any set of axes. The shape is first split into kept and reduced
 * dims, merging neighbours of the same kind (so any contiguous run becomes one dim). Then:
 * - 't' (one thread per output): when each output combines few elements (≤ 64), or when the kept
 *   dims are innermost (an outer-axis reduction): neighbouring threads then read neighbouring
 *   addresses, which is coalesced.
 * - 'w' (one workgroup per output, or per chunk of an output): threads stride over the reduced
 *   elements, then a workgroup-memory tree. When the reduced elements are one contiguous run (an
 *   innermost-axis or full reduction) the loads need no index math and read vec4s where aligned.
 * - two passes: when there are few outputs and many reduced elements (e.g. a full reduction),
 *   pass 1 gives each output `splits` workgroups writing partial results (value, and index for
 *   argmax/argmin), and pass 2 reduces the partials (a contiguous innermost reduction).
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { wgslType, type DType } from '../../base/dtype';
import { stridesOf, type Shape } from '../../base/shape';
import { MAX_RANK } from './elementwise';
import { kernel, type Shader, type ShaderSpec, type StorageBinding } from './builder';

export type ReduceKind = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';
export const REDUCE_WG = 256;
/** Elements one pass-1 workgroup reduces when an output is split. */
export const SPLIT_CHUNK = 16384;

const layout = new UniformLayout([
  { name: 'nOut', type: 'u32' },
  { name: 'nRed', type: 'u32' },
  { name: 'rankK', type: 'u32' },
  { name: 'rankR', type: 'u32' },
  { name: 'splits', type: 'u32' },
  { name: 'chunk', type: 'u32' },
  { name: 'kshape', type: 'u32', vec4s: 2 },
  { name: 'kstride', type: 'u32', vec4s: 2 },
  { name: 'rshape', type: 'u32', vec4s: 2 },
  { name: 'rstride', type: 'u32', vec4s: 2 },
]);

export interface ReduceStage {
  key: string;
  source: () => Shader;
  values: UniformValues;
  layout: UniformLayout;
  workgroups: [number, number, number];
}

/**
 * One or two stages. With two, stage 0 writes `partials` values (and, for arg kinds, int32
 * indices to a second buffer) and stage 1 reads them; `partials` is the number of elements each
 * partial buffer needs.
 */
export interface ReducePlan {
  stages: ReduceStage[];
  partials: number;
  nOut: number;
}

/** Kept and reduced dims with their strides, size-1 dims dropped and same-kind neighbours merged. */
export function splitDims(shape: Shape, axes: readonly number[]) {
  const st = stridesOf(shape);
  const kshape: number[] = [],
    kstride: number[] = [],
    rshape: number[] = [],
    rstride: number[] = [];
  let last: 'k' | 'r' | null = null;
  shape.forEach((d, i) => {
    if (d === 1) return;
    const kind = axes.includes(i) ? 'r' : 'k';
    const [s, t] = kind === 'r' ? [rshape, rstride] : [kshape, kstride];
    if (last === kind) {
      s[s.length - 1] *= d;
      t[t.length - 1] = st[i];
    } else {
      s.push(d);
      t.push(st[i]);
    }
    last = kind;
  });
  return { kshape, kstride, rshape, rstride };
}

const groupsOf = (n: number): [number, number, number] => (n <= 65535 ? [n, 1, 1] : [65535, Math.ceil(n / 65535), 1]);

export function reducePlan(kind: ReduceKind, dtype: DType, shape: Shape, axes: readonly number[]): ReducePlan {
  if (shape.length > MAX_RANK) throw new Error(`${kind}: rank ${shape.length} exceeds ${MAX_RANK}`);
  const { kshape, kstride, rshape, rstride } = splitDims(shape, axes);
  const nOut = kshape.reduce((a, b) => a * b, 1);
  const nRed = rshape.reduce((a, b) => a * b, 1);
  const t = wgslType(dtype);
  const isArg = kind === 'argmax' || kind === 'argmin';
  const contiguous = rshape.length === 1 && rstride[0] === 1;
  const keptInner = kstride.length > 0 && kstride[kstride.length - 1] === 1;
  // many contiguous rows: a thread per row with vec4 loads (measured on lavapipe: 4096×1024 rows went
  // from 95 ms with a workgroup per row to the figure in bench/suites/reduce.ts)
  const rowThreads = contiguous && nOut >= 1024 && nRed <= 16384;
  const perThread = nRed <= 64 || (keptInner && nOut >= 1024) || rowThreads;
  const values = { nOut, nRed, rankK: kshape.length, rankR: rshape.length, kshape, kstride, rshape, rstride, splits: 1, chunk: nRed };
  if (perThread) {
    const vec4 = rowThreads && nRed % 4 === 0;
    return {
      nOut,
      partials: 0,
      stages: [
        {
          values,
          layout,
          workgroups: groupsOf(Math.ceil(nOut / REDUCE_WG)),
          ...kernel(
            'reduce',
            { kind, t, outT: isArg ? 'i32' : t, mode: 't', r1: rshape.length === 1, vec4, partialOut: false, partialIn: false },
            reduceShader,
          ),
        },
      ],
    };
  }
  const splits = nOut <= 64 && nRed >= 4 * SPLIT_CHUNK ? Math.min(Math.ceil(nRed / SPLIT_CHUNK), 4096) : 1;
  const chunk = splits > 1 ? Math.ceil(nRed / splits / 4) * 4 : nRed;
  // two reduced dims, the inner one contiguous (e.g. sum over [0, 2, 3] of NCHW): rows, no index math
  const rows = !contiguous && splits === 1 && rshape.length === 2 && rstride[1] === 1;
  const vec4 = rows ? rshape[1] % 4 === 0 && rstride[0] % 4 === 0 && kstride.every((v) => v % 4 === 0) : contiguous && nRed % 4 === 0;
  const mode = contiguous ? 'c' : rows ? 'r' : 'w';
  const first: ReduceStage = {
    values: { ...values, splits: Math.ceil(nRed / chunk), chunk },
    layout,
    workgroups: groupsOf(nOut * Math.ceil(nRed / chunk)),
    ...kernel('reduce', { kind, t, outT: isArg ? 'i32' : t, mode, r1: false, vec4, partialOut: splits > 1, partialIn: false }, reduceShader),
  };
  if (splits === 1) return { nOut, partials: 0, stages: [first] };
  const S = Math.ceil(nRed / chunk);
  // pass 2: partials laid out [nOut, S], reduced over the contiguous last axis
  const second: ReduceStage = {
    values: { nOut, nRed: S, rankK: 1, rankR: 1, kshape: [nOut], kstride: [S], rshape: [S], rstride: [1], splits: 1, chunk: S },
    layout,
    workgroups: groupsOf(nOut),
    ...kernel('reduce', { kind, t, outT: isArg ? 'i32' : t, mode: 'c', r1: false, vec4: false, partialOut: false, partialIn: isArg }, reduceShader),
  };
  return { nOut, partials: nOut * S, stages: [first, second] };
}

function init(kind: ReduceKind, t: string): string {
  if (kind === 'sum') return `${t}(0)`;
  if (kind === 'prod') return `${t}(1)`;
  const big = t === 'f32' ? 'inf_f32()' : t === 'i32' ? 'i32(2147483647)' : '4294967295u';
  const small = t === 'f32' ? '-inf_f32()' : t === 'i32' ? 'i32(-2147483647 - 1)' : '0u';
  return kind === 'max' || kind === 'argmax' ? small : big;
}

interface SourceOptions {
  kind: ReduceKind;
  t: string;
  outT: string;
  /** 't': thread per output; 'w': workgroup per output chunk, general addressing; 'c': same, one contiguous run;
   *  'r': workgroup per output over rshape[0] contiguous rows of rshape[1] (no splits). */
  mode: 't' | 'w' | 'c' | 'r';
  /** One reduced dim (thread mode): offset = r · stride, no division. */
  r1: boolean;
  vec4: boolean;
  /** Writes partial values (and indices for arg kinds) instead of final results. */
  partialOut: boolean;
  /** Reads indices of partial results from a second input (pass 2 of an arg kind). */
  partialIn: boolean;
}

function reduceShader(o: SourceOptions): ShaderSpec {
  const { kind, t, mode } = o;
  const isArg = kind === 'argmax' || kind === 'argmin';
  const nanAware = t === 'f32';
  // combine(a, b): for arg kinds keeps the first index among equal values; NaN wins (PyTorch)
  const better = kind === 'max' || kind === 'argmax' ? '>' : '<';
  const combine =
    kind === 'sum'
      ? 'return V(a.v + b.v, 0);'
      : kind === 'prod'
        ? 'return V(a.v * b.v, 0);'
        : `
  ${nanAware ? 'if (is_nan(a.v) || is_nan(b.v)) { if (is_nan(a.v) && (!is_nan(b.v) || a.i <= b.i)) { return a; } return b; }' : ''}
  if (b.v ${better} a.v || (b.v == a.v && b.i < a.i)) { return b; }
  return a;`;
  const write = (acc: string) => (o.partialOut ? `out[w] = ${acc}.v;${isArg ? ` outIdx[w] = ${acc}.i;` : ''}` : `out[o] = ${isArg ? `${acc}.i` : `${acc}.v`};`);
  let body: string;
  if (mode === 't') {
    body = `
  let o = (wid.x + wid.y * nwg.x) * ${REDUCE_WG}u + li;
  if (o >= p.nOut) { return; }
  let base = keptOffset(o);
  var acc = V(${init(kind, t)}, 0);
  ${o.r1 ? 'let rs = p.rstride[0][0];' : ''}
  ${
    o.vec4
      ? `for (var r = 0u; r < p.nRed; r += 4u) {
    let q = x[(base + r) / 4u];
    acc = combine(acc, V(q.x, i32(r))); acc = combine(acc, V(q.y, i32(r + 1u)));
    acc = combine(acc, V(q.z, i32(r + 2u))); acc = combine(acc, V(q.w, i32(r + 3u)));
  }`
      : `for (var r = 0u; r < p.nRed; r++) { acc = combine(acc, V(x[base + ${o.r1 ? 'r * rs' : 'redOffset(r)'}], i32(r))); }`
  }
  out[o] = ${isArg ? 'acc.i' : 'acc.v'};`;
  } else {
    const load =
      mode === 'r'
        ? `let rows = p.rshape[0][0]; let len = p.rshape[0][1]; let rs = p.rstride[0][0];
  for (var a = 0u; a < rows; a++) {
    let rb = base + a * rs; let ib = a * len;
    ${
      o.vec4
        ? `for (var r = li * 4u; r < len; r += ${REDUCE_WG * 4}u) {
      let q = x[(rb + r) / 4u]; let j = i32(ib + r);
      acc = combine(acc, V(q.x, j)); acc = combine(acc, V(q.y, j + 1)); acc = combine(acc, V(q.z, j + 2)); acc = combine(acc, V(q.w, j + 3));
    }`
        : `for (var r = li; r < len; r += ${REDUCE_WG}u) { acc = combine(acc, V(x[rb + r], i32(ib + r))); }`
    }
  }`
        : mode === 'w'
          ? `for (var r = lo + li; r < hi; r += ${REDUCE_WG}u) { acc = combine(acc, V(x[base + redOffset(r)], i32(r))); }`
          : o.vec4
            ? `for (var r = lo + li * 4u; r < hi; r += ${REDUCE_WG * 4}u) {
    let q = x[(base + r) / 4u];
    acc = combine(acc, V(q.x, i32(r))); acc = combine(acc, V(q.y, i32(r + 1u)));
    acc = combine(acc, V(q.z, i32(r + 2u))); acc = combine(acc, V(q.w, i32(r + 3u)));
  }`
            : `for (var r = lo + li; r < hi; r += ${REDUCE_WG}u) { acc = combine(acc, V(x[base + r], ${o.partialIn ? 'xi[base + r]' : 'i32(r)'})); }`;
    body = `
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.nOut * p.splits) { return; }
  let o = w / p.splits;
  let lo = (w % p.splits) * p.chunk;
  let hi = min(lo + p.chunk, p.nRed);
  let base = ${mode === 'c' ? 'o * p.nRed' : 'keptOffset(o)'};
  var acc = V(${init(kind, t)}, 2147483647);
  ${load}
  scratch[li] = acc;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s >>= 1u) {
    if (li < s) { scratch[li] = combine(scratch[li], scratch[li + s]); }
    workgroupBarrier();
  }
  if (li == 0u) { ${write('scratch[0]')} }`;
  }
  const storage: StorageBinding[] = [
    { name: 'x', type: o.vec4 ? `vec4<${t}>` : t },
    ...(o.partialIn ? [{ name: 'xi', type: 'i32' }] : []),
    ...(o.partialOut
      ? [{ name: 'out', type: t, access: 'read_write' as const }, ...(isArg ? [{ name: 'outIdx', type: 'i32', access: 'read_write' as const }] : [])]
      : [{ name: 'out', type: o.outT, access: 'read_write' as const }]),
  ];
  return {
    uniforms: layout,
    storage,
    workgroupSize: REDUCE_WG,
    body,
    decls: `struct V { v: ${t}, i: i32 };
${mode === 't' ? '' : `var<workgroup> scratch: array<V, ${REDUCE_WG}>;`}
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
}`,
  };
}
