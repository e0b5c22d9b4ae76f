/**
 * Kernel generators for layout ops. Every layout kernel moves 4-byte words, so most are
 * dtype-agnostic (bound as `array<u32>`); only kernels that add or write a constant are
 * specialised on the WGSL type. Sizes, strides and offsets travel as uniforms (rank ≤ 8).
 *
 * - stridedGather: out[i] = x[base + Σ_d stride_d · wrap_d(start_d + i_d · step_d)], the one
 *   kernel behind permute, slice, flip (negative step), tile (wrap = modulo) and roll.
 * - copyRegion: a contiguous source written at dst[base + Σ_d i_d · dstStride_d] (concat,
 *   slice's backward).
 * - pad / padBackward: per-dim index mapping for constant, reflect and replicate padding, and its
 *   adjoint (each input element sums the output positions that map to it; deterministic).
 * - gather / scatterAdd: index-driven reads, and deterministic adds where each output element
 *   loops over the index entries that can target it (no atomics: bit-for-bit reproducible).
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { MAX_RANK } from './elementwise';
import { kernel, type Shader } from './builder';

export const LAYOUT_WG = 256;

export interface LayoutKernel {
  key: string;
  source: () => Shader;
  layout: UniformLayout;
  values: UniformValues;
}

const vec = (name: string, type: 'u32' | 'i32' = 'u32') => ({ name, type, vec4s: 2 }) as const;
const at = (field: string) => `p.${field}[k / 4u][k % 4u]`;
const checkRank = (name: string, rank: number) => {
  if (rank > MAX_RANK) throw new Error(`${name}: tensors of rank ${rank} exceed the supported rank ${MAX_RANK}`);
};

const gatherLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'rank', type: 'u32' },
  { name: 'base', type: 'i32' },
  vec('shape'),
  vec('start', 'i32'),
  vec('step', 'i32'),
  vec('wrap'),
  vec('stride', 'i32'),
]);

/**
 * Generic strided gather. Per output dim d: source coordinate c = start_d + i_d·step_d, reduced
 * modulo wrap_d when wrap_d > 0; the source offset is base + Σ c·stride_d (strides may be 0 or negative).
 */
export function stridedGatherKernel(o: {
  shape: readonly number[];
  base: number;
  start: readonly number[];
  step: readonly number[];
  wrap: readonly number[];
  stride: readonly number[];
}): LayoutKernel {
  checkRank('stridedGather', o.shape.length);
  // fold the start of every unwrapped dim into base, then drop size-1 dims and merge neighbours that
  // walk the source as one run (fewer index divisions per element; same addresses)
  let base = o.base;
  const shape: number[] = [],
    start: number[] = [],
    step: number[] = [],
    wrap: number[] = [],
    stride: number[] = [];
  o.shape.forEach((d, i) => {
    const wrapped = o.wrap[i] > 0;
    if (!wrapped) base += o.start[i] * o.stride[i];
    if (d === 1 && !wrapped) return;
    const e = wrapped ? o.stride[i] : o.step[i] * o.stride[i];
    const k = shape.length - 1;
    if (!wrapped && k >= 0 && wrap[k] === 0 && stride[k] === e * d) {
      shape[k] *= d;
      stride[k] = e;
      return;
    }
    shape.push(d);
    start.push(wrapped ? o.start[i] : 0);
    step.push(wrapped ? o.step[i] : 1);
    wrap.push(o.wrap[i]);
    stride.push(e);
  });
  const values = { n: o.shape.reduce((a, b) => a * b, 1), rank: shape.length, base, shape, start, step, wrap, stride };
  return {
    layout: gatherLayout,
    values,
    ...kernel('layout', { op: 'stridedGather' }, () => ({
      uniforms: gatherLayout,
      storage: [
        { name: 'x', type: 'u32' },
        { name: 'out', type: 'u32', access: 'read_write' },
      ],
      workgroupSize: LAYOUT_WG,
      grid: 'n',
      body: `
  var r = i;
  var off = p.base;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let sz = ${at('shape')};
    var c = ${at('start')} + i32(r % sz) * ${at('step')};
    r = r / sz;
    let w = i32(${at('wrap')});
    if (w > 0) { c = ((c % w) + w) % w; }
    off += c * ${at('stride')};
  }
  out[i] = x[u32(off)];`,
    })),
  };
}

const copyLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'rank', type: 'u32' },
  { name: 'base', type: 'u32' },
  vec('shape'),
  vec('dstStride'),
]);

/**
 * Writes every element of a contiguous source of `shape` to dst[base + Σ i_d·dstStride_d].
 * `elem: 'f16'` moves 2-byte elements (float16 tensors) instead of 4-byte words.
 */
export function copyRegionKernel(o: { shape: readonly number[]; base: number; dstStride: readonly number[] }, elem: 'u32' | 'f16' = 'u32'): LayoutKernel {
  checkRank('copyRegion', o.shape.length);
  // drop size-1 dims and merge neighbours that are one contiguous run in dst
  const shape: number[] = [],
    dstStride: number[] = [];
  o.shape.forEach((d, i) => {
    if (d === 1) return;
    const k = shape.length - 1;
    if (k >= 0 && dstStride[k] === o.dstStride[i] * d) {
      shape[k] *= d;
      dstStride[k] = o.dstStride[i];
      return;
    }
    shape.push(d);
    dstStride.push(o.dstStride[i]);
  });
  const values = { n: o.shape.reduce((a, b) => a * b, 1), rank: shape.length, base: o.base, shape, dstStride };
  return {
    layout: copyLayout,
    values,
    ...kernel('layout', { op: 'copyRegion', elem }, () => ({
      uniforms: copyLayout,
      storage: [
        { name: 'src', type: elem },
        { name: 'dst', type: elem, access: 'read_write' },
      ],
      workgroupSize: LAYOUT_WG,
      grid: 'n',
      body: `
  var r = i;
  var off = p.base;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let sz = ${at('shape')};
    off += (r % sz) * ${at('dstStride')};
    r = r / sz;
  }
  dst[off] = src[i];`,
    })),
  };
}

export type PadMode = 'constant' | 'reflect' | 'replicate';

const padLayout = (t: string) =>
  new UniformLayout([
    { name: 'n', type: 'u32' },
    { name: 'rank', type: 'u32' },
    { name: 'value', type: t as 'f32' },
    vec('outShape'),
    vec('inShape'),
    vec('lo', 'i32'),
  ]);

/**
 * Forward padding: output coordinate o along d maps to input coordinate j = o − lo_d, then
 * constant: outside [0, n) gives `value`; reflect: −j / 2(n−1)−j; replicate: clamp to [0, n−1].
 */
export function padKernel(
  mode: PadMode,
  t: 'f32' | 'i32' | 'u32',
  o: { outShape: readonly number[]; inShape: readonly number[]; lo: readonly number[]; value: number },
): LayoutKernel {
  checkRank('pad', o.outShape.length);
  const layout = padLayout(t);
  const values = { n: o.outShape.reduce((a, b) => a * b, 1), rank: o.outShape.length, value: o.value, outShape: o.outShape, inShape: o.inShape, lo: o.lo };
  const map =
    mode === 'constant'
      ? 'if (j < 0 || j >= n) { inside = false; }'
      : mode === 'reflect'
        ? 'if (j < 0) { j = -j; } if (j >= n) { j = 2 * (n - 1) - j; }'
        : 'j = clamp(j, 0, n - 1);';
  return {
    layout,
    values,
    ...kernel('layout', { op: 'pad', mode, t }, () => ({
      uniforms: layout,
      storage: [
        { name: 'x', type: t },
        { name: 'out', type: t, access: 'read_write' },
      ],
      workgroupSize: LAYOUT_WG,
      grid: 'n',
      body: `
  var r = i;
  var off = 0u;
  var scale = 1u;
  var inside = true;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let sz = ${at('outShape')};
    let n = i32(${at('inShape')});
    var j = i32(r % sz) - ${at('lo')};
    r = r / sz;
    ${map}
    off += u32(max(j, 0)) * scale;
    scale *= u32(n);
  }
  if (inside) { out[i] = x[off]; } else { out[i] = p.value; }`,
    })),
  };
}

const padBackLayout = new UniformLayout([{ name: 'n', type: 'u32' }, { name: 'rank', type: 'u32' }, vec('outShape'), vec('inShape'), vec('lo', 'i32')]);

