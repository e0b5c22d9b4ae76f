/**
 * Non-maximum suppression kernels (src/detection/nms.ts drives them).
 *
 * Sort: entries are (key, flat index) pairs; key is the score mapped to a u32 that orders like the
 * float (NaN above +∞, −0 equal to +0), or 0 for a filtered entry or padding. Order: segment
 * (flat index / segLen) ascending, key descending, index ascending, so the sort is stable by index.
 * A bitonic network over a power of two ≥ 512: `sortLocal` sorts or merges 512-element blocks in
 * workgroup memory, `sortGlobal` does the compare-exchange steps whose distance is ≥ 512.
 *
 * Preselection (one image with a max-detections limit): `histogram` counts keys by their top 16
 * bits, `select` finds the highest bucket boundary with enough keys above it, `compact` copies
 * those keys out and `pad` pads them to a power of two for the sort.
 *
 * Sweep: the sorted boxes are taken in tiles of 256. `resolve` (one workgroup) computes the tile's
 * 256×256 upper-triangular suppression bitmask in workgroup memory, then one thread walks the tile
 * in order and keeps every box nothing kept before it suppressed (appending to the kept list);
 * `propagate` then marks every later box that one of the tile's kept boxes suppresses. Memory is
 * O(N); the IoU work is (kept boxes) × (boxes after them), and a `done` flag in the state buffer
 * (max detections reached, or no valid box left) makes the remaining dispatches return at once.
 *
 * State buffer (u32): [0] kept so far, [1] kept before the current tile, [2] done, [3] one past the
 * last valid sorted position, [4] segments that reached max detections, [8 + s] kept in segment s.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel, type ShaderSpec } from './builder';

/** Threads per workgroup of every NMS kernel. */
export const NMS_WG = 256;
/** Boxes per tile of the suppression sweep. */
export const NMS_TILE = 256;
/** Elements one workgroup sorts in workgroup memory (the sort's length is a multiple of it). */
export const SORT_BLOCK = 512;
/** Offset of the per-segment kept counts in the state buffer. */
export const STATE_COUNTS = 8;

// Without segments (one image) the segment test is left out: integer division is slow on CPU adapters.
const before = (segmented: boolean) => `
fn before(a: vec2<u32>, b: vec2<u32>) -> bool {${
  segmented
    ? `
  let sa = a.y / p.segLen;
  let sb = b.y / p.segLen;
  if (sa != sb) { return sa < sb; }`
    : ''
}
  if (a.x != b.x) { return a.x > b.x; }
  return a.y < b.y;
}`;

