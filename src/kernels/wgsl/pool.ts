/**
 * Pooling kernels over NCHW planes (one thread per output element, or per input element for the
 * backward passes). Windows are either regular (kernel, stride, padding, dilation) or adaptive
 * (start = ⌊o·H/OH⌋, end = ⌈(o+1)·H/OH⌉). Backward passes are gathers: each input pixel walks the
 * output windows that cover it and sums their contributions — deterministic, no atomics.
 *
 * Kinds:
 *   max      x → (y, idx)    max over the window; idx = h·W + w of the first maximum (NaN wins)
 *   avg      x → y           mean over the window with PyTorch's divisor rules
 *   maxBack  (dy, idx) → dx  dx[p] = Σ dy[o] over windows o covering p whose idx[o] = p
 *   avgBack  dy → dx         dx[p] = Σ dy[o] / divisor(o) over windows o covering p
 *   gather   (x, idx) → y    y[o] = x[idx[o]] within the plane (the transpose of maxBack)
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { kernel, type Shader, type ShaderSpec, type StorageBinding } from './builder';

export type PoolKind = 'max' | 'avg' | 'maxBack' | 'avgBack' | 'gather';
export const POOL_WG = 256;

/** Window geometry shared by the forward and backward kernels. */
export interface PoolGeometry {
  /** Input plane size. */
  H: number;
  W: number;
  /** Output plane size. */
  OH: number;
  OW: number;
  adaptive: boolean;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  dH: number;
  dW: number;
  countIncludePad: boolean;
  /** 0 when absent. */
  divisorOverride: number;
}

const layout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'H', type: 'i32' },
  { name: 'W', type: 'i32' },
  { name: 'OH', type: 'i32' },
  { name: 'OW', type: 'i32' },
  { name: 'kH', type: 'i32' },
  { name: 'kW', type: 'i32' },
  { name: 'sH', type: 'i32' },
  { name: 'sW', type: 'i32' },
  { name: 'pH', type: 'i32' },
  { name: 'pW', type: 'i32' },
  { name: 'dH', type: 'i32' },
  { name: 'dW', type: 'i32' },
  { name: 'countIncludePad', type: 'u32' },
  { name: 'divisor', type: 'f32' },
]);

export interface PoolPlan {
  key: string;
  source: () => Shader;
  layout: UniformLayout;
  values: UniformValues;
}

/**
 * `n` = number of threads (outputs for forward kinds and gather, inputs for the backward kinds).
 * `elem: 'f16'` (kind 'max' only): x and y stored as f16, compared as f32.
 */
export function poolPlan(kind: PoolKind, g: PoolGeometry, n: number, elem: 'f32' | 'f16' = 'f32'): PoolPlan {
  if (kind === 'max' && elem === 'f32' && isMax2x2(g)) return max2x2Plan(g, n);
  if (elem === 'f16' && kind !== 'max') throw new Error(`poolPlan: f16 storage is only implemented for max pooling, not '${kind}'`);
  const values: UniformValues = {
    n,
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    kH: g.kH,
    kW: g.kW,
    sH: g.sH,
    sW: g.sW,
    pH: g.pH,
    pW: g.pW,
    dH: g.dH,
    dW: g.dW,
    countIncludePad: g.countIncludePad ? 1 : 0,
    divisor: g.divisorOverride,
  };
  // backward of non-overlapping windows (kernel ≤ stride, no dilation): each input row/column has at most one
  // covering output, found with one division instead of two per tap (lavapipe scalarises integer division)
  const single = (kind === 'maxBack' || kind === 'avgBack') && !g.adaptive && g.dH === 1 && g.dW === 1 && g.kH <= g.sH && g.kW <= g.sW;
  return {
    layout,
    values,
    ...kernel('pool', { kind, adaptive: g.adaptive, elem, ...(single ? { single } : {}) }, (v) =>
      poolShader(v.kind, v.adaptive, v.elem === 'f16', v.single === true),
    ),
  };
}

