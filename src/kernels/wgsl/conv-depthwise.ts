/**
 * Depthwise 2-D convolution kernels (groups = C, one input channel per group, channel multiplier Og ≥ 1), NCHW.
 * The generic implicit-GEMM kernels (conv.ts) tile over channels within a group, which a depthwise conv does not
 * have; these tile over pixels only and read each input row once per thread:
 *   - window (forward, and grad-input as a correlation of dY with the flipped kernel): a thread owns a TR × TP
 *     block of output pixels of one channel; for every input row the block touches it loads the row's window
 *     of (TP − 1)·stride + (kW − 1)·dilation + 1 values into registers once and feeds every (row, tap) that
 *     uses it, so loads per output fall from kH·kW to about (TR + kH − 1)(TP + kW − 1) / (TR·TP).
 *     Grad-input reads dY as if zero-upsampled by the stride (a source row or column off the stride grid is
 *     zero) and sums over the Og output channels of its input channel.
 *   - grad-weight, split over the reduction (K = kH·kW taps is tiny, the reduction N·OH·OW is large): pass 1
 *     gives each of P threads per output channel every P-th TR × TP block of dY, with the same row windows of x,
 *     and writes its kH·kW partial sums; pass 2 adds the P partials of each tap in a fixed order (deterministic).
 * Threads are laid out over (channel, block) in one folded grid, so none idles but the last workgroup's tail.
 * Kernel size, stride and dilation are compile-time (the windows are unrolled); sizes and padding are uniforms.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { buildShader, variantKey, type Shader, type ShaderSpec } from './builder';

/** Threads per workgroup (one dimension; the grid folds into y past 65535 workgroups). */
export const DW_WG = 64;

const i32 = (name: string) => ({ name, type: 'i32' as const });

/** Window kernel: d = destination (y, or dx), s = source (x, or dY). */
export const dwWindowLayout = new UniformLayout([{ name: 'n', type: 'u32' }, ...['nT', 'nR', 'Cd', 'DH', 'DW', 'Cs', 'SH', 'SW', 'pT', 'pL', 'Og'].map(i32)]);
/** Grad-weight pass 1. */
export const dwPartialLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  ...['P', 'nT', 'nR', 'N', 'C', 'H', 'W', 'O', 'OH', 'OW', 'pT', 'pL', 'Og'].map(i32),
]);
/** Grad-weight pass 2. */
export const dwSumLayout = new UniformLayout([{ name: 'n', type: 'u32' }, i32('P')]);

/** Compile-time geometry of a depthwise kernel. */
export interface DepthwiseTaps {
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  dH: number;
  dW: number;
}

/**
 * `pass: 'fwd'` y = act(conv(x, w) + b); `'dx'` the adjoint in x. TR × TP output pixels per thread.
 * `elem: 'f16'` (forward only) stores x, w, b and y as f16 and accumulates in f32.
 */
export interface DepthwiseWindowVariant extends DepthwiseTaps {
  pass: 'fwd' | 'dx';
  tr: number;
  tp: number;
  bias: boolean;
  act: 'none' | 'relu';
  elem?: 'f32' | 'f16';
}

/** Grad-weight pass 1 (`pass: 'dw'`, TR × TP dY pixels per step) or pass 2 (`pass: 'dwSum'`, kH·kW taps). */
export type DepthwiseWeightVariant = (DepthwiseTaps & { pass: 'dw'; tr: number; tp: number }) | { pass: 'dwSum'; kk: number };

export type DepthwiseVariant = DepthwiseWindowVariant | DepthwiseWeightVariant;

export const depthwiseKey = (v: DepthwiseVariant) => variantKey('convDepthwise', 'elem' in v ? v : { ...v, elem: undefined });
export const depthwiseSource = (v: DepthwiseVariant): Shader => buildShader(depthwiseShader(v));

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

/**
 * The register windows of a TR × TP block: source rows rr = tr·sH + kh·dH and columns cc = j·sW + kw·dW
 * relative to the block's first tap, and for each row the (tr, kh) pairs it feeds.
 */
function windows(t: DepthwiseTaps, tr: number, tp: number, ws: [number, number]) {
  const rows = uniq(range(tr).flatMap((r) => range(t.kH).map((kh) => r * ws[0] + kh * t.dH)));
  const cols = uniq(range(tp).flatMap((j) => range(t.kW).map((kw) => j * ws[1] + kw * t.dW)));
  const uses = (rr: number) => range(tr).flatMap((r) => range(t.kH).flatMap((kh) => (r * ws[0] + kh * t.dH === rr ? [[r, kh] as const] : [])));
  return { rows, cols, uses };
}

/**
 * Validity and clamped index of a source coordinate `e` on an axis of `size` sampled every `u`-th position
 * (u > 1: grad-input reads dY zero-upsampled by the stride).
 */