// torchvision's IoU, operation for operation: areas, clamped intersection, union = (a1 + a2) − inter.
// Whether float32(inter / union) > T is decided exactly, without the division (WGSL lets f32
// division be 2.5 ULP off): float32 rounding puts the quotient above T exactly when it exceeds the
// midpoint between T and the next float, A·2^eA (A = 2·mantissa(T) + 1), or equals it and that
// next float is the even one (T's mantissa odd). inter and union are split into 24-bit mantissas
// and exponents; with d = e(inter) − e(union) − eA the answer is plain for d ≤ 23 (no) and d ≥ 26
// (yes); d = 24, 25 compare mantissa(inter)·2^d with A·mantissa(union) in 64 bits.
// tmode (set on the host from T): 0 the exact test (0 ≤ T < 1), 1 T < 0 (always), 2 T ≥ 1 (never:
// IoU ≤ 1). A zero union (0/0, both boxes degenerate)
// follows nanSup: torchvision keeps (NaN > t is false), d2l suppresses (NaN <= t is false).
const SUPPRESSES = `
fn split_f32(x: f32) -> vec2<i32> {
  let b = bitcast<u32>(x);
  let be = i32((b >> 23u) & 0xffu);
  var m = b & 0x7fffffu;
  if (be == 0) {
    let s = countLeadingZeros(m) - 8u;
    return vec2<i32>(i32(m << s), -149 - i32(s));
  }
  return vec2<i32>(i32(m | 0x800000u), be - 150);
}
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let ll = a0 * b0;
  let mid = a1 * b0 + a0 * b1;
  let lo = ll + (mid << 16u);
  return vec2<u32>(a1 * b1 + (mid >> 16u) + select(0u, 1u, lo < ll), lo);
}
fn suppresses(a: vec4<f32>, b: vec4<f32>) -> bool {
  let aa = (a.z - a.x) * (a.w - a.y);
  let ab = (b.z - b.x) * (b.w - b.y);
  let w = max(0.0, min(a.z, b.z) - max(a.x, b.x));
  let h = max(0.0, min(a.w, b.w) - max(a.y, b.y));
  let inter = w * h;
  let uni = aa + ab - inter;
  if (uni == 0.0) { return p.nanSup != 0u; }
  if (p.tmode == 1u) { return true; }
  if (p.tmode == 2u) { return false; }
  if (inter <= 0.0) { return false; }
  let mi = split_f32(inter);
  let mu = split_f32(uni);
  let d = mi.y - mu.y - p.eA;
  if (d <= 23) { return false; }
  if (d >= 26) { return true; }
  let m = u32(mi.x);
  let l = vec2<u32>(m >> (32u - u32(d)), m << u32(d));
  let r = mul_wide(p.A, u32(mu.x));
  if (l.x != r.x) { return l.x > r.x; }
  if (l.y != r.y) { return l.y > r.y; }
  return p.oddT != 0u;
}`;

/** Uniform fields of the exact IoU test (see SUPPRESSES); {@link iouTest} computes them from T. */
const IOU_FIELDS = [
  { name: 'A', type: 'u32' },
  { name: 'eA', type: 'i32' },
  { name: 'oddT', type: 'u32' },
  { name: 'tmode', type: 'u32' },
  { name: 'nanSup', type: 'u32' },
] as const;

/** The uniform values that make `suppresses` decide float32(IoU) > T for a float32 T. */
export function iouTest(T: number, nanSup: boolean): { A: number; eA: number; oddT: number; tmode: number; nanSup: number } {
  const base = { A: 0, eA: 0, oddT: 0, nanSup: nanSup ? 1 : 0 };
  if (T < 0) return { ...base, tmode: 1 };
  if (T >= 1) return { ...base, tmode: 2 };
  // T = m·2^e with ulp(T) = 2^e (subnormals and zero: e = −149); the rounding boundary above T is
  // (2m + 1)·2^(e−1), scaled here so that A has 25 bits as the kernel's bounds assume
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, T);
  const bits = v.getUint32(0);
  const be = (bits >>> 23) & 0xff;
  const m = be === 0 ? bits & 0x7fffff : (bits & 0x7fffff) | 0x800000;
  let A = 2 * m + 1;
  let eA = (be === 0 ? -149 : be - 150) - 1;
  while (A < 2 ** 24) {
    A *= 2;
    eA -= 1;
  }
  return { ...base, A, eA, oddT: m & 1, tmode: 0 };
}

export const sortInitLayout = new UniformLayout([
  { name: 'P', type: 'u32' },
  { name: 'n', type: 'u32' },
  { name: 'hasThr', type: 'u32' },
  { name: 'thrKey', type: 'u32' },
]);

/**
 * Builds the (key, index) pairs, padding to P with key 0. Only bit operations touch the scores (no
 * float compare), so subnormal scores order as they do on the host even where the adapter flushes
 * subnormals to zero; the score threshold is compared as a key too (thrKey = sortKey(threshold)).
 */
export const sortInitKernel = () => kernel('nms', { op: 'sortInit' }, sortInitShader);

/** The u32 that orders like the float32 `s` (−0 as +0, NaN above +∞), as sortInit computes it. */
export function sortKey(s: number): number {
  if (Number.isNaN(s)) return 0xffffffff;
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, s === 0 ? 0 : s);
  const b = v.getUint32(0);
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}

