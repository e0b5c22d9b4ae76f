/**
 * Fused scaled dot-product attention kernels (FlashAttention style: the [Lq, Lk] matrix is never stored).
 *   fwd    one workgroup per (batch, tile of ATTN_ROWS query rows), one thread per query row; key/value tiles
 *          are staged in workgroup memory; an online softmax (running max and sum, rescaled per tile) gives
 *          the output and the row's logsumexp, which the backward kernels use to recompute P
 *   dq     same layout: dS = P∘(dO·vᵀ − δ) per key, dQ = scale·Σ dS·k; with the decomposed relative position,
 *          d relH (sum over each key row i) and d relW (sum over each key column j), accumulated in place
 *          by the row's own thread
 *   dkv    one workgroup per (batch, tile of ATTN_ROWS key rows), one thread per key row; query tiles
 *          (scaled q, dO, logsumexp, δ) are staged in workgroup memory; dV = Σ P·dO, dK = scale·Σ dS·q
 *   dbias  one thread per element of the (possibly broadcast) bias: the sum of dS over the positions that
 *          element was broadcast to, recomputed from global memory (no [Lq, Lk] buffer for any bias shape)
 * The additive bias is read by strides (0 along broadcast axes; the batch axes are folded into at most
 * ATTN_MAX_LEAD groups), the decomposed relative position as h[q, j / kw] + w[q, j % kw].
 * Head sizes are padded to a multiple of 16 in private and workgroup arrays (zeros), so inner loops have
 * constant bounds. Element type f16 (forward only, shader-f16) loads f16 and accumulates in f32.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { kernel, type Shader, type ShaderSpec, type StorageBinding } from './builder';

/** Threads per workgroup, and query (fwd, dq) or key (dkv) rows per workgroup. */
export const ATTN_ROWS = 64;
/** Batch axes of a broadcast bias, after folding neighbours that broadcast alike. */
export const ATTN_MAX_LEAD = 8;
const LEAD_VEC4S = ATTN_MAX_LEAD / 4;

export const attentionLayout = new UniformLayout([
  { name: 'B', type: 'u32' },
  { name: 'Lq', type: 'u32' },
  { name: 'Lk', type: 'u32' },
  { name: 'D', type: 'u32' },
  { name: 'Dv', type: 'u32' },
  { name: 'kh', type: 'u32' },
  { name: 'kw', type: 'u32' },
  { name: 'nTiles', type: 'u32' },
  { name: 'scale', type: 'f32' },
  { name: 'sbq', type: 'u32' },
  { name: 'sbk', type: 'u32' },
  { name: 'nLead', type: 'u32' },
  { name: 'R', type: 'u32' },
  { name: 'n', type: 'u32' },
  // batch axes (folded), outermost first
  { name: 'ld', type: 'u32', vec4s: LEAD_VEC4S },
  // the bias stride along each batch axis (0 where broadcast)
  { name: 'ls', type: 'u32', vec4s: LEAD_VEC4S },
]);

export interface AttentionVariant {
  op: 'fwd' | 'dq' | 'dkv' | 'dbias';
  /** head sizes of q/k and of v, padded to a multiple of 16 */
  dp: number;
  dvp: number;
  /** rows of the tile staged in workgroup memory (keys for fwd/dq, queries for dkv; 0 for dbias) */
  tile: number;
  bias: boolean;
  rel: boolean;
  /** storage element type of q, k, v, bias, rel and the output (f16 only for fwd) */
  et: 'f32' | 'f16';
}

export interface AttentionPlan {
  key: string;
  source: () => Shader;
  layout: UniformLayout;
  values: UniformValues;
}

export const padHead = (d: number): number => Math.max(16, Math.ceil(d / 16) * 16);

/** The largest power-of-two tile (≤ ATTN_ROWS) whose workgroup arrays fit `bytes`; 0 when none does. */
export function attentionTile(perRow: number, bytes: number): number {
  let t = ATTN_ROWS;
  while (t >= 1 && t * perRow * 4 > bytes) t >>= 1;
  return t;
}

export function attentionPlan(v: AttentionVariant, values: UniformValues): AttentionPlan {
  return { layout: attentionLayout, values, ...kernel('attention', v, build) };
}

const f = (x: string, et: string) => (et === 'f16' ? `f32(${x})` : x);

