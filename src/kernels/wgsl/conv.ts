/**
 * Implicit-GEMM 2-D convolution kernels (NCHW, no materialised im2col). Each thread keeps a register
 * tile of TC channels × TP pixels (vec4 accumulators over channels) and walks the reduction directly
 * in the input tensors:
 *   - forward:     y[n, o, p]   tile = TC output channels × TP output pixels, reduction over (c, kh, kw)
 *                  (TC = 1 is the depthwise path: one channel per group, more pixels per thread)
 *   - grad-input:  dx[n, c, p]  tile = TC input channels × TP input pixels, gathered over (o, kh, kw)
 *                  where the stride divides; also the transposed convolution
 *   - grad-weight: dw[o, r]     tile = TC output channels × TP kernel taps r = (c, kh, kw), reduced over (n, oh, ow)
 * Specialised only on tile sizes, bias and the fused activation; sizes and strides go in uniforms.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { buildShader, variantKey, type Shader, type ShaderSpec } from './builder';

const names = ['N', 'C', 'H', 'W', 'O', 'OH', 'OW', 'kH', 'kW', 'sH', 'sW', 'dH', 'dW', 'pT', 'pL', 'G', 'Cg', 'Og'] as const;
export const convLayout = new UniformLayout(names.map((name) => ({ name, type: 'i32' as const })));
export type ConvGeometry = Record<(typeof names)[number], number>;

export const WG_X = 16,
  WG_Y = 4;
export type ConvKind = 'fwd' | 'dx' | 'dw';
/**
 * `elem: 'f16'` (forward only) stores x, w, bias and y as f16 and converts every load to f32: the
 * accumulation stays f32, only the final store rounds to f16 (mixed precision, as tensor cores do).
 */
export interface ConvVariant {
  kind: ConvKind;
  tc: 1 | 4;
  tp: number;
  bias: boolean;
  act: 'none' | 'relu';
  elem?: 'f32' | 'f16';
}

export const convKey = (v: ConvVariant) => variantKey('conv', { ...v, elem: v.elem ?? 'f32' });

/** Workgroups for a variant on geometry `g`. */
export function convWorkgroups(v: ConvVariant, g: ConvGeometry): [number, number, number] {
  const tilesX =
    v.kind === 'fwd'
      ? g.OH * Math.ceil(g.OW / v.tp)
      : v.kind === 'dx'
        ? g.H * g.sW * Math.ceil(Math.ceil(g.W / g.sW) / v.tp)
        : Math.ceil((g.Cg * g.kH * g.kW) / v.tp);
  const tilesY = v.kind === 'dx' ? Math.ceil(g.Cg / v.tc) : Math.ceil(g.Og / v.tc);
  const z = v.kind === 'dw' ? g.G : g.N * g.G;
  return [Math.ceil(tilesX / WG_X), Math.ceil(tilesY / WG_Y), z];
}

export const convValues = (g: ConvGeometry): UniformValues => ({ ...g });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const vecT = (tc: number) => (tc === 1 ? 'f32' : 'vec4<f32>');
const lane = (tc: number, c: number) => (tc === 1 ? '' : `[${c}]`);

/** The WGSL of a variant (with its bindings). */
export const convSource = (v: ConvVariant): Shader => buildShader(convShader(v));