/**
 * Adjoint of pad: for each input element (i over `inShape`), sums dy over every padded-output
 * position that maps to it. Per dim the candidates are: constant: j+lo (if inside the output);
 * reflect: j+lo, lo−j (j ≥ 1), lo+2(n−1)−j (j ≤ n−2), each if inside; replicate: a contiguous
 * range (the whole left border for j = 0, the right border for j = n−1). The sum runs over the
 * Cartesian product in a fixed order.
 */
export function padBackwardKernel(
  mode: PadMode,
  t: 'f32' | 'i32' | 'u32',
  o: { outShape: readonly number[]; inShape: readonly number[]; lo: readonly number[] },
): LayoutKernel {
  checkRank('padBackward', o.outShape.length);
  const values = { n: o.inShape.reduce((a, b) => a * b, 1), rank: o.inShape.length, outShape: o.outShape, inShape: o.inShape, lo: o.lo };
  const cands =
    mode === 'replicate'
      ? `
    var a = j + lo; var b = j + lo;
    if (j == 0) { a = 0; }
    if (j == n - 1) { b = m - 1; }
    a = max(a, 0); b = min(b, m - 1);
    first[k] = a; cnt[k] = u32(max(b - a + 1, 0));`
      : mode === 'reflect'
        ? `
    var c = 0u;
    let q0 = j + lo; let q1 = lo - j; let q2 = lo + 2 * (n - 1) - j;
    if (q0 >= 0 && q0 < m) { cand[k * 3u + c] = q0; c++; }
    if (j >= 1 && q1 >= 0 && q1 < m) { cand[k * 3u + c] = q1; c++; }
    if (j <= n - 2 && q2 >= 0 && q2 < m) { cand[k * 3u + c] = q2; c++; }
    cnt[k] = c;`
        : `
    let q0 = j + lo;
    cand[k * 3u] = q0; cnt[k] = select(0u, 1u, q0 >= 0 && q0 < m);`;
  const pick = mode === 'replicate' ? 'first[k] + i32(c)' : 'cand[k * 3u + c]';
  return {
    layout: padBackLayout,
    values,
    ...kernel('layout', { op: 'padBackward', mode, t }, () => ({
      uniforms: padBackLayout,
      storage: [
        { name: 'dy', type: `${t}` },
        { name: 'dx', type: `${t}`, access: 'read_write' },
      ],
      workgroupSize: LAYOUT_WG,
      grid: 'n',
      body: `
  var cand: array<i32, ${MAX_RANK * 3}>;
  var first: array<i32, ${MAX_RANK}>;
  var cnt: array<u32, ${MAX_RANK}>;
  var r = i;
  var total = 1u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let n = i32(${at('inShape')});
    let m = i32(${at('outShape')});
    let lo = ${at('lo')};
    let j = i32(r % u32(n));
    r = r / u32(n);${cands}
    total *= cnt[k];
  }
  var acc = ${t}(0);
  for (var t = 0u; t < total; t++) {
    var rr = t;
    var off = 0u;
    var scale = 1u;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let k = u32(d);
      let c = rr % cnt[k];
      rr = rr / cnt[k];
      off += u32(${pick}) * scale;
      scale *= ${at('outShape')};
    }
    acc += dy[off];
  }
  dx[i] = acc;`,
    })),
  };
}

const indexLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'rank', type: 'u32' },
  { name: 'dim', type: 'u32' },
  { name: 'dimSize', type: 'u32' },
  vec('outShape'),
  vec('xStride'),
  vec('idxStride'),
]);

/**
 * Index-driven read: out[o] = x[o with coordinate `dim` replaced by index[Σ o_d·idxStride_d]].
 * gather: idxStride = the index tensor's strides (it has the output's shape); indexSelect:
 * idxStride is 1 on `dim`, 0 elsewhere. An index outside [0, dimSize) reads 0.
 */
