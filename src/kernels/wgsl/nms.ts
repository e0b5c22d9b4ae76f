/**
 * Non-maximum suppression kernels (src/detection/nms.ts drives them).
 *
 * Sort: entries are (key, flat index) pairs; key is the score mapped to a u32 that orders like the
 * float (NaN above +∞, −0 equal to +0), or 0 for a filtered entry or padding. Each segment (image)
 * has its own block of `stride` entries (a power of two ≥ 512), sorted on its own: key descending,
 * index ascending, so the sort is stable by index. A bitonic network: `sortLocal` sorts or merges
 * 512-element blocks in workgroup memory, `sortGlobal` does the compare-exchange steps whose
 * distance is ≥ 512; stages stop at the block length, whose last merge sorts every block the same way.
 *
 * Preselection (one image with a max-detections limit): `histogram` counts keys by their top 16
 * bits, `select` finds the highest bucket boundary with enough keys above it, `compact` copies
 * those keys out and `pad` pads them to a power of two for the sort.
 *
 * Sweep: the sorted boxes of every segment are taken in tiles of 256, the segments side by side.
 * `resolve` (one workgroup per segment) computes the tile's
 * 256×256 upper-triangular suppression bitmask in workgroup memory, then one thread walks the tile
 * in order and keeps every box nothing kept before it suppressed (appending to the kept list);
 * `propagate` then marks every later box that one of the tile's kept boxes suppresses. Memory is
 * O(N); the IoU work is (kept boxes) × (boxes after them), and a `done` flag in the state buffer
 * (max detections reached, or no valid box left) makes the remaining dispatches return at once.
 *
 * State buffer (u32): for segment s at 8 + 4s: [kept so far, kept in the current tile, done, one past
 * the last valid sorted position in the segment].
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel, type ShaderSpec } from './builder';

/** Threads per workgroup of every NMS kernel. */
export const NMS_WG = 256;
/** Boxes per tile of the suppression sweep. */
export const NMS_TILE = 256;
/** Elements one workgroup sorts in workgroup memory (the sort's length is a multiple of it). */
export const SORT_BLOCK = 512;
/**
 * Threads of `sortLocal`: few, each doing several compare-exchanges between barriers (lavapipe,
 * 8 images × 5444 boxes: 60 ms of sorting with 64 threads, 90 ms with 256).
 */
const SORT_LOCAL_WG = 64;
/** Offset of the per-segment state (4 u32 each) in the state buffer. */
export const STATE_COUNTS = 8;
/** u32 words of state per segment: kept, kept in the current tile, done, valid end. */
export const STATE_PER_SEG = 4;