function poolShader(kind: PoolKind, adaptive: boolean, half: boolean, single = false): ShaderSpec {
  const E = half ? 'f16' : 'f32';
  const bindings = {
    max: [`x: array<${E}>`, `y: array<${E}>`, 'idx: array<i32>'],
    avg: ['x: array<f32>', 'y: array<f32>'],
    maxBack: ['dy: array<f32>', 'idx: array<i32>', 'dx: array<f32>'],
    avgBack: ['dy: array<f32>', 'dx: array<f32>'],
    gather: ['x: array<f32>', 'idx: array<i32>', 'y: array<f32>'],
  }[kind];
  const outputs = { max: 2, avg: 1, maxBack: 1, avgBack: 1, gather: 1 }[kind];
  const storage: StorageBinding[] = bindings.map((b, i) => {
    const [name, type] = b.split(': ');
    return { name, type: type.slice('array<'.length, -1), access: i >= bindings.length - outputs ? 'read_write' : 'read' };
  });

  // window of output row/col o along one axis: first tap, tap count, tap step; and the avg divisor
  const windowFns = adaptive
    ? `
fn win(o: i32, size: i32, osize: i32, k: i32, s: i32, pad: i32, d: i32) -> vec3<i32> {
  let start = (o * size) / osize;
  let end = ((o + 1) * size + osize - 1) / osize;
  return vec3<i32>(start, end - start, 1);
}`
    : `
fn win(o: i32, size: i32, osize: i32, k: i32, s: i32, pad: i32, d: i32) -> vec3<i32> {
  return vec3<i32>(o * s - pad, k, d);
}`;
  const divisorFn = adaptive
    ? `
fn divisor(oh: i32, ow: i32) -> f32 {
  let h = win(oh, p.H, p.OH, p.kH, p.sH, p.pH, p.dH); let w = win(ow, p.W, p.OW, p.kW, p.sW, p.pW, p.dW);
  return f32(h.y * w.y);
}`
    : `
fn divisor(oh: i32, ow: i32) -> f32 {
  let hs0 = oh * p.sH - p.pH; let ws0 = ow * p.sW - p.pW;
  let he0 = min(hs0 + p.kH, p.H + p.pH); let we0 = min(ws0 + p.kW, p.W + p.pW);
  if (p.divisor != 0.0) { return p.divisor; }
  if (p.countIncludePad != 0u) { return f32((he0 - hs0) * (we0 - ws0)); }
  let hs = max(hs0, 0); let ws = max(ws0, 0); let he = min(he0, p.H); let we = min(we0, p.W);
  return f32((he - hs) * (we - ws));
}`;
  // output rows covering input row i along one axis: a range [lo, hi] (adaptive), or one candidate per tap
  const coverLoop = (axis: 'h' | 'w', body: string) => {
    const [i, size, osize, k, s, pad, d] =
      axis === 'h' ? ['ih', 'p.H', 'p.OH', 'p.kH', 'p.sH', 'p.pH', 'p.dH'] : ['iw', 'p.W', 'p.OW', 'p.kW', 'p.sW', 'p.pW', 'p.dW'];
    const o = axis === 'h' ? 'oh' : 'ow';
    if (single)
      return `
    let num_${axis} = ${i} + ${pad}; let ${o} = num_${axis} / ${s};
    if (num_${axis} - ${o} * ${s} < ${k} && ${o} < ${osize}) {${body}
    }`;
    return adaptive
      ? `
    let lo_${axis} = (${i} * ${osize}) / ${size};
    let hi_${axis} = min(((${i} + 1) * ${osize} - 1) / ${size}, ${osize} - 1);
    for (var ${o} = lo_${axis}; ${o} <= hi_${axis}; ${o}++) {${body}
    }`
      : `
    for (var t_${axis} = 0; t_${axis} < ${k}; t_${axis}++) {
      let num_${axis} = ${i} + ${pad} - t_${axis} * ${d};
      if (num_${axis} < 0 || num_${axis} % ${s} != 0) { continue; }
      let ${o} = num_${axis} / ${s};
      if (${o} >= ${osize}) { continue; }${body}
    }`;
  };

  let body: string;
  if (kind === 'max' || kind === 'avg') {
    const inner =
      kind === 'max'
        ? `
        let v = ${half ? 'f32(x[base + u32(hh * p.W + ww)])' : 'x[base + u32(hh * p.W + ww)]'};
        if (v > best || is_nan(v) || bi < 0) { best = v; bi = hh * p.W + ww; }`
        : `
        acc += x[base + u32(hh * p.W + ww)];`;
    body = `
  let ow = i32(i % u32(p.OW)); let oh = i32((i / u32(p.OW)) % u32(p.OH)); let plane = i / u32(p.OW * p.OH);
  let base = plane * u32(p.H * p.W);
  let h = win(oh, p.H, p.OH, p.kH, p.sH, p.pH, p.dH); let w = win(ow, p.W, p.OW, p.kW, p.sW, p.pW, p.dW);
  var best = 0.0; var bi = -1; var acc = 0.0;
  for (var a = 0; a < h.y; a++) {
    let hh = h.x + a * h.z;
    if (hh < 0 || hh >= p.H) { continue; }
    for (var b = 0; b < w.y; b++) {
      let ww = w.x + b * w.z;
      if (ww < 0 || ww >= p.W) { continue; }${inner}
    }
  }
  ${
    kind === 'max'
      ? `if (bi < 0) { best = -inf_f32(); }
  y[i] = ${half ? 'f16(best)' : 'best'}; idx[i] = bi;`
      : 'y[i] = acc / divisor(oh, ow);'
  }`;
  } else if (kind === 'gather') {
    body = `
  let plane = i / u32(p.OW * p.OH);
  let j = idx[i];
  y[i] = select(0.0, x[plane * u32(p.H * p.W) + u32(j)], j >= 0);`;
  } else {
    const take =
      kind === 'maxBack'
        ? `
        let o = obase + u32(oh * p.OW + ow);
        if (idx[o] == me) { acc += dy[o]; }`
        : `
        acc += dy[obase + u32(oh * p.OW + ow)] / divisor(oh, ow);`;
    body = `
  let iw = i32(i % u32(p.W)); let ih = i32((i / u32(p.W)) % u32(p.H)); let plane = i / u32(p.W * p.H);
  let obase = plane * u32(p.OH * p.OW);
  let me = ih * p.W + iw;
  var acc = 0.0;${coverLoop('h', coverLoop('w', take).replace(/\n/g, '\n    '))}
  dx[i] = acc;`;
  }
  return {
    uniforms: layout,
    storage,
    workgroupSize: POOL_WG,
    grid: 'n',
    decls: `${windowFns}\n${kind === 'avg' || kind === 'avgBack' ? divisorFn : ''}`,
    body,
  };
}