/** Offset of batch b's bias block: b decomposed over the folded batch axes, times the bias's strides. */
const leadOffset = `fn lead_offset(b: u32) -> u32 {
  var rest = b;
  var off = 0u;
  for (var a = i32(p.nLead) - 1; a >= 0; a--) {
    let n = p.ld[a / 4][a % 4];
    off += (rest % n) * p.ls[a / 4][a % 4];
    rest /= n;
  }
  return off;
}`;

function inputs(v: AttentionVariant): StorageBinding[] {
  const t = v.et;
  return [
    { name: 'q', type: t },
    { name: 'k', type: t },
    { name: 'v', type: t },
    ...(v.bias ? [{ name: 'bias', type: t }] : []),
    ...(v.rel
      ? [
          { name: 'relH', type: t },
          { name: 'relW', type: t },
        ]
      : []),
  ];
}

/** The logit's additive terms for query row `row` (flat b·Lq + i), key j; `boff` is the bias offset of (b, i). */
function extras(v: AttentionVariant, row: string, j: string, boff: string): string {
  let s = '';
  if (v.bias) s += ` + ${f(`bias[${boff} + ${j} * p.sbk]`, v.et)}`;
  // jh = j / kw and jw = j % kw are kept by the key loop (integer division per key is slow on CPUs' vector units)
  if (v.rel) s += ` + ${f(`relH[${row} * p.kh + jh]`, v.et)} + ${f(`relW[${row} * p.kw + jw]`, v.et)}`;
  return s;
}

/** Key (row, column) counters of the relative position at the start of a key tile, and their step per key. */
const relStart = (v: AttentionVariant) => (v.rel ? '\n    var jh = k0 / p.kw;\n    var jw = k0 % p.kw;' : '');
const relStep = (v: AttentionVariant) => (v.rel ? '\n      jw += 1u;\n      if (jw == p.kw) { jw = 0u; jh += 1u; }' : '');

/** Workgroup index → (tile, b); the whole workgroup returns past the last batch (uniform control flow). */
const tileHeader = `
  let flat = wid.x + wid.y * nwg.x;
  let tile = flat % p.nTiles;
  let b = flat / p.nTiles;
  if (b >= p.B) { return; }`;

function build(v: AttentionVariant): ShaderSpec {
  switch (v.op) {
    case 'fwd':
      return forward(v);
    case 'dq':
      return gradQ(v);
    case 'dkv':
      return gradKV(v);
    case 'dbias':
      return gradBias(v);
  }
}

/**
 * Loaders of one vec4 of a row (zeros past its length), one per buffer: rows are D or Dv long, not a multiple
 * of 4 in general, so vec4 loads from storage would be misaligned.
 */
function loaders(v: AttentionVariant, names: [buffer: string, len: string, et: string][]): string {
  return names
    .map(
      ([b, len, et]) => `fn ld_${b}(base: u32, c: u32) -> vec4<f32> {
  var r = vec4<f32>(0.0);
  for (var e = 0u; e < 4u; e++) {
    if (4u * c + e < p.${len}) { r[e] = ${f(`${b}[base + 4u * c + e]`, et)}; }
  }
  return r;
}`,
    )
    .join('\n');
}

/** Stages key/value rows k0 … k0 + TILE − 1 of batch b into kt/vt as vec4s, zero beyond Lk and beyond D/Dv. */
function loadKV(v: AttentionVariant): string {
  const { tile: T } = v;
  const d4 = v.dp / 4,
    dv4 = v.dvp / 4;
  return `
    workgroupBarrier();
    for (var x = li; x < ${T * d4}u; x += ${ATTN_ROWS}u) {
      let key = k0 + x / ${d4}u;
      var val = vec4<f32>(0.0);
      if (key < p.Lk) { val = ld_k((b * p.Lk + key) * p.D, x % ${d4}u); }
      kt[x] = val;
    }
    for (var x = li; x < ${T * dv4}u; x += ${ATTN_ROWS}u) {
      let key = k0 + x / ${dv4}u;
      var val = vec4<f32>(0.0);
      if (key < p.Lk) { val = ld_v((b * p.Lk + key) * p.Dv, x % ${dv4}u); }
      vt[x] = val;
    }
    workgroupBarrier();`;
}

