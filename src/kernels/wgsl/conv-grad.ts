/**
 * Convolution gradient kernels with register tiles of TC channels × TP pixels/taps per lane (NCHW, no im2col):
 *   - grad-input 'dx': a workgroup owns one input row ih, one column stride phase px and TC input channels;
 *     its lanes own TP consecutive same-phase pixels each, so every tap (kh, kw) is valid or invalid for the
 *     whole workgroup and the taps a stride rules out are skipped without divergence (the transposed
 *     convolution 4×4/2 does a quarter of the taps). Used for strided convolutions.
 *   - grad-weight 'dw': lanes own TP kernel taps r = (c, kh, kw) each, a workgroup TC output channels; per
 *     output pixel a lane loads TC dY values and TP x values for TC·TP FMAs (8 × 8: 16 loads per 64 FMAs, against
 *     12 per 32 of the conv.ts tiling; on lavapipe every load is a per-lane gather, so loads per FMA set the
 *     speed; 16-channel tiles spill and lose). With `split` > 1 the output rows are cut into chunks, each
 *     workgroup layer z writes its partial sums to its own [O, K] slab, and a second pass sums the slabs (split-K).
 * The older tiling stays in conv.ts; the choice is made in src/tensor/ops/conv.ts from the shapes alone.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { variantKey, buildShader, type Shader, type ShaderSpec } from './builder';
import { convLayout, type ConvGeometry } from './conv';

/** Lanes per workgroup (one 8-wide SIMD vector of lavapipe's AVX2 code): narrow rows waste few lanes. */
export const GRAD_LANES = 8;

export interface ConvGradVariant {
  kind: 'dx' | 'dw';
  /** Channels per workgroup: input channels (dx) or output channels (dw); a multiple of 4. */
  tc: 4 | 8 | 16;
  /** Pixels (dx) or kernel taps (dw) per lane. */
  tp: number;
  /** dw: number of output-row chunks reduced separately (1 = one pass, no partial sums). */
  split: number;
}

export const convGradKey = (v: ConvGradVariant) => variantKey('convGrad', { kind: v.kind, tc: v.tc, tp: v.tp, split: v.split > 1 });

/** Workgroups for a variant on geometry `g`. */
export function convGradWorkgroups(v: ConvGradVariant, g: ConvGeometry): [number, number, number] {
  if (v.kind === 'dx') {
    const nT = Math.ceil(Math.ceil(g.W / g.sW) / v.tp);
    return [g.sW * Math.ceil(nT / GRAD_LANES), g.H * Math.ceil(g.Cg / v.tc), g.N * g.G];
  }
  return [Math.ceil(Math.ceil((g.Cg * g.kH * g.kW) / v.tp) / GRAD_LANES), Math.ceil(g.Og / v.tc), g.G * v.split];
}

/** The WGSL of a variant (with its bindings). */
export const convGradSource = (v: ConvGradVariant): Shader => buildShader(v.kind === 'dx' ? dxShader(v) : dwShader(v));

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function dxShader(v: ConvGradVariant): ShaderSpec {
  const Q4 = v.tc / 4;
  return {
    uniforms: convLayout,
    workgroupSize: GRAD_LANES,
    storage: [
      { name: 'dy', type: 'f32' },
      { name: 'w', type: 'f32' },
      { name: 'dx', type: 'f32', access: 'read_write' },
    ],
    body: `
  // iw = px + (t·TP + j)·sW: all of a lane's pixels, and every lane of the workgroup, share the stride phase
  let nT = ((p.W + p.sW - 1) / p.sW + ${v.tp - 1}) / ${v.tp};
  let nTB = (nT + ${GRAD_LANES - 1}) / ${GRAD_LANES};
  let CB = (p.Cg + ${v.tc - 1}) / ${v.tc};
  let px = i32(wid.x) / nTB;
  let t = (i32(wid.x) % nTB) * ${GRAD_LANES} + i32(lid.x);
  let ih = i32(wid.y) / CB;
  let c0 = (i32(wid.y) % CB) * ${v.tc};
  let n = i32(wid.z) / p.G; let g = i32(wid.z) % p.G;
  let iwb = px + t * ${v.tp} * p.sW;
  let nc = min(${v.tc}, p.Cg - c0);
  let KK = p.kH * p.kW;
  let Q = p.OH * p.OW;
  let ostep = p.Cg * KK;
${range(v.tc)
  .map((c) => `  let wc${c} = (g * p.Og * p.Cg + c0 + min(${c}, nc - 1)) * KK;`)
  .join('\n')}
${range(v.tp)
  .map((j) =>
    range(Q4)
      .map((q) => `  var a${j}_${q} = vec4<f32>(0.0);`)
      .join(' '),
  )
  .join('\n')}
  let dyg = (n * p.O + g * p.Og) * Q;
  for (var kh = 0; kh < p.kH; kh++) {
    let eh = ih + p.pT - kh * p.dH;
    if (eh < 0 || eh % p.sH != 0) { continue; }
    let oh = eh / p.sH;
    if (oh >= p.OH) { continue; }
    for (var kw = 0; kw < p.kW; kw++) {
      let ew = px + p.pL - kw * p.dW;
      if (((ew % p.sW) + p.sW) % p.sW != 0) { continue; }
      let ow0 = ew / p.sW + t * ${v.tp};
${range(v.tp)
  .map((j) => `      let ok${j} = ow0 + ${j} >= 0 && ow0 + ${j} < p.OW && iwb + ${j} * p.sW < p.W; let yc${j} = select(0, ow0 + ${j}, ok${j});`)
  .join('\n')}
      var yo = dyg + oh * p.OW;
      var wo = kh * p.kW + kw;
      for (var oc = 0; oc < p.Og; oc++) {
${range(Q4)
  .map(
    (q) =>
      `        let w${q} = vec4<f32>(${range(4)
        .map((c) => `w[wo + wc${4 * q + c}]`)
        .join(', ')});`,
  )
  .join('\n')}
${range(v.tp)
  .map(
    (j) =>
      `        { let d = select(0.0, dy[yo + yc${j}], ok${j}); ${range(Q4)
        .map((q) => `a${j}_${q} += d * w${q};`)
        .join(' ')} }`,
  )
  .join('\n')}
        yo += Q;
        wo += ostep;
      }
    }
  }
  let xb = (n * p.C + g * p.Cg + c0) * p.H * p.W + ih * p.W + iwb;
  let cs = p.H * p.W;
${range(v.tp)
  .map(
    (j) => `  if (iwb + ${j} * p.sW < p.W) {
${range(v.tc)
  .map((c) => `    if (${c} < nc) { dx[xb + ${c} * cs + ${j} * p.sW] = a${j}_${c >> 2}[${c & 3}]; }`)
  .join('\n')}
  }`,
  )
  .join('\n')}`,
  };
}