function sortInitShader(): ShaderSpec {
  return {
    uniforms: sortInitLayout,
    workgroupSize: NMS_WG,
    grid: 'P',
    storage: [
      { name: 'scores', type: 'u32' },
      { name: 'keys', type: 'vec2<u32>', access: 'read_write' },
    ],
    decls: `
fn sortable(b: u32) -> u32 {
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; }
  if ((b & 0x7fffffffu) == 0u) { return 0x80000000u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}`,
    body: `
  var key = 0u;
  if (i < p.n) {
    let k = sortable(scores[i]);
    if (p.hasThr == 0u || (k != 0xffffffffu && k > p.thrKey)) { key = k; }
  }
  keys[i] = vec2<u32>(key, i);`,
  };
}

export const sortGlobalLayout = new UniformLayout([
  { name: 'half', type: 'u32' },
  { name: 'k', type: 'u32' },
  { name: 'j', type: 'u32' },
  { name: 'segLen', type: 'u32' },
]);

/** One bitonic compare-exchange step of distance j ≥ 512 inside sequences of length k; P/2 threads. */
export const sortGlobalKernel = (segmented: boolean) => kernel('nms', { op: 'sortGlobal', segmented }, sortGlobalShader);

function sortGlobalShader(v: { segmented: boolean }): ShaderSpec {
  return {
    uniforms: sortGlobalLayout,
    workgroupSize: NMS_WG,
    grid: 'half',
    storage: [{ name: 'keys', type: 'vec2<u32>', access: 'read_write' }],
    decls: before(v.segmented),
    body: `
  let lo = (i / p.j) * 2u * p.j + (i % p.j);
  let hi = lo + p.j;
  let a = keys[lo];
  let b = keys[hi];
  if (select(before(a, b), before(b, a), (lo & p.k) == 0u)) { keys[lo] = b; keys[hi] = a; }`,
  };
}

export const sortLocalLayout = new UniformLayout([
  { name: 'k0', type: 'u32' },
  { name: 'k1', type: 'u32' },
  { name: 'segLen', type: 'u32' },
]);

/** Bitonic stages k = k0, 2k0, …, k1 restricted to distances < 512, each block of 512 in workgroup memory. */
export const sortLocalKernel = (segmented: boolean) => kernel('nms', { op: 'sortLocal', segmented }, sortLocalShader);

function sortLocalShader(v: { segmented: boolean }): ShaderSpec {
  return {
    uniforms: sortLocalLayout,
    workgroupSize: NMS_WG,
    storage: [{ name: 'keys', type: 'vec2<u32>', access: 'read_write' }],
    decls: `${before(v.segmented)}
var<workgroup> sh: array<vec2<u32>, ${SORT_BLOCK}>;`,
    body: `
  let base = (wid.x + wid.y * nwg.x) * ${SORT_BLOCK}u;
  sh[li] = keys[base + li];
  sh[li + ${NMS_WG}u] = keys[base + li + ${NMS_WG}u];
  var k = p.k0;
  loop {
    if (k > p.k1) { break; }
    var j = min(k >> 1u, ${NMS_WG}u);
    loop {
      if (j == 0u) { break; }
      workgroupBarrier();
      let lo = (li / j) * 2u * j + (li % j);
      let hi = lo + j;
      let a = sh[lo];
      let b = sh[hi];
      if (select(before(a, b), before(b, a), ((base + lo) & k) == 0u)) { sh[lo] = b; sh[hi] = a; }
      j = j >> 1u;
    }
    k = k << 1u;
  }
  workgroupBarrier();
  keys[base + li] = sh[li];
  keys[base + li + ${NMS_WG}u] = sh[li + ${NMS_WG}u];`,
  };
}

export const preselectLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'want', type: 'u32' },
]);

/** Buckets of the preselection: the top 16 bits of the key. */
export const PRESELECT_BUCKETS = 65536;