// Segments are sorted in their own blocks, so the order needs no segment test (no integer division,
// slow on CPU adapters).
const BEFORE = `
fn before(a: vec2<u32>, b: vec2<u32>) -> bool {
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

/** Score bits → a key whose unsigned order is torch's descending sort order (NaN first, −0 = +0). */
const SORTABLE = `
fn sortable(b: u32) -> u32 {
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; }
  if ((b & 0x7fffffffu) == 0u) { return 0x80000000u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}`;

/** Uniform fields of the exact IoU test (see SUPPRESSES); {@link iouTest} computes them from T. */
const IOU_FIELDS = [
  { name: 'A', type: 'u32' },
  { name: 'eA', type: 'i32' },
  { name: 'oddT', type: 'u32' },
  { name: 'tmode', type: 'u32' },
  { name: 'nanSup', type: 'u32' },
] as const;

// One word of a tile's suppression mask: bit t is set when box r (alive, group g, corners b) suppresses
// the later alive box 32·w + t of its group. Reads the tile from the workgroup arrays bx, grp and alive,
// which every kernel that includes it declares.
const MASK_WORD = `
fn maskWord(r: u32, w: u32, b: vec4<f32>, g: u32, al: u32) -> u32 {
  var bits = 0u;
  if (al != 0u && 32u * w + 31u > r) {  // words wholly at or before r stay 0
    for (var t = 0u; t < 32u; t++) {
      let m = w * 32u + t;
      if (m > r && alive[m] != 0u && grp[m] == g && suppresses(b, bx[m])) { bits |= 1u << t; }
    }
  }
  return bits;
}`;

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
  { name: 'segLen', type: 'u32' },
  { name: 'stride', type: 'u32' },
  { name: 'hasThr', type: 'u32' },
  { name: 'thrKey', type: 'u32' },
]);

/**
 * Builds the (key, index) pairs: entry q of segment s's block (stride entries) is score s·segLen + q,
 * padded with key 0 past segLen. Only bit operations touch the scores (no
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
    decls: SORTABLE,
    body: `
  let s = i / p.stride;
  let q = i - s * p.stride;
  let src = s * p.segLen + q;
  var key = 0u;
  if (q < p.segLen && src < p.n) {
    let k = sortable(scores[src]);
    if (p.hasThr == 0u || (k != 0xffffffffu && k > p.thrKey)) { key = k; }
  }
  keys[i] = vec2<u32>(key, select(0xffffffffu, src, q < p.segLen));`,
  };
}

export const sortGlobalLayout = new UniformLayout([
  { name: 'half', type: 'u32' },
  { name: 'k', type: 'u32' },
  { name: 'j', type: 'u32' },
  { name: 'mask', type: 'u32' },
]);

/**
 * One bitonic compare-exchange step of distance j ≥ 512 inside sequences of length k; P/2 threads.
 * mask = block length − 1: the last stage (k = block length) sorts every block in the same direction.
 */
export const sortGlobalKernel = () => kernel('nms', { op: 'sortGlobal' }, sortGlobalShader);

function sortGlobalShader(): ShaderSpec {
  return {
    uniforms: sortGlobalLayout,
    workgroupSize: NMS_WG,
    grid: 'half',
    storage: [{ name: 'keys', type: 'vec2<u32>', access: 'read_write' }],
    decls: BEFORE,
    body: `
  let lo = ((i & ~(p.j - 1u)) << 1u) | (i & (p.j - 1u));
  let hi = lo + p.j;
  let a = keys[lo];
  let b = keys[hi];
  if (select(before(a, b), before(b, a), (lo & p.k & p.mask) == 0u)) { keys[lo] = b; keys[hi] = a; }`,
  };
}

export const sortLocalLayout = new UniformLayout([
  { name: 'k0', type: 'u32' },
  { name: 'k1', type: 'u32' },
  { name: 'mask', type: 'u32' },
]);

/** Bitonic stages k = k0, 2k0, …, k1 restricted to distances < 512, each block of 512 in workgroup memory. */
export const sortLocalKernel = () => kernel('nms', { op: 'sortLocal' }, sortLocalShader);

function sortLocalShader(): ShaderSpec {
  const G = SORT_LOCAL_WG;
  return {
    uniforms: sortLocalLayout,
    workgroupSize: G,
    storage: [{ name: 'keys', type: 'vec2<u32>', access: 'read_write' }],
    decls: `${BEFORE}