function convShader(v: ConvVariant): ShaderSpec {
  const half = v.elem === 'f16';
  if (half && v.kind !== 'fwd') throw new Error(`convSource: f16 storage is only implemented for the forward kernel, not '${v.kind}'`);
  // element type in memory, and a load converted to f32 (the f32 text is unchanged)
  const E = half ? 'f16' : 'f32';
  const ld = (e: string) => (half ? `f32(${e})` : e);
  const head = { uniforms: convLayout, workgroupSize: [WG_X, WG_Y] as const };
  const rw = 'read_write' as const;
  if (v.kind === 'fwd')
    return {
      ...head,
      storage: [{ name: 'x', type: E }, { name: 'w', type: E }, ...(v.bias ? [{ name: 'b', type: E }] : []), { name: 'y', type: E, access: rw }],
      decls: `fn epi(v: f32) -> ${E} { return ${half ? 'f16(' : ''}${v.act === 'relu' ? 'select(v, 0.0, v < 0.0)' : 'v'}${half ? ')' : ''}; }`,
      body: `
  // a thread owns TP consecutive output pixels of one row: row validity is decided once per kh, column
  // validity once per (kh, kw), so the innermost loop over input channels is loads and FMAs only
  let nT = (p.OW + ${v.tp - 1}) / ${v.tp};
  let xi = i32(gid.x);
  let c0 = i32(gid.y) * ${v.tc};
  if (xi >= p.OH * nT || c0 >= p.Og) { return; }
  let oh = xi / nT; let owb = (xi % nT) * ${v.tp};
  let n = i32(gid.z) / p.G; let g = i32(gid.z) % p.G;
  let o0 = g * p.Og + c0;
  let nc = min(${v.tc}, p.Og - c0);
  let KK = p.kH * p.kW;
  let K = p.Cg * KK;
  let HW = p.H * p.W;
${range(v.tc)
  .map((c) => `  let wb${c} = (o0 + min(${c}, nc - 1)) * K;`)
  .join('\n')}
${range(v.tp)
  .map((j) => `  var a${j} = ${vecT(v.tc)}(0.0);`)
  .join('\n')}
  let xg = (n * p.C + g * p.Cg) * HW;
  let iwb = owb * p.sW - p.pL;
  for (var kh = 0; kh < p.kH; kh++) {
    let ih = oh * p.sH - p.pT + kh * p.dH;
    if (ih < 0 || ih >= p.H) { continue; }
    for (var kw = 0; kw < p.kW; kw++) {
      let iw = iwb + kw * p.dW;
${range(v.tp)
  .map((j) => `      let ok${j} = iw + ${j * 1} * p.sW >= 0 && iw + ${j} * p.sW < p.W && owb + ${j} < p.OW; let xo${j} = select(0, iw + ${j} * p.sW, ok${j});`)
  .join('\n')}
      var xr = xg + ih * p.W;
      var wo = kh * p.kW + kw;
      for (var ci = 0; ci < p.Cg; ci++) {
        let wv = ${
          v.tc === 1
            ? ld('w[wb0 + wo]')
            : `vec4<f32>(${range(4)
                .map((c) => ld(`w[wb${c} + wo]`))
                .join(', ')})`
        };
${range(v.tp)
  .map((j) => `        a${j} += select(0.0, ${ld(`x[xr + xo${j}]`)}, ok${j}) * wv;`)
  .join('\n')}
        xr += HW;
        wo += KK;
      }
    }
  }
  let yb = (n * p.O + o0) * p.OH * p.OW + oh * p.OW + owb;
  let cs = p.OH * p.OW;
${range(v.tp)
  .map(
    (j) => `  if (owb + ${j} < p.OW) {
${range(v.tc)
  .map((c) => `    if (${c} < nc) { y[yb + ${c} * cs + ${j}] = epi(a${j}${lane(v.tc, c)}${v.bias ? ` + ${ld(`b[o0 + ${c}]`)}` : ''}); }`)
  .join('\n')}
  }`,
  )
  .join('\n')}
`,
    };
  if (v.kind === 'dx')
    return {
      ...head,
      storage: [
        { name: 'dy', type: 'f32' },
        { name: 'w', type: 'f32' },
        { name: 'dx', type: 'f32', access: rw },
      ],
      body: `
  // a thread owns TP input pixels of one row sharing a stride phase: iw = px + (t·TP + j)·sW, so every tap
  // (kh, kw) is valid or invalid for all of them at once and they read consecutive dY columns
  let nT = ((p.W + p.sW - 1) / p.sW + ${v.tp - 1}) / ${v.tp};
  let xi = i32(gid.x);
  let c0 = i32(gid.y) * ${v.tc};
  if (xi >= p.H * p.sW * nT || c0 >= p.Cg) { return; }
  let t = xi % nT; let ih = (xi / nT) / p.sW; let px = (xi / nT) % p.sW;
  let iwb = px + t * ${v.tp} * p.sW;
  if (iwb >= p.W) { return; }
  let n = i32(gid.z) / p.G; let g = i32(gid.z) % p.G;
  let nc = min(${v.tc}, p.Cg - c0);
  let KK = p.kH * p.kW;
  let Q = p.OH * p.OW;
  let ostep = p.Cg * KK;
${range(v.tc)
  .map((c) => `  let wc${c} = (g * p.Og * p.Cg + c0 + min(${c}, nc - 1)) * KK;`)
  .join('\n')}
${range(v.tp)
  .map((j) => `  var a${j} = ${vecT(v.tc)}(0.0);`)
  .join('\n')}
  let dyg = (n * p.O + g * p.Og) * Q;
  for (var kh = 0; kh < p.kH; kh++) {
    let eh = ih + p.pT - kh * p.dH;
    if (eh < 0 || eh % p.sH != 0) { continue; }
    let oh = eh / p.sH;
    if (oh >= p.OH) { continue; }
    for (var kw = 0; kw < p.kW; kw++) {
      let ew = iwb + p.pL - kw * p.dW;
      if (((ew % p.sW) + p.sW) % p.sW != 0) { continue; }
      let ow0 = ew / p.sW;
${range(v.tp)
  .map((j) => `      let ok${j} = ow0 + ${j} >= 0 && ow0 + ${j} < p.OW && iwb + ${j} * p.sW < p.W; let yc${j} = select(0, ow0 + ${j}, ok${j});`)
  .join('\n')}
      var yo = dyg + oh * p.OW;
      var wo = kh * p.kW + kw;
      for (var oc = 0; oc < p.Og; oc++) {
        let wv = ${
          v.tc === 1
            ? 'w[wo + wc0]'
            : `vec4<f32>(${range(4)
                .map((c) => `w[wo + wc${c}]`)
                .join(', ')})`
        };
${range(v.tp)
  .map((j) => `        a${j} += select(0.0, dy[yo + yc${j}], ok${j}) * wv;`)
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
  .map((c) => `    if (${c} < nc) { dx[xb + ${c} * cs + ${j} * p.sW] = a${j}${lane(v.tc, c)}; }`)
  .join('\n')}
  }`,
  )
  .join('\n')}`,
    };
  return {
    ...head,
    storage: [
      { name: 'x', type: 'f32' },
      { name: 'dy', type: 'f32' },
      { name: 'dwt', type: 'f32', access: rw },
    ],
    body: `
  let KK = p.kH * p.kW;
  let K = p.Cg * KK;
  let rs = i32(gid.x) * ${v.tp};
  let c0 = i32(gid.y) * ${v.tc};
  if (rs >= K || c0 >= p.Og) { return; }
  let g = i32(gid.z);
  let o0 = g * p.Og + c0;
  let nc = min(${v.tc}, p.Og - c0);
  let HW = p.H * p.W;
  let Q = p.OH * p.OW;
