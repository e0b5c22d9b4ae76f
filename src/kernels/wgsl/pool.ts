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