/** Counts the valid keys per bucket (key >> 16); n threads. */
export const histogramKernel = () => kernel('nms', { op: 'histogram' }, histogramShader);

function histogramShader(): ShaderSpec {
  return {
    uniforms: preselectLayout,
    workgroupSize: NMS_WG,
    grid: 'n',
    storage: [
      { name: 'keys', type: 'vec2<u32>' },
      { name: 'hist', type: 'atomic<u32>', access: 'read_write' },
    ],
    body: `
  let k = keys[i].x;
  if (k != 0u) { atomicAdd(&hist[k >> 16u], 1u); }`,
  };
}

/**
 * One workgroup: the highest bucket b such that the keys in buckets ≥ b number at least
 * the target (bucket 0 when all valid keys are fewer). Writes sel = [b, keys in buckets ≥ b, valid keys, 0].
 */
export const selectKernel = () => kernel('nms', { op: 'select' }, selectShader);

function selectShader(): ShaderSpec {
  const per = PRESELECT_BUCKETS / NMS_WG;
  return {
    uniforms: preselectLayout,
    workgroupSize: NMS_WG,
    storage: [
      { name: 'hist', type: 'u32' },
      { name: 'sel', type: 'u32', access: 'read_write' },
    ],
    decls: `var<workgroup> sums: array<u32, ${NMS_WG}>;`,
    body: `
  var s = 0u;
  for (var k = 0u; k < ${per}u; k++) { s += hist[li * ${per}u + k]; }
  sums[li] = s;
  workgroupBarrier();
  if (li != 0u) { return; }
  var total = 0u;
  for (var k = 0u; k < ${NMS_WG}u; k++) { total += sums[k]; }
  var acc = 0u;
  var tb = 0u;
  var found = false;
  for (var blk = ${NMS_WG - 1}i; blk >= 0i && !found; blk--) {
    if (acc + sums[blk] < p.want) {
      acc += sums[blk];
      continue;
    }
    for (var k = ${per - 1}i; k >= 0i; k--) {
      let b = u32(blk) * ${per}u + u32(k);
      acc += hist[b];
      if (acc >= p.want) {
        tb = b;
        found = true;
        break;
      }
    }
  }
  if (!found) {
    tb = 0u;
    acc = total;
  }
  sel[0] = tb;
  sel[1] = acc;
  sel[2] = total;
  sel[3] = 0u;`,
  };
}

/** Copies the keys in buckets ≥ sel[0] to the front of cand (any order; the sort follows); n threads. */
export const compactKernel = () => kernel('nms', { op: 'compact' }, compactShader);

function compactShader(): ShaderSpec {
  return {
    uniforms: preselectLayout,
    workgroupSize: NMS_WG,
    grid: 'n',
    storage: [
      { name: 'keys', type: 'vec2<u32>' },
      { name: 'sel', type: 'atomic<u32>', access: 'read_write' },
      { name: 'cand', type: 'vec2<u32>', access: 'read_write' },
    ],
    body: `
  let e = keys[i];
  if (e.x == 0u || (e.x >> 16u) < atomicLoad(&sel[0])) { return; }
  cand[atomicAdd(&sel[3], 1u)] = e;`,
  };
}

export const padLayout = new UniformLayout([
  { name: 'P', type: 'u32' },
  { name: 'count', type: 'u32' },
]);

/** keys[i] = cand[i] for i < count, else padding (0, 0xffffffff); P threads. */
export const padKernel = () => kernel('nms', { op: 'pad' }, padShader);

function padShader(): ShaderSpec {
  return {
    uniforms: padLayout,
    workgroupSize: NMS_WG,
    grid: 'P',
    storage: [
      { name: 'cand', type: 'vec2<u32>' },
      { name: 'keys', type: 'vec2<u32>', access: 'read_write' },
    ],
    body: `
  keys[i] = select(vec2<u32>(0u, 0xffffffffu), cand[min(i, max(p.count, 1u) - 1u)], i < p.count);`,
  };
}