var<workgroup> sh: array<vec2<u32>, ${SORT_BLOCK}>;`,
    body: `
  let base = (wid.x + wid.y * nwg.x) * ${SORT_BLOCK}u;
  for (var q = li; q < ${SORT_BLOCK}u; q += ${G}u) { sh[q] = keys[base + q]; }
  var k = p.k0;
  loop {
    if (k > p.k1) { break; }
    var j = min(k >> 1u, ${SORT_BLOCK / 2}u);
    loop {
      if (j == 0u) { break; }
      workgroupBarrier();
      for (var t = li; t < ${SORT_BLOCK / 2}u; t += ${G}u) {
        let lo = ((t & ~(j - 1u)) << 1u) | (t & (j - 1u));
        let hi = lo + j;
        let a = sh[lo];
        let b = sh[hi];
        if (select(before(a, b), before(b, a), ((base + lo) & k & p.mask) == 0u)) { sh[lo] = b; sh[hi] = a; }
      }
      j = j >> 1u;
    }
    k = k << 1u;
  }
  workgroupBarrier();
  for (var q = li; q < ${SORT_BLOCK}u; q += ${G}u) { keys[base + q] = sh[q]; }`,
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
  { name: 'stride', type: 'u32' },
  { name: 'topK', type: 'u32' },
]);

/**
 * Gathers boxes into sorted order with their metadata (index inside the segment, segment, class,
 * flat index) and the initial suppression flag (filtered by score or beyond the segment's top-k);
 * records each segment's valid end. M = segments × stride threads.
 */
export const gatherKernel = (classes: boolean) => kernel('nms', { op: 'gather', classes }, gatherShader);

function gatherShader(v: { classes: boolean }): ShaderSpec {
  return {
    uniforms: gatherLayout,
    workgroupSize: NMS_WG,
    grid: 'M',
    storage: [
      { name: 'keys', type: 'vec2<u32>' },
      { name: 'boxes', type: 'vec4<f32>' },
      { name: 'classes', type: 'i32' },
      { name: 'sbox', type: 'vec4<f32>', access: 'read_write' },
      { name: 'smeta', type: 'vec4<u32>', access: 'read_write' },
      { name: 'sup', type: 'u32', access: 'read_write' },
      { name: 'state', type: 'atomic<u32>', access: 'read_write' },
    ],
    body: `
  let e = keys[i];
  let s = i / p.stride;
  let q = i - s * p.stride;
  let valid = e.x != 0u && q < p.topK;
  let idx = min(e.y, p.n - 1u);
  sbox[i] = boxes[idx];
  let c = ${v.classes ? 'bitcast<u32>(classes[idx])' : '0u'};
  smeta[i] = vec4<u32>(e.y - s * p.segLen, s, c, e.y);
  sup[i] = select(1u, 0u, valid);
  if (valid) { atomicMax(&state[${STATE_COUNTS}u + ${STATE_PER_SEG}u * s + 3u], q + 1u); }`,
  };
}

export const resolveLayout = new UniformLayout([
  { name: 'tile', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'stride', type: 'u32' },
  { name: 'maxDet', type: 'u32' },
  ...IOU_FIELDS,
]);

/**
 * Resolves one tile of 256 sorted boxes in every segment (one workgroup per segment, positions
 * tile… of its first M): bitmask in workgroup memory, then an in-order sweep. The segment's kept
 * list is keptList[s·M…], the tile's kept positions keptPos[s·256…].
 */
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
var<workgroup> grp: array<u32, ${T}>;
var<workgroup> alive: array<u32, ${T}>;
var<workgroup> mask: array<u32, ${T * W}>;
var<workgroup> stop: u32;
${MASK_WORD}`,
    body: `
  let seg = wid.x + wid.y * nwg.x;
  let st = ${STATE_COUNTS}u + ${STATE_PER_SEG}u * seg;
  if (li == 0u) { stop = state[st + 2u]; }
  if (workgroupUniformLoad(&stop) != 0u) { return; }
  let base = seg * p.stride + p.tile;
  var b = vec4<f32>(0.0);
  var g = 0u;
  var al = 0u;
  if (p.tile + li < p.M) { b = sbox[base + li]; g = smeta[base + li].z; al = 1u - sup[base + li]; }
  bx[li] = b;
  grp[li] = g;
  alive[li] = al;
  workgroupBarrier();
  for (var w = 0u; w < ${W}u; w++) {
    mask[li * ${W}u + w] = maskWord(li, w, b, g, al);
  }
  workgroupBarrier();
  if (li != 0u) { return; }
  var removed: array<u32, ${W}>;
  var total = state[st];
  let first = total;
  for (var l = 0u; l < ${T}u; l++) {
    if (total >= p.maxDet) { break; }
    if (alive[l] == 0u || (removed[l >> 5u] & (1u << (l & 31u))) != 0u) { continue; }
    keptList[seg * p.M + total] = i32(smeta[base + l].x);
    keptPos[seg * ${T}u + total - first] = base + l;
    total++;
    for (var w = 0u; w < ${W}u; w++) { removed[w] |= mask[l * ${W}u + w]; }
  }
  state[st] = total;
  state[st + 1u] = total - first;
  if (total >= p.maxDet || p.tile + ${T}u >= min(p.M, state[st + 3u])) { state[st + 2u] = 1u; }`,
  };
}