// ---- forward max pool 2×2, stride 2: four outputs per thread ---------------------------------

/** Workgroup of the 2×2 kernel: 8 vec4 columns × 8 output rows (one plane per z). */
const M22 = [8, 8] as const;

/**
 * The common down-sampling pool (kernel 2, stride 2, no padding or dilation) over planes whose
 * windows tile the input exactly and whose output rows are whole vec4s: the fast path applies.
 */
export function isMax2x2(g: PoolGeometry): boolean {
  return (
    !g.adaptive &&
    g.kH === 2 &&
    g.kW === 2 &&
    g.sH === 2 &&
    g.sW === 2 &&
    g.pH === 0 &&
    g.pW === 0 &&
    g.dH === 1 &&
    g.dW === 1 &&
    g.H === 2 * g.OH &&
    g.W === 2 * g.OW &&
    g.OW % 4 === 0
  );
}

/** Workgroups of the 2×2 kernel for `n` outputs: x over vec4 columns, y over output rows, z over planes (folded past 65535). */
export function max2x2Workgroups(g: PoolGeometry, n: number): [number, number, number] {
  const planes = n / (g.OH * g.OW);
  return [Math.ceil(g.OW / 4 / M22[0]), Math.ceil(g.OH / M22[1]), Math.min(planes, 65535)];
}

function max2x2Plan(g: PoolGeometry, n: number): PoolPlan {
  const values: UniformValues = {
    n: n / (g.OH * g.OW),
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    kH: 2,
    kW: 2,
    sH: 2,
    sW: 2,
    pH: 0,
    pW: 0,
    dH: 1,
    dW: 1,
    countIncludePad: 0,
    divisor: 0,
  };
  return { layout, values, ...kernel('pool-max2x2', {}, () => max2x2Shader()) };
}

/**
 * Thread (c, oh, plane) reads two vec4s from each of input rows 2·oh and 2·oh+1 and writes the
 * vec4 of outputs 4c…4c+3 of row oh and their indices. Taps are taken in the generic kernel's order
 * ((0,0), (0,1), (1,0), (1,1)) with its rule: a later tap wins when greater or NaN. `p.n` is the plane count.
 */
function max2x2Shader(): ShaderSpec {
  return {
    uniforms: layout,
    storage: [
      { name: 'x', type: 'vec4<f32>' },
      { name: 'y', type: 'vec4<f32>', access: 'read_write' },
      { name: 'idx', type: 'vec4<i32>', access: 'read_write' },
    ],
    workgroupSize: M22,
    decls: `
fn take(v: vec4<f32>, best: vec4<f32>) -> vec4<bool> {
  return (v > best) | ((bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u));
}`,
    body: `
  let c = gid.x; let oh = gid.y;
  let ow4 = u32(p.OW) / 4u;
  if (c >= ow4 || oh >= u32(p.OH)) { return; }
  for (var plane = gid.z; plane < p.n; plane += nwg.z) {
    let w4 = u32(p.W) / 4u;
    let r0 = (plane * u32(p.H) + 2u * oh) * w4 + 2u * c;
    let a0 = x[r0]; let a1 = x[r0 + 1u]; let b0 = x[r0 + w4]; let b1 = x[r0 + w4 + 1u];
    let i00 = vec4<i32>(i32(2u * oh) * p.W + i32(8u * c)) + vec4<i32>(0, 2, 4, 6);
    var best = vec4<f32>(a0.x, a0.z, a1.x, a1.z);
    var bi = i00;
    let t01 = vec4<f32>(a0.y, a0.w, a1.y, a1.w);
    var k = take(t01, best); best = select(best, t01, k); bi = select(bi, i00 + vec4<i32>(1), k);
    let t10 = vec4<f32>(b0.x, b0.z, b1.x, b1.z);
    k = take(t10, best); best = select(best, t10, k); bi = select(bi, i00 + vec4<i32>(p.W), k);
    let t11 = vec4<f32>(b0.y, b0.w, b1.y, b1.w);
    k = take(t11, best); best = select(best, t11, k); bi = select(bi, i00 + vec4<i32>(p.W + 1), k);
    let o = (plane * u32(p.OH) + oh) * ow4 + c;
    y[o] = best; idx[o] = bi;
  }`,
  };
}