export const gatherLayout = new UniformLayout([
  { name: 'M', type: 'u32' },
  { name: 'n', type: 'u32' },
  { name: 'segLen', type: 'u32' },
  { name: 'nseg', type: 'u32' },
  { name: 'topK', type: 'u32' },
]);

/** Marks the first sorted position of each segment (for the per-segment top-k). */
export const segStartKernel = () => kernel('nms', { op: 'segStart' }, segStartShader);

function segStartShader(): ShaderSpec {
  return {
    uniforms: gatherLayout,
    workgroupSize: NMS_WG,
    grid: 'M',
    storage: [
      { name: 'keys', type: 'vec2<u32>' },
      { name: 'segStart', type: 'u32', access: 'read_write' },
    ],
    body: `
  let s = keys[i].y / p.segLen;
  if (s < p.nseg && (i == 0u || keys[i - 1u].y / p.segLen != s)) { segStart[s] = i; }`,
  };
}

/**
 * Gathers boxes into sorted order with their metadata (index inside the segment, segment, class,
 * flat index) and the initial suppression flag (filtered by score or beyond the segment's top-k).
 */
export const gatherKernel = (classes: boolean) => kernel('nms', { op: 'gather', classes }, gatherShader);

function gatherShader(v: { classes: boolean }): ShaderSpec {
  return {
    uniforms: gatherLayout,
    workgroupSize: NMS_WG,
    grid: 'M',
    storage: [
      { name: 'keys', type: 'vec2<u32>' },
      { name: 'segStart', type: 'u32' },
      { name: 'boxes', type: 'vec4<f32>' },
      { name: 'classes', type: 'i32' },
      { name: 'sbox', type: 'vec4<f32>', access: 'read_write' },
      { name: 'smeta', type: 'vec4<u32>', access: 'read_write' },
      { name: 'sup', type: 'u32', access: 'read_write' },
      { name: 'state', type: 'atomic<u32>', access: 'read_write' },
    ],
    body: `
  let e = keys[i];
  let s = e.y / p.segLen;
  var valid = e.x != 0u && s < p.nseg;
  if (valid) { valid = i - segStart[s] < p.topK; }
  let idx = min(e.y, p.n - 1u);
  sbox[i] = boxes[idx];
  let c = ${v.classes ? 'bitcast<u32>(classes[idx])' : '0u'};
  smeta[i] = vec4<u32>(e.y - s * p.segLen, s, c, e.y);
  sup[i] = select(1u, 0u, valid);
  if (valid) { atomicMax(&state[3], i + 1u); }`,
  };
}

export const resolveLayout = new UniformLayout([
  { name: 'tile', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'maxDet', type: 'u32' },
  { name: 'nseg', type: 'u32' },
  ...IOU_FIELDS,
]);

/** Resolves one tile of 256 sorted boxes: bitmask in workgroup memory, then an in-order sweep. One workgroup. */
export const resolveKernel = () => kernel('nms', { op: 'resolve' }, resolveShader);