${range(v.tp)
  .map(
    (
      j,
    ) => `  let r${j} = min(rs + ${j}, K - 1); let xo${j} = (g * p.Cg + r${j} / KK) * HW; let bh${j} = ((r${j} % KK) / p.kW) * p.dH - p.pT; let bw${j} = (r${j} % p.kW) * p.dW - p.pL;
  var a${j} = ${vecT(v.tc)}(0.0);`,
  )
  .join('\n')}
  for (var n = 0; n < p.N; n++) {
    let xn = n * p.C * HW;
${range(v.tc)
  .map((c) => `    let yb${c} = (n * p.O + o0 + min(${c}, nc - 1)) * Q;`)
  .join('\n')}
    for (var oh = 0; oh < p.OH; oh++) {
      let hs = oh * p.sH;
${range(v.tp)
  .map((j) => `      let h${j} = hs + bh${j}; let hok${j} = h${j} >= 0 && h${j} < p.H; let row${j} = xn + xo${j} + h${j} * p.W;`)
  .join('\n')}
      let yr = oh * p.OW;
      for (var ow = 0; ow < p.OW; ow++) {
        let yi = yr + ow;
        let dv = ${
          v.tc === 1
            ? 'dy[yb0 + yi]'
            : `vec4<f32>(${range(4)
                .map((c) => `dy[yb${c} + yi]`)
                .join(', ')})`
        };
        let ws = ow * p.sW;
${range(v.tp)
  .map((j) => `        { let ww = ws + bw${j}; let ok = hok${j} && ww >= 0 && ww < p.W; a${j} += select(0.0, x[select(0, row${j} + ww, ok)], ok) * dv; }`)
  .join('\n')}
      }
    }
  }
${range(v.tp)
  .map(
    (j) => `  if (rs + ${j} < K) {
${range(v.tc)
  .map((c) => `    if (${c} < nc) { dwt[(o0 + ${c}) * K + rs + ${j}] = a${j}${lane(v.tc, c)}; }`)
  .join('\n')}
  }`,
  )
  .join('\n')}`,
  };
}