/** The thread's query row i (clamped to a valid row for reads), its scaled q in qr. */
function queryRow(v: AttentionVariant): string {
  return `
  let i = tile * ${ATTN_ROWS}u + li;
  let valid = i < p.Lq;
  let row = b * p.Lq + min(i, p.Lq - 1u);
  let boff = ${v.bias ? 'lead_offset(b) + min(i, p.Lq - 1u) * p.sbq' : '0u'};
  var qr: array<vec4<f32>, ${v.dp / 4}>;
  for (var c = 0u; c < ${v.dp / 4}u; c++) { qr[c] = ld_q(row * p.D, c) * p.scale; }`;
}

/** Writes the vec4 accumulator `acc` (times `by`) into row `row` of `buf` (length `len`). */
const store = (buf: string, acc: string, n4: number, len: string, by: string, et = 'f32') => `
    for (var c = 0u; c < ${n4}u; c++) {
      let a = ${acc}[c] * ${by};
      for (var e = 0u; e < 4u; e++) {
        if (4u * c + e < p.${len}) { ${buf}[row * p.${len} + 4u * c + e] = ${et === 'f16' ? 'f16(a[e])' : 'a[e]'}; }
      }
    }`;

function forward(v: AttentionVariant): ShaderSpec {
  const { tile: T, et } = v;
  const d4 = v.dp / 4,
    dv4 = v.dvp / 4;
  return {
    uniforms: attentionLayout,
    workgroupSize: ATTN_ROWS,
    storage: [...inputs(v), { name: 'out', type: et, access: 'read_write' }, { name: 'lse', type: 'f32', access: 'read_write' }],
    decls: `var<workgroup> kt: array<vec4<f32>, ${T * d4}>;
var<workgroup> vt: array<vec4<f32>, ${T * dv4}>;
${loaders(v, [
  ['q', 'D', et],
  ['k', 'D', et],
  ['v', 'Dv', et],
])}
${v.bias ? leadOffset : ''}`,
    body: `${tileHeader}${queryRow(v)}
  let ninf = -inf_f32();
  var m = ninf;
  var l = 0.0;
  var acc: array<vec4<f32>, ${dv4}>;
  for (var k0 = 0u; k0 < p.Lk; k0 += ${T}u) {${loadKV(v)}
    let n = min(${T}u, p.Lk - k0);${relStart(v)}
    for (var jj = 0u; jj < n; jj++) {
      var sd = 0.0;
      for (var c = 0u; c < ${d4}u; c++) { sd += dot(qr[c], kt[jj * ${d4}u + c]); }
      let j = k0 + jj;
      let sj = sd${extras(v, 'row', 'j', 'boff')};
      // online softmax: a new maximum rescales what was summed so far (rare after the first keys)
      if (sj > m) {
        let corr = exp(m - sj);
        l *= corr;
        for (var c = 0u; c < ${dv4}u; c++) { acc[c] *= corr; }
        m = sj;
      }
      // while every logit so far is -inf, nothing counts (exp(-inf - -inf) would be NaN)
      let pj = select(exp(sj - m), 0.0, m == ninf);
      l += pj;
      for (var c = 0u; c < ${dv4}u; c++) { acc[c] += pj * vt[jj * ${dv4}u + c]; }${relStep(v)}
    }
  }
  if (valid) {
    let inv = select(1.0 / l, 0.0, p.Lk == 0u);${store('out', 'acc', dv4, 'Dv', 'inv', et)}
    lse[row] = m + log(l);
  }`,
  };
}

