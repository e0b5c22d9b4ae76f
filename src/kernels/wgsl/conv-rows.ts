/**
 * Forward 2-D convolution with stride 1 along W for few channels (U²-NetP: 3–128 in, 1–64 out), laid
 * out for lavapipe, where every storage load is a per-lane gather and costs many FMAs: a thread owns TC
 * output channels × TP consecutive output pixels of one row, and for each (kh, input channel) loads the
 * TP + (KW − 1)·D input values its KW taps need once, into registers, and reuses them across kw
 * (the 8-pixel tile of conv.ts loads TP·KW values there). KW and the dilation D along W are in the
 * variant (compile-time register indices); everything else is in uniforms.
 * Epilogue fused into the store: bias, activation (ReLU, sigmoid) and a residual tensor added before
 * or after the activation. `two`: the input is the channel concat of two tensors, read in place
 * (channels [0, C1) from xa, [C1, C) from xb), so the concat is never built.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { buildShader, variantKey, type Shader, type ShaderSpec } from './builder';

const names = ['N', 'C', 'C1', 'H', 'W', 'O', 'OH', 'OW', 'kH', 'sH', 'dH', 'pT', 'pL', 'G', 'Cg', 'Og'] as const;
/** Uniforms of the row kernel: the conv geometry (no kW, sW, dW: the variant has them) plus C1, the channels of the first input. */
export const convRowsLayout = new UniformLayout(names.map((name) => ({ name, type: 'i32' as const })));
export type ConvRowsGeometry = Record<(typeof names)[number], number>;

export const ROWS_WG_X = 16,
  ROWS_WG_Y = 4;

/** A fused epilogue: bias, then a residual before or after the activation. */
export interface ConvEpilogue {
  bias: boolean;
  act: 'none' | 'relu' | 'sigmoid';
  /** A tensor of y's shape added before or after the activation. */
  res: 'none' | 'before' | 'after';
}

export interface ConvRowsVariant extends ConvEpilogue {
  /** Output channels per thread (one vec4 accumulator per 4 channels and pixel). */
  tc: 4 | 8 | 16;
  /** Consecutive output pixels per thread. */
  tp: number;
  /** Kernel width and dilation along W. */
  kw: number;
  d: number;
  /** Input is the channel concat of two tensors. */
  two: boolean;
  elem: 'f32' | 'f16';
  /**
   * Left padding when the input is read as vec4 (one load per 4 columns: W % 4 = 0, TP % 4 = 0,
   * pL ≤ 4, (KW − 1)·D − pL ≤ 4); absent: scalar loads, any geometry.
   */
  vec?: number;
  /** Weights packed as vec4 over 4 output channels, [O/4, Cg, kH, KW, 4] (needs Og % 4 = 0): one load for 4 channels. */
  w4?: boolean;
}

export const convRowsKey = (v: ConvRowsVariant) => variantKey('conv-rows', v);

export function convRowsWorkgroups(v: ConvRowsVariant, g: ConvRowsGeometry): [number, number, number] {
  return [Math.ceil((g.OH * Math.ceil(g.OW / v.tp)) / ROWS_WG_X), Math.ceil(Math.ceil(g.Og / v.tc) / ROWS_WG_Y), g.N * g.G];
}

export const convRowsValues = (g: ConvRowsGeometry): UniformValues => ({ ...g });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export const convRowsSource = (v: ConvRowsVariant): Shader => buildShader(convRowsShader(v));

/** The WGSL expression of an epilogue on accumulator `a` for channel `c` at flat output index `idx`. */
export function epilogueExpr(e: ConvEpilogue, a: string, c: string, idx: string, ld: (s: string) => string): string {
  let v = e.bias ? `${a} + ${ld(`b[${c}]`)}` : a;
  if (e.res === 'before') v = `${v} + ${ld(`r[${idx}]`)}`;
  v = e.act === 'relu' ? `max(${v}, 0.0)` : e.act === 'sigmoid' ? `sigmoid_f32(${v})` : v;
  return e.res === 'after' ? `${v} + ${ld(`r[${idx}]`)}` : v;
}