function resolveShader(): ShaderSpec {
  const T = NMS_TILE;
  const W = T / 32;
  return {
    uniforms: resolveLayout,
    workgroupSize: T,
    storage: [
      { name: 'sbox', type: 'vec4<f32>' },
      { name: 'smeta', type: 'vec4<u32>' },
      { name: 'sup', type: 'u32' },
      { name: 'keptList', type: 'i32', access: 'read_write' },
      { name: 'keptPos', type: 'u32', access: 'read_write' },
      { name: 'state', type: 'u32', access: 'read_write' },
    ],
    decls: `${SUPPRESSES}
var<workgroup> bx: array<vec4<f32>, ${T}>;
var<workgroup> grp: array<vec2<u32>, ${T}>;
var<workgroup> alive: array<u32, ${T}>;
var<workgroup> mask: array<u32, ${T * W}>;
var<workgroup> stop: u32;`,
    body: `
  if (li == 0u) { stop = state[2]; }
  if (workgroupUniformLoad(&stop) != 0u) { return; }
  let q = p.tile + li;
  var b = vec4<f32>(0.0);
  var g = vec2<u32>(0u);
  var al = 0u;
  if (q < p.M) { b = sbox[q]; g = smeta[q].yz; al = 1u - sup[q]; }
  bx[li] = b;
  grp[li] = g;
  alive[li] = al;
  workgroupBarrier();
  for (var w = 0u; w < ${W}u; w++) {
    var bits = 0u;
    if (al != 0u) {
      for (var t = 0u; t < 32u; t++) {
        let m = w * 32u + t;
        if (m > li && alive[m] != 0u && all(grp[m] == g) && suppresses(b, bx[m])) { bits |= 1u << t; }
      }
    }
    mask[li * ${W}u + w] = bits;
  }
  workgroupBarrier();
  if (li != 0u) { return; }
  var removed: array<u32, ${W}>;
  var total = state[0];
  let first = total;
  var full = state[4];
  for (var l = 0u; l < ${T}u; l++) {
    if (alive[l] == 0u || (removed[l >> 5u] & (1u << (l & 31u))) != 0u) { continue; }
    let seg = grp[l].x;
    let cnt = state[${STATE_COUNTS}u + seg];
    if (cnt >= p.maxDet) { continue; }
    keptList[total] = i32(smeta[p.tile + l].x);
    keptPos[total - first] = p.tile + l;
    total++;
    state[${STATE_COUNTS}u + seg] = cnt + 1u;
    if (cnt + 1u == p.maxDet) { full++; }
    for (var w = 0u; w < ${W}u; w++) { removed[w] |= mask[l * ${W}u + w]; }
  }
  state[0] = total;
  state[1] = first;
  state[4] = full;
  if (full >= p.nseg || p.tile + ${T}u >= min(p.M, state[3])) { state[2] = 1u; }`,
  };
}

export const propagateLayout = new UniformLayout([{ name: 'start', type: 'u32' }, { name: 'M', type: 'u32' }, ...IOU_FIELDS]);

/** Marks the boxes after a tile that the tile's kept boxes suppress; one thread per later box. */
export const propagateKernel = () => kernel('nms', { op: 'propagate' }, propagateShader);

function propagateShader(): ShaderSpec {
  const T = NMS_TILE;
  return {
    uniforms: propagateLayout,
    workgroupSize: NMS_WG,
    storage: [
      { name: 'sbox', type: 'vec4<f32>' },
      { name: 'smeta', type: 'vec4<u32>' },
      { name: 'sup', type: 'u32', access: 'read_write' },
      { name: 'keptPos', type: 'u32' },
      { name: 'state', type: 'u32' },
    ],
    decls: `${SUPPRESSES}
var<workgroup> kb: array<vec4<f32>, ${T}>;
var<workgroup> kg: array<vec2<u32>, ${T}>;
var<workgroup> info: vec2<u32>;`,
    body: `
  if (li == 0u) { info = vec2<u32>(state[0] - state[1], state[2]); }
  let inf = workgroupUniformLoad(&info);
  if (inf.y != 0u || inf.x == 0u) { return; }
  let cnt = inf.x;
  if (li < cnt) {
    let k = keptPos[li];
    kb[li] = sbox[k];
    kg[li] = smeta[k].yz;
  }
  workgroupBarrier();
  let q = p.start + (wid.x + wid.y * nwg.x) * ${NMS_WG}u + li;
  if (q >= p.M) { return; }
  if (sup[q] != 0u) { return; }
  let b = sbox[q];
  let g = smeta[q].yz;
  for (var t = 0u; t < cnt; t++) {
    if (all(kg[t] == g) && suppresses(kb[t], b)) {
      sup[q] = 1u;
      return;
    }
  }`,
  };
}