function gradQ(v: AttentionVariant): ShaderSpec {
  const { tile: T } = v;
  const d4 = v.dp / 4,
    dv4 = v.dvp / 4;
  return {
    uniforms: attentionLayout,
    workgroupSize: ATTN_ROWS,
    storage: [
      ...inputs(v),
      { name: 'lse', type: 'f32' },
      { name: 'delta', type: 'f32' },
      { name: 'dO', type: 'f32' },
      { name: 'dq', type: 'f32', access: 'read_write' },
      ...(v.rel
        ? [
            { name: 'dRelH', type: 'f32', access: 'read_write' as const },
            { name: 'dRelW', type: 'f32', access: 'read_write' as const },
          ]
        : []),
    ],
    decls: `var<workgroup> kt: array<vec4<f32>, ${T * d4}>;
var<workgroup> vt: array<vec4<f32>, ${T * dv4}>;
${loaders(v, [
  ['q', 'D', v.et],
  ['k', 'D', v.et],
  ['v', 'Dv', v.et],
  ['dO', 'Dv', 'f32'],
])}
${v.bias ? leadOffset : ''}`,
    body: `${tileHeader}${queryRow(v)}
  var dor: array<vec4<f32>, ${dv4}>;
  for (var c = 0u; c < ${dv4}u; c++) { dor[c] = ld_dO(row * p.Dv, c); }
  let li_ = lse[row];
  let di = delta[row];
  var acc: array<vec4<f32>, ${d4}>;${
    v.rel
      ? `
  if (valid) {
    for (var a = 0u; a < p.kh; a++) { dRelH[row * p.kh + a] = 0.0; }
    for (var a = 0u; a < p.kw; a++) { dRelW[row * p.kw + a] = 0.0; }
  }`
      : ''
  }
  for (var k0 = 0u; k0 < p.Lk; k0 += ${T}u) {${loadKV(v)}
    let n = min(${T}u, p.Lk - k0);${relStart(v)}
    for (var jj = 0u; jj < n; jj++) {
      var sd = 0.0;
      for (var c = 0u; c < ${d4}u; c++) { sd += dot(qr[c], kt[jj * ${d4}u + c]); }
      var dp_ = 0.0;
      for (var c = 0u; c < ${dv4}u; c++) { dp_ += dot(dor[c], vt[jj * ${dv4}u + c]); }
      let j = k0 + jj;
      let pj = exp(sd${extras(v, 'row', 'j', 'boff')} - li_);
      let ds = pj * (dp_ - di);
      for (var c = 0u; c < ${d4}u; c++) { acc[c] += ds * kt[jj * ${d4}u + c]; }${
        v.rel
          ? `
      if (valid) {
        dRelH[row * p.kh + jh] += ds;
        dRelW[row * p.kw + jw] += ds;
      }`
          : ''
      }${relStep(v)}
    }
  }
  if (valid) {${store('dq', 'acc', d4, 'D', 'p.scale')}
  }`,
  };
}

function gradKV(v: AttentionVariant): ShaderSpec {
  const { tile: T } = v;
  const d4 = v.dp / 4,
    dv4 = v.dvp / 4;
  return {
    uniforms: attentionLayout,
    workgroupSize: ATTN_ROWS,
    storage: [
      ...inputs(v),
      { name: 'lse', type: 'f32' },
      { name: 'delta', type: 'f32' },
      { name: 'dO', type: 'f32' },
      { name: 'dk', type: 'f32', access: 'read_write' },
      { name: 'dv', type: 'f32', access: 'read_write' },
    ],
    decls: `var<workgroup> qt: array<vec4<f32>, ${T * d4}>;
var<workgroup> ot: array<vec4<f32>, ${T * dv4}>;
var<workgroup> lt: array<f32, ${T}>;
var<workgroup> dt: array<f32, ${T}>;
${loaders(v, [
  ['q', 'D', v.et],
  ['k', 'D', v.et],
  ['v', 'Dv', v.et],
  ['dO', 'Dv', 'f32'],
])}
${v.bias ? leadOffset : ''}`,
    body: `${tileHeader}
  let j = tile * ${ATTN_ROWS}u + li;
  let valid = j < p.Lk;
  let row = b * p.Lk + min(j, p.Lk - 1u);
  let jc = min(j, p.Lk - 1u);
  let boff = ${v.bias ? 'lead_offset(b)' : '0u'};${v.rel ? '\n  let jh = jc / p.kw;\n  let jw = jc % p.kw;' : ''}
  var kr: array<vec4<f32>, ${d4}>;
  for (var c = 0u; c < ${d4}u; c++) { kr[c] = ld_k(row * p.D, c); }
  var vr: array<vec4<f32>, ${dv4}>;
  for (var c = 0u; c < ${dv4}u; c++) { vr[c] = ld_v(row * p.Dv, c); }
  var dka: array<vec4<f32>, ${d4}>;
  var dva: array<vec4<f32>, ${dv4}>;
  for (var i0 = 0u; i0 < p.Lq; i0 += ${T}u) {
    workgroupBarrier();
    for (var x = li; x < ${T * d4}u; x += ${ATTN_ROWS}u) {
      let qi = i0 + x / ${d4}u;
      var val = vec4<f32>(0.0);
      if (qi < p.Lq) { val = ld_q((b * p.Lq + qi) * p.D, x % ${d4}u) * p.scale; }
      qt[x] = val;
    }
    for (var x = li; x < ${T * dv4}u; x += ${ATTN_ROWS}u) {
      let qi = i0 + x / ${dv4}u;
      var val = vec4<f32>(0.0);
      if (qi < p.Lq) { val = ld_dO((b * p.Lq + qi) * p.Dv, x % ${dv4}u); }
      ot[x] = val;
    }
    for (var x = li; x < ${T}u; x += ${ATTN_ROWS}u) {
      let qi = min(i0 + x, p.Lq - 1u);
      lt[x] = lse[b * p.Lq + qi];
      dt[x] = delta[b * p.Lq + qi];
    }
    workgroupBarrier();
    let n = min(${T}u, p.Lq - i0);
    for (var ii = 0u; ii < n; ii++) {
      let i = i0 + ii;
      let qrow = b * p.Lq + i;
      var sd = 0.0;
      for (var c = 0u; c < ${d4}u; c++) { sd += dot(qt[ii * ${d4}u + c], kr[c]); }
      let pj = exp(sd${extras(v, 'qrow', 'jc', 'boff + i * p.sbq')} - lt[ii]);
      var dp_ = 0.0;
      for (var c = 0u; c < ${dv4}u; c++) {
        let o = ot[ii * ${dv4}u + c];
        dva[c] += pj * o;
        dp_ += dot(o, vr[c]);
      }
      let ds = pj * (dp_ - dt[ii]);
      for (var c = 0u; c < ${d4}u; c++) { dka[c] += ds * qt[ii * ${d4}u + c]; }
    }
  }
  if (valid) {${store('dk', 'dka', d4, 'D', '1.0')}${store('dv', 'dva', dv4, 'Dv', '1.0')}
  }`,
  };
}