function convRowsShader(v: ConvRowsVariant): ShaderSpec {
  const half = v.elem === 'f16';
  const E = half ? 'f16' : 'f32';
  const ld = (e: string) => (half ? `f32(${e})` : e);
  const P = range(v.tp),
    S = range(v.tp + (v.kw - 1) * v.d),
    Q4 = range(v.tc / 4),
    TC = range(v.tc),
    KW = range(v.kw);
  const inputs = v.two ? ['xa', 'xb'] : ['xa'];
  const vec = v.vec !== undefined && !half;
  const w4 = v.w4 === true && !half;
  // vec4 columns: vector m holds iw = owb − 4 + 4m … + 3; segment value s (iw = owb − pL + s) is lane (s + 4 − pL)
  const M = range(v.tp / 4 + 2);
  const xval = (s: number) => {
    const t = s + 4 - (v.vec ?? 0);
    return `xv${Math.floor(t / 4)}[${t % 4}]`;
  };
  // the reduction over the channels of one input: ci in [lo, hi) of the group, rows from `base`
  const loop = (buf: string, lo: string, hi: string, base: string) => `
    {
      var xr = ${base} + ih * p.W;
      var wo = kh * ${v.kw} + ${lo} * KK;
      for (var ci = ${lo}; ci < ${hi}; ci++) {
${
  vec
    ? `${M.map((m) => `        let xv${m} = select(vec4<f32>(0.0), ${buf}[xr / 4 + ov${m}], okv${m});`).join('\n')}
${S.map((s) => `        let x${s} = ${xval(s)};`).join('\n')}`
    : S.map((s) => `        let x${s} = select(0.0, ${ld(`${buf}[xr + xo${s}]`)}, ok${s});`).join('\n')
}
${KW.map(
  (kw) => `${Q4.map((k) =>
    w4
      ? `        let w${kw}_${k} = w[wq${k} + wo + ${kw}];`
      : `        let w${kw}_${k} = vec4<f32>(${range(4)
          .map((c) => ld(`w[wb${4 * k + c} + wo + ${kw}]`))
          .join(', ')});`,
  ).join('\n')}
${P.map((j) => Q4.map((k) => `        a${j}_${k} = fma(vec4<f32>(x${j + kw * v.d}), w${kw}_${k}, a${j}_${k});`).join('\n')).join('\n')}`,
).join('\n')}
        xr += HW;
        wo += KK;
      }
    }`;
  return {
    uniforms: convRowsLayout,
    workgroupSize: [ROWS_WG_X, ROWS_WG_Y],
    storage: [
      ...inputs.map((name) => ({ name, type: vec ? 'vec4<f32>' : E })),
      { name: 'w', type: w4 ? 'vec4<f32>' : E },
      ...(v.bias ? [{ name: 'b', type: E }] : []),
      ...(v.res !== 'none' ? [{ name: 'r', type: E }] : []),
      { name: 'y', type: E, access: 'read_write' as const },
    ],
    body: `
  let nT = (p.OW + ${v.tp - 1}) / ${v.tp};
  let xi = i32(gid.x);
  let c0 = i32(gid.y) * ${v.tc};
  if (xi >= p.OH * nT || c0 >= p.Og) { return; }
  let oh = xi / nT; let owb = (xi % nT) * ${v.tp};
  let n = i32(gid.z) / p.G; let g = i32(gid.z) % p.G;
  let o0 = g * p.Og + c0;
  let nc = min(${v.tc}, p.Og - c0);
  let KK = p.kH * ${v.kw};
  let K = p.Cg * KK;
  let HW = p.H * p.W;
${w4 ? Q4.map((k) => `  let wq${k} = ((o0 + ${4 * k}) / 4) * K;`).join('\n') : TC.map((c) => `  let wb${c} = (o0 + min(${c}, nc - 1)) * K;`).join('\n')}
${P.map((j) => Q4.map((k) => `  var a${j}_${k} = vec4<f32>(0.0);`).join('\n')).join('\n')}
  // the input columns this thread's taps read: iw = owb − pL + s, s < TP + (KW − 1)·D
  let iw0 = owb - p.pL;
${
  vec
    ? M.map((m) => `  let okv${m} = owb + ${4 * m - 4} >= 0 && owb + ${4 * m - 4} < p.W; let ov${m} = select(0, owb / 4 + ${m - 1}, okv${m});`).join('\n')
    : S.map((s) => `  let ok${s} = iw0 + ${s} >= 0 && iw0 + ${s} < p.W; let xo${s} = select(0, iw0 + ${s}, ok${s});`).join('\n')
}
  // channels of this group: [g·Cg, g·Cg + Cg); those below C1 live in xa, the rest in xb
  let ch0 = g * p.Cg;
  let n1 = clamp(p.C1 - ch0, 0, p.Cg);
  let baseA = (n * p.C1 + min(ch0, p.C1)) * HW;
${v.two ? '  let baseB = (n * (p.C - p.C1) + max(ch0 - p.C1, 0)) * HW;' : ''}
  for (var kh = 0; kh < p.kH; kh++) {
    let ih = oh * p.sH - p.pT + kh * p.dH;
    if (ih < 0 || ih >= p.H) { continue; }${loop('xa', '0', 'n1', 'baseA')}${v.two ? loop('xb', 'n1', 'p.Cg', 'baseB') : ''}
  }
  let cs = p.OH * p.OW;
  let yb = (n * p.O + o0) * cs + oh * p.OW + owb;
${P.map(
  (j) => `  if (owb + ${j} < p.OW) {
${TC.map((c) => {
  const idx = `yb + ${c} * cs + ${j}`;
  const e = epilogueExpr(v, `a${j}_${Math.floor(c / 4)}[${c % 4}]`, `o0 + ${c}`, idx, ld);
  return `    if (${c} < nc) { y[${idx}] = ${half ? `f16(${e})` : e}; }`;
}).join('\n')}
  }`,
).join('\n')}
`,
  };
}