export function gatherKernel(o: {
  outShape: readonly number[];
  dim: number;
  dimSize: number;
  xStride: readonly number[];
  idxStride: readonly number[];
}): LayoutKernel {
  checkRank('gather', o.outShape.length);
  const values = {
    n: o.outShape.reduce((a, b) => a * b, 1),
    rank: o.outShape.length,
    dim: o.dim,
    dimSize: o.dimSize,
    outShape: o.outShape,
    xStride: o.xStride,
    idxStride: o.idxStride,
  };
  return {
    layout: indexLayout,
    values,
    ...kernel('layout', { op: 'gather' }, () => ({
      uniforms: indexLayout,
      storage: [
        { name: 'x', type: 'u32' },
        { name: 'index', type: 'i32' },
        { name: 'out', type: 'u32', access: 'read_write' },
      ],
      workgroupSize: LAYOUT_WG,
      grid: 'n',
      body: `
  var r = i;
  var xo = 0u;
  var io = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let sz = ${at('outShape')};
    let c = r % sz;
    r = r / sz;
    io += c * ${at('idxStride')};
    if (k != p.dim) { xo += c * ${at('xStride')}; }
  }
  let j = index[io];
  if (j < 0 || u32(j) >= p.dimSize) { out[i] = 0u; return; }
  out[i] = x[xo + u32(j) * p.xStride[p.dim / 4u][p.dim % 4u]];`,
    })),
  };
}

const scatterLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'rank', type: 'u32' },
  { name: 'dim', type: 'u32' },
  { name: 'count', type: 'u32' },
  vec('outShape'),
  vec('idxShape'),
  vec('idxStride'),
  vec('srcStride'),
]);

/**
 * Deterministic scatter-add: out[o] = x[o] + Σ_k src[p_k] over k = 0..count−1 in order, where p_k is
 * o with coordinate `dim` set to k, restricted to o_d < idxShape_d on the other dims, and only
 * entries whose index[p_k] equals o_dim count. Entries whose index is out of range match nothing.
 * scatterAdd: idxStride/srcStride are those tensors' strides; indexAdd: idxStride is 1 on `dim`, 0 elsewhere.
 */
export function scatterAddKernel(
  t: 'f32' | 'i32' | 'u32',
  o: { outShape: readonly number[]; dim: number; count: number; idxShape: readonly number[]; idxStride: readonly number[]; srcStride: readonly number[] },
): LayoutKernel {
  checkRank('scatterAdd', o.outShape.length);
  const values = {
    n: o.outShape.reduce((a, b) => a * b, 1),
    rank: o.outShape.length,
    dim: o.dim,
    count: o.count,
    outShape: o.outShape,
    idxShape: o.idxShape,
    idxStride: o.idxStride,
    srcStride: o.srcStride,
  };
  return {
    layout: scatterLayout,
    values,
    ...kernel('layout', { op: 'scatterAdd', t }, () => ({
      uniforms: scatterLayout,
      storage: [
        { name: 'x', type: `${t}` },
        { name: 'index', type: 'i32' },
        { name: 'src', type: `${t}` },
        { name: 'out', type: `${t}`, access: 'read_write' },
      ],
      workgroupSize: LAYOUT_WG,
      grid: 'n',
      body: `
  var r = i;
  var io = 0u;
  var so = 0u;
  var tgt = 0;
  var covered = true;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let sz = ${at('outShape')};
    let c = r % sz;
    r = r / sz;
    if (k == p.dim) { tgt = i32(c); continue; }
    if (c >= ${at('idxShape')}) { covered = false; }
    io += c * ${at('idxStride')};
    so += c * ${at('srcStride')};
  }
  var acc = x[i];
  if (covered) {
    let istep = p.idxStride[p.dim / 4u][p.dim % 4u];
    let sstep = p.srcStride[p.dim / 4u][p.dim % 4u];
    for (var q = 0u; q < p.count; q++) {
      if (index[io + q * istep] == tgt) { acc += src[so + q * sstep]; }
    }
  }
  out[i] = acc;`,
    })),
  };
}

const oneHotLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'classes', type: 'u32' },
]);

/** out[i·C + c] = 1 if index[i] == c else 0 (int32). */
export function oneHotKernel(n: number, classes: number): LayoutKernel {
  return {
    layout: oneHotLayout,
    values: { n, classes },
    ...kernel('layout', { op: 'oneHot' }, () => ({
      uniforms: oneHotLayout,
      storage: [
        { name: 'index', type: 'i32' },
        { name: 'out', type: 'i32', access: 'read_write' },
      ],
      workgroupSize: LAYOUT_WG,
      grid: 'n',
      body: `
  out[i] = select(0, 1, index[i / p.classes] == i32(i % p.classes));`,
    })),
  };
}