export const propagateLayout = new UniformLayout([
  { name: 'start', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'stride', type: 'u32' },
  { name: 'chunks', type: 'u32' },
  { name: 'groups', type: 'u32' },
  ...IOU_FIELDS,
]);

/**
 * Marks the boxes after a tile that the tile's kept boxes suppress; one thread per later box,
 * `chunks` workgroups per segment (groups = segments × chunks).
 */
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
var<workgroup> kg: array<u32, ${T}>;
var<workgroup> info: vec2<u32>;`,
    body: `
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.groups) { return; }  // uniform per workgroup
  let seg = w / p.chunks;
  let chunk = w - seg * p.chunks;
  let st = ${STATE_COUNTS}u + ${STATE_PER_SEG}u * seg;
  if (li == 0u) { info = vec2<u32>(state[st + 1u], state[st + 2u]); }
  let inf = workgroupUniformLoad(&info);
  if (inf.y != 0u || inf.x == 0u) { return; }
  let cnt = inf.x;
  if (li < cnt) {
    let k = keptPos[seg * ${T}u + li];
    kb[li] = sbox[k];
    kg[li] = smeta[k].z;
  }
  workgroupBarrier();
  let q = p.start + chunk * ${NMS_WG}u + li;
  if (q >= p.M) { return; }
  let at = seg * p.stride + q;
  if (sup[at] != 0u) { return; }
  let b = sbox[at];
  let g = smeta[at].z;
  for (var t = 0u; t < cnt; t++) {
    if (kg[t] == g && suppresses(kb[t], b)) {
      sup[at] = 1u;
      return;
    }
  }`,
  };
}

/** The most boxes the single-dispatch path ({@link smallKernel}) takes: its keys fill 8 KB of workgroup memory. */
export const SMALL_MAX = 1024;
/**
 * Threads of the single-dispatch kernel: few, each doing more between barriers (lavapipe: 64 threads
 * ran 1000 boxes in 0.70 ms against 0.83 ms with 256, and 700 boxes without a limit 3.4 against 4.8 ms).
 */
const SMALL_WG = 64;

export const smallLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'P', type: 'u32' },
  { name: 'topK', type: 'u32' },
  { name: 'maxDet', type: 'u32' },
  { name: 'hasThr', type: 'u32' },
  { name: 'thrKey', type: 'u32' },
  { name: 'tw', type: 'u32' },
  { name: 'want', type: 'u32' },
  ...IOU_FIELDS,
]);

/**
 * The whole NMS of one image of at most SMALL_MAX boxes in one workgroup and one dispatch: keys
 * (as sortInit), a bitonic sort of P (a power of two ≥ n) keys in workgroup memory, then the tiled
 * sweep of `resolve` and `propagate` with workgroup barriers between the steps instead of
 * dispatches, stopping at maxDet. Tiles are `tw` boxes wide (32, 64, 128 or 256): narrower when
 * maxDetections is small, so the tile's IoU mask is not computed far past the last box kept. Writes the kept indices to keptList and their count to count[0].
 * With maxDetections, only the keys above a threshold (at least `want` of them) are sorted and swept
 * first, and all keys only if the sweep runs out of them before maxDetections (as the host-side
 * preselection does). `mask` (256 × 8 u32) and `sup` (SMALL_MAX u32) are scratch. With `fromKeys`, the first binding
 * holds n ready (key, index) pairs (the preselected candidates) instead of the scores.
 */
export const smallKernel = (classes: boolean, fromKeys: boolean) => kernel('nms', { op: 'small', classes, fromKeys }, smallShader);

function smallShader(v: { classes: boolean; fromKeys: boolean }): ShaderSpec {
  const T = NMS_TILE;
  const W = T / 32;
  const G = SMALL_WG;
  const cls = (idx: string) => (v.classes ? `bitcast<u32>(classes[${idx}])` : '0u');
  return {
    uniforms: smallLayout,
    workgroupSize: G,
    storage: [
      { name: 'scores', type: v.fromKeys ? 'vec2<u32>' : 'u32' },
      { name: 'boxes', type: 'vec4<f32>' },
      { name: 'classes', type: 'i32' },
      { name: 'keptList', type: 'i32', access: 'read_write' },
      { name: 'count', type: 'u32', access: 'read_write' },
      { name: 'mask', type: 'u32', access: 'read_write' },
      { name: 'sup', type: 'u32', access: 'read_write' },
    ],
    decls: `${BEFORE}