function dwShader(v: ConvGradVariant): ShaderSpec {
  const Q4 = v.tc / 4;
  const split = v.split > 1;
  const T = v.tp;
  return {
    uniforms: convLayout,
    workgroupSize: GRAD_LANES,
    storage: [
      { name: 'x', type: 'f32' },
      { name: 'dy', type: 'f32' },
      { name: 'dwt', type: 'f32', access: 'read_write' },
    ],
    body: `
  let KK = p.kH * p.kW;
  let K = p.Cg * KK;
  let rs = i32(gid.x) * ${T};
  let g = ${split ? 'i32(wid.z) % p.G' : 'i32(wid.z)'};
  let o0 = g * p.Og + i32(wid.y) * ${v.tc};
  let nc = min(${v.tc}, (g + 1) * p.Og - o0);
  let HW = p.H * p.W;
  let Q = p.OH * p.OW;
${range(T)
  .map(
    (j) =>
      `  let r${j} = min(rs + ${j}, K - 1); let xo${j} = (g * p.Cg + r${j} / KK) * HW; let bh${j} = ((r${j} % KK) / p.kW) * p.dH - p.pT; let bw${j} = (r${j} % p.kW) * p.dW - p.pL;`,
  )
  .join('\n')}
  // rows [oh0, oh1) of this layer's chunk (all rows without split)
${
  split
    ? `  let S = i32(nwg.z) / p.G; let s = i32(wid.z) / p.G;
  let ohc = (p.OH + S - 1) / S;
  let oh0 = s * ohc; let oh1 = min(p.OH, oh0 + ohc);`
    : '  let oh0 = 0; let oh1 = p.OH;'
}
${range(T)
  .map((j) =>
    range(Q4)
      .map((q) => `  var a${j}_${q} = vec4<f32>(0.0);`)
      .join(' '),
  )
  .join('\n')}
${range(v.tc)
  .map((c) => `  let yc${c} = (o0 + min(${c}, nc - 1)) * Q;`)
  .join('\n')}
  for (var n = 0; n < p.N; n++) {
    let xn = n * p.C * HW;
    let yn = n * p.O * Q;
    for (var oh = oh0; oh < oh1; oh++) {
${range(T)
  .map((j) => `      let h${j} = oh * p.sH + bh${j}; let hok${j} = h${j} >= 0 && h${j} < p.H; let row${j} = xn + xo${j} + h${j} * p.W;`)
  .join('\n')}
      var yi = yn + oh * p.OW;
      var ws = 0;
      for (var ow = 0; ow < p.OW; ow++) {
${range(Q4)
  .map(
    (q) =>
      `        let d${q} = vec4<f32>(${range(4)
        .map((c) => `dy[yi + yc${4 * q + c}]`)
        .join(', ')});`,
  )
  .join('\n')}
${range(T)
  .map(
    (j) =>
      `        { let ww = ws + bw${j}; let ok = hok${j} && ww >= 0 && ww < p.W; let xv = select(0.0, x[select(0, row${j} + ww, ok)], ok); ${range(Q4)
        .map((q) => `a${j}_${q} += xv * d${q};`)
        .join(' ')} }`,
  )
  .join('\n')}
        yi++;
        ws += p.sW;
      }
    }
  }
  let ob = ${split ? '(i32(wid.z) / p.G) * p.O * K + ' : ''}o0 * K + rs;
${range(T)
  .map(
    (j) => `  if (rs + ${j} < K) {
${range(v.tc)
  .map((c) => `    if (${c} < nc) { dwt[ob + ${c} * K + ${j}] = a${j}_${c >> 2}[${c & 3}]; }`)
  .join('\n')}
  }`,
  )
  .join('\n')}`,
  };
}

/** out[i] = Σ_s part[s·M + i] over the `split` partial grad-weight slabs (M = O·K values each). */
export const splitSumSource = (): Shader =>
  buildShader({
    uniforms: splitSumLayout,
    workgroupSize: 64,
    grid: 'M',
    storage: [
      { name: 'part', type: 'f32' },
      { name: 'out', type: 'f32', access: 'read_write' },
    ],
    body: `
  var s = 0.0;
  for (var k = 0u; k < p.S; k++) { s += part[k * p.M + i]; }
  out[i] = s;`,
  });

export const splitSumLayout = new UniformLayout([
  { name: 'M', type: 'u32' },
  { name: 'S', type: 'u32' },
]);