const onGrid = (e: string, u: number, size: string) => (u === 1 ? `${e} >= 0 && ${e} < ${size}` : `${e} >= 0 && ${e} % ${u} == 0 && ${e} / ${u} < ${size}`);
const gridIndex = (e: string, u: number) => (u === 1 ? e : `${e} / ${u}`);

function windowShader(v: DepthwiseWindowVariant): ShaderSpec {
  const half = v.elem === 'f16';
  if (half && v.pass !== 'fwd') throw new Error(`depthwiseSource: f16 storage is only implemented for the forward kernel, not '${v.pass}'`);
  const E = half ? 'f16' : 'f32';
  const ld = (e: string) => (half ? `f32(${e})` : e);
  const fwd = v.pass === 'fwd';
  // window step per destination pixel (the conv's stride forward, 1 backward) and the source's upsampling
  const ws: [number, number] = fwd ? [v.sH, v.sW] : [1, 1];
  const [uH, uW] = fwd ? [1, 1] : [v.sH, v.sW];
  const KK = v.kH * v.kW;
  const { rows, cols, uses } = windows(v, v.tr, v.tp, ws);
  const acc = (r: number, j: number) => `a${r}_${j}`;
  // grad-input correlates with the flipped kernel
  const wIdx = (kh: number, kw: number) => (fwd ? kh * v.kW + kw : KK - 1 - (kh * v.kW + kw));
  const rowCode = (rr: number) => {
    const feeds = uses(rr);
    const used = uniq(feeds.flatMap(() => range(v.tp).flatMap((j) => range(v.kW).map((kw) => j * ws[1] + kw * v.dW))));
    return `    {
      let eh = ehb + ${rr};
      let rok = ${onGrid('eh', uH, 'p.SH')};
      let rb = sb + select(0, ${gridIndex('eh', uH)}, rok) * p.SW;
${used.map((cc) => `      let v${cc} = select(0.0, ${ld(`s[rb + xc${cc}]`)}, rok && cok${cc});`).join('\n')}
${feeds.flatMap(([r, kh]) => range(v.kW).flatMap((kw) => range(v.tp).map((j) => `      ${acc(r, j)} += v${j * ws[1] + kw * v.dW} * w${kh}_${kw};`))).join('\n')}
    }`;
  };
  return {
    uniforms: dwWindowLayout,
    workgroupSize: DW_WG,
    grid: 'n',
    storage: [
      { name: 's', type: E },
      { name: 'w', type: E },
      ...(v.bias ? [{ name: 'b', type: E }] : []),
      { name: 'd', type: E, access: 'read_write' as const },
    ],
    decls: `fn epi(v: f32) -> ${E} { return ${half ? 'f16(' : ''}${v.act === 'relu' ? 'select(v, 0.0, v < 0.0)' : 'v'}${half ? ')' : ''}; }`,
    body: `
  let ii = i32(i);
  let t = ii % p.nT; let rq = ii / p.nT;
  let r = rq % p.nR; let q = rq / p.nR;
  let n = q / p.Cd; let c = q % p.Cd;
  let d0h = r * ${v.tr}; let d0w = t * ${v.tp};
  let ehb = d0h * ${ws[0]} - p.pT;
  let ewb = d0w * ${ws[1]} - p.pL;
  // column validity and clamped source column, once per thread
${cols.map((cc) => `  let ec${cc} = ewb + ${cc}; let cok${cc} = ${onGrid(`ec${cc}`, uW, 'p.SW')}; let xc${cc} = select(0, ${gridIndex(`ec${cc}`, uW)}, cok${cc});`).join('\n')}
${range(v.tr)
  .flatMap((r) => range(v.tp).map((j) => `  var ${acc(r, j)} = 0.0;`))
  .join('\n')}
  ${
    fwd
      ? // forward: the one input channel of output channel c
        'let ms = 1; let sc0 = n * p.Cs + c / p.Og; let wc0 = c;'
      : // grad-input: the Og output channels of input channel c
        'let ms = p.Og; let sc0 = n * p.Cs + c * p.Og; let wc0 = c * p.Og;'
  }
  for (var m = 0; m < ms; m++) {
    let sb = (sc0 + m) * p.SH * p.SW;
    let wb = (wc0 + m) * ${KK};
${range(v.kH)
  .flatMap((kh) => range(v.kW).map((kw) => `    let w${kh}_${kw} = ${ld(`w[wb + ${wIdx(kh, kw)}]`)};`))
  .join('\n')}
${rows.map(rowCode).join('\n')}
  }
  let db = q * p.DH * p.DW;
${v.bias ? `  let bv = ${ld('b[c]')};` : ''}
${range(v.tr)
  .map(
    (r) => `  if (d0h + ${r} < p.DH) {
    let rowb = db + (d0h + ${r}) * p.DW + d0w;
${range(v.tp)
  .map((j) => `    if (d0w + ${j} < p.DW) { d[rowb + ${j}] = epi(${acc(r, j)}${v.bias ? ' + bv' : ''}); }`)
  .join('\n')}
  }`,
  )
  .join('\n')}
`,
  };
}