${SUPPRESSES}
${SORTABLE}
var<workgroup> sk: array<vec2<u32>, ${SMALL_MAX}>;
var<workgroup> bx: array<vec4<f32>, ${T}>;
var<workgroup> grp: array<u32, ${T}>;
var<workgroup> alive: array<u32, ${T}>;
var<workgroup> keptLocal: array<u32, ${T}>;
var<workgroup> info: vec2<u32>;
var<workgroup> validEnd: atomic<u32>;
var<workgroup> cnt: atomic<u32>;
var<workgroup> passv: u32;
${MASK_WORD}`,
    body: `
  var total = 0u;
  // first only the candidates (the keys ≥ the largest threshold that leaves at least p.want of
  // them, a prefix of the sorted order); everything if the sweep runs out of them before maxDet
  for (var attempt = 0u; attempt < 2u; attempt++) {
  if (li == 0u) {
    atomicStore(&validEnd, 0u);
    atomicStore(&cnt, 0u);
  }
  workgroupBarrier();
  var nv = 0u;
  for (var q = li; q < p.P; q += ${G}u) {${
    v.fromKeys
      ? `
    sk[q] = select(vec2<u32>(0u, 0xffffffffu), scores[min(q, p.n - 1u)], q < p.n);`
      : `
    var key = 0u;
    if (q < p.n) {
      let k = sortable(scores[q]);
      if (p.hasThr == 0u || (k != 0xffffffffu && k > p.thrKey)) { key = k; }
    }
    sk[q] = vec2<u32>(key, select(0xffffffffu, q, q < p.n));`
  }
    if (sk[q].x != 0u) { nv++; }
  }
  atomicAdd(&cnt, nv);
  workgroupBarrier();
  if (li == 0u) { passv = atomicExchange(&cnt, 0u); }
  let nValid = workgroupUniformLoad(&passv);
  var Pn = p.P;
  var cands = nValid;
  if (attempt == 0u && p.want < nValid) {
    // binary search over the top 16 bits for the largest threshold with at least p.want keys at or
    // above it (16 steps: a coarser threshold only adds candidates)
    var thr = 0u;
    for (var bit = 31i; bit >= 16i; bit--) {
      let c = thr | (1u << u32(bit));
      var mine = 0u;
      for (var q = li; q < p.P; q += ${G}u) { mine += select(0u, 1u, sk[q].x >= c); }
      atomicAdd(&cnt, mine);
      workgroupBarrier();
      if (li == 0u) { passv = atomicExchange(&cnt, 0u); }
      let got = workgroupUniformLoad(&passv);
      if (got >= p.want) {
        thr = c;
        cands = got;
      }
    }
    // compact the candidates to the front (any order: the sort follows), padding after them
    var held: array<vec2<u32>, ${SMALL_MAX / G}>;
    var m = 0u;
    for (var q = li; q < p.P; q += ${G}u) {
      held[m] = sk[q];
      m++;
    }
    workgroupBarrier();
    for (var q = li; q < p.P; q += ${G}u) { sk[q] = vec2<u32>(0u, 0xffffffffu); }
    workgroupBarrier();
    for (var h = 0u; h < m; h++) {
      if (held[h].x >= thr) { sk[atomicAdd(&cnt, 1u)] = held[h]; }
    }
    Pn = 2u;
    while (Pn < cands) { Pn <<= 1u; }
  }
  for (var k = 2u; k <= Pn; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      workgroupBarrier();
      for (var t = li; t < Pn / 2u; t += ${G}u) {
        let lo = ((t & ~(j - 1u)) << 1u) | (t & (j - 1u));
        let hi = lo + j;
        let a = sk[lo];
        let b = sk[hi];
        if (select(before(a, b), before(b, a), (lo & k) == 0u)) { sk[lo] = b; sk[hi] = a; }
      }
    }
  }
  workgroupBarrier();
  if (li == 0u) { atomicStore(&cnt, 0u); }
  // valid entries (key ≠ 0) form a prefix of the sorted keys; the sweep covers its first topK
  for (var q = li; q < Pn; q += ${G}u) {
    if (sk[q].x != 0u && (q + 1u == Pn || sk[q + 1u].x == 0u)) { atomicMax(&validEnd, q + 1u); }
    sup[q] = 0u;
  }
  storageBarrier();
  let M = min(workgroupUniformLoad(&validEnd), p.topK);
  total = 0u;
  for (var tile = 0u; tile < M; tile += p.tw) {
    for (var r = li; r < p.tw; r += ${G}u) {
      let l = tile + r;
      var b = vec4<f32>(0.0);
      var g = 0u;
      var al = 0u;
      if (l < M) {
        let idx = sk[l].y;
        b = boxes[idx];
        g = ${cls('idx')};
        al = 1u - sup[l];
      }
      bx[r] = b;
      grp[r] = g;
      alive[r] = al;
    }
    workgroupBarrier();
    // mask words that hold boxes of this tile (the last tile may be short)
    let words = (min(p.tw, M - tile) + 31u) / 32u;
    for (var r = li; r < p.tw; r += ${G}u) {
      let b = bx[r];
      let g = grp[r];
      let al = alive[r];
      for (var w = 0u; w < words; w++) {
        mask[r * ${W}u + w] = maskWord(r, w, b, g, al);
      }
    }
    storageBarrier();
    workgroupBarrier();
    if (li == 0u) {
      // zeroed by hand: a declaration inside the loop is not reinitialised on every adapter
      var removed: array<u32, ${W}>;
      for (var w = 0u; w < ${W}u; w++) { removed[w] = 0u; }
      let first = total;
      for (var r = 0u; r < p.tw; r++) {
        if (total >= p.maxDet) { break; }
        if (alive[r] == 0u || (removed[r >> 5u] & (1u << (r & 31u))) != 0u) { continue; }
        keptList[total] = i32(sk[tile + r].y);
        keptLocal[total - first] = r;
        total++;
        for (var w = 0u; w < words; w++) { removed[w] |= mask[r * ${W}u + w]; }
      }
      info = vec2<u32>(total, total - first);
    }
    let inf = workgroupUniformLoad(&info);
    total = inf.x;
    if (total >= p.maxDet) { break; }
    for (var q = tile + p.tw + li; q < M; q += ${G}u) {
      if (sup[q] != 0u) { continue; }
      let idx = sk[q].y;
      let bq = boxes[idx];
      let gq = ${cls('idx')};
      for (var t = 0u; t < inf.y; t++) {
        let r = keptLocal[t];
        if (grp[r] == gq && suppresses(bx[r], bq)) {
          sup[q] = 1u;
          break;
        }
      }
    }
    storageBarrier();
    workgroupBarrier();
  }
  if (total >= p.maxDet || cands >= min(nValid, p.topK)) { break; }
  workgroupBarrier();
  }
  if (li == 0u) { count[0] = total; }`,
  };
}