/**
 * One thread per bias element e (flat over the bias's own shape padded to [...batch, Lq, Lk]); its
 * p.R broadcast positions are enumerated by t, whose digits run over the broadcast axes only.
 */
function gradBias(v: AttentionVariant): ShaderSpec {
  const et = v.et;
  return {
    uniforms: attentionLayout,
    workgroupSize: ATTN_ROWS,
    grid: 'n',
    storage: [
      ...inputs(v),
      { name: 'lse', type: 'f32' },
      { name: 'delta', type: 'f32' },
      { name: 'dO', type: 'f32' },
      { name: 'db', type: 'f32', access: 'read_write' },
    ],
    body: `
  var total = 0.0;
  for (var t = 0u; t < p.R; t++) {
    var rest = i;
    var r = t;
    var j = 0u;
    if (p.sbk != 0u) { j = rest % p.Lk; rest /= p.Lk; } else { j = r % p.Lk; r /= p.Lk; }
    var qi = 0u;
    if (p.sbq != 0u) { qi = rest % p.Lq; rest /= p.Lq; } else { qi = r % p.Lq; r /= p.Lq; }
    var b = 0u;
    var mult = 1u;
    for (var a = i32(p.nLead) - 1; a >= 0; a--) {
      let n = p.ld[a / 4][a % 4];
      var c = 0u;
      if (p.ls[a / 4][a % 4] != 0u) { c = rest % n; rest /= n; } else { c = r % n; r /= n; }
      b += c * mult;
      mult *= n;
    }
    let row = b * p.Lq + qi;
    let krow = b * p.Lk + j;
    var sd = 0.0;
    for (var d = 0u; d < p.D; d++) { sd += ${f('q[row * p.D + d]', et)} * ${f('k[krow * p.D + d]', et)}; }
    var dp_ = 0.0;
    for (var d = 0u; d < p.Dv; d++) { dp_ += dO[row * p.Dv + d] * ${f('v[krow * p.Dv + d]', et)}; }
    let pj = exp(sd * p.scale + ${f('bias[i]', et)}${v.rel ? ` + ${f('relH[row * p.kh + j / p.kw]', et)} + ${f('relW[row * p.kw + j % p.kw]', et)}` : ''} - lse[row]);
    total += pj * (dp_ - delta[row]);
  }
  db[i] = total;`,
  };
}