function partialShader(v: DepthwiseTaps & { tr: number; tp: number }): ShaderSpec {
  const ws: [number, number] = [v.sH, v.sW];
  const { rows, cols, uses } = windows(v, v.tr, v.tp, ws);
  const KK = v.kH * v.kW;
  const taps = range(v.kH).flatMap((kh) => range(v.kW).map((kw) => [kh, kw] as const));
  const rowCode = (rr: number) => {
    const feeds = uses(rr);
    const used = uniq(feeds.flatMap(() => range(v.tp).flatMap((j) => range(v.kW).map((kw) => j * ws[1] + kw * v.dW))));
    return `      {
        let eh = ehb + ${rr};
        let rok = eh >= 0 && eh < p.H;
        let rb = xb + select(0, eh, rok) * p.W;
${used.map((cc) => `        let v${cc} = select(0.0, x[rb + xc${cc}], rok && cok${cc});`).join('\n')}
${feeds
  .flatMap(([r, kh]) =>
    range(v.kW).map(
      (kw) =>
        `        k${kh}_${kw} += ${range(v.tp)
          .map((j) => `g${r}_${j} * v${j * ws[1] + kw * v.dW}`)
          .join(' + ')};`,
    ),
  )
  .join('\n')}
      }`;
  };
  return {
    uniforms: dwPartialLayout,
    workgroupSize: DW_WG,
    grid: 'n',
    storage: [
      { name: 'x', type: 'f32' },
      { name: 'dy', type: 'f32' },
      { name: 'part', type: 'f32', access: 'read_write' as const },
    ],
    body: `
  let ii = i32(i);
  let pi = ii % p.P; let o = ii / p.P;
  let xc0 = o / p.Og;
${taps.map(([kh, kw]) => `  var k${kh}_${kw} = 0.0;`).join('\n')}
  let tiles = p.N * p.nR * p.nT;
  for (var tile = pi; tile < tiles; tile += p.P) {
    let t = tile % p.nT; let rq = tile / p.nT;
    let r = rq % p.nR; let n = rq / p.nR;
    let d0h = r * ${v.tr}; let d0w = t * ${v.tp};
    let yb = (n * p.O + o) * p.OH * p.OW;
    let xb = (n * p.C + xc0) * p.H * p.W;
    // the block of dY (zero outside the output) and the clamped columns of x it meets
${range(v.tr)
  .flatMap((r) =>
    range(v.tp).map(
      (j) =>
        `    let gok${r}_${j} = d0h + ${r} < p.OH && d0w + ${j} < p.OW; let g${r}_${j} = select(0.0, dy[select(0, yb + (d0h + ${r}) * p.OW + d0w + ${j}, gok${r}_${j})], gok${r}_${j});`,
    ),
  )
  .join('\n')}
    let ehb = d0h * ${v.sH} - p.pT;
    let ewb = d0w * ${v.sW} - p.pL;
${cols.map((cc) => `    let ec${cc} = ewb + ${cc}; let cok${cc} = ec${cc} >= 0 && ec${cc} < p.W; let xc${cc} = select(0, ec${cc}, cok${cc});`).join('\n')}
${rows.map(rowCode).join('\n')}
  }
  let pb = ii * ${KK};
${taps.map(([kh, kw]) => `  part[pb + ${kh * v.kW + kw}] = k${kh}_${kw};`).join('\n')}
`,
  };
}

function sumShader(kk: number): ShaderSpec {
  return {
    uniforms: dwSumLayout,
    workgroupSize: DW_WG,
    grid: 'n',
    storage: [
      { name: 'part', type: 'f32' },
      { name: 'dwt', type: 'f32', access: 'read_write' as const },
    ],
    body: `
  // tap i = (o, r): partials of channel o are P consecutive rows of ${kk}
  let ii = i32(i);
  let o = ii / ${kk}; let r = ii % ${kk};
  var a = 0.0;
  var k = o * p.P * ${kk} + r;
  for (var j = 0; j < p.P; j++) { a += part[k]; k += ${kk}; }
  dwt[ii] = a;
`,
  };
}

function depthwiseShader(v: DepthwiseVariant): ShaderSpec {
  if (v.pass === 'dwSum') return sumShader(v.kk);
  if (v.pass === 'dw') return partialShader(v);
  return windowShader(v);
}

/** Uniforms of a window kernel: destination [N, Cd, DH, DW] from source [N, Cs, SH, SW]. */
export function windowValues(
  v: DepthwiseWindowVariant,
  g: { N: number; Cd: number; DH: number; DW: number; Cs: number; SH: number; SW: number; pT: number; pL: number; Og: number },
): UniformValues & { n: number } {
  const nT = Math.ceil(g.DW / v.tp),
    nR = Math.ceil(g.DH / v.tr);
  return { ...g, n: g.N * g.Cd * nR * nT, nT, nR };
}
