/**
 * Depthwise 2-D convolution kernels (groups = C, one input channel per group, channel multiplier Og ≥ 1), NCHW.
 * The generic implicit-GEMM kernels (conv.ts) tile over channels within a group, which a depthwise conv does not
 * have; these tile over pixels only and read each input row once per thread:
 *   - window (forward, and grad-input as a correlation of dY with the flipped kernel): a thread owns a TR × TP
 *     block of output pixels of one channel; per kernel row and output row it loads the input row's window of
 *     (TP − 1)·stride + (kW − 1)·dilation + 1 values into registers once (as vec4s where rows are multiples of 4
 *     wide) and reuses it across the kW taps, so loads per output fall from kH·kW to about kH·(TP + kW − 1) / TP.
 *     Grad-input reads dY as if zero-upsampled by the stride (a source row or column off the stride grid is
 *     zero) and sums over the Og output channels of its input channel.
 *   - grad-weight, split over the reduction (K = kH·kW taps is tiny, the reduction N·OH·OW is large): pass 1
 *     gives each of P threads per (output channel, kernel row) every P-th TR × TP block of dY, with the same row
 *     windows of x, and writes its kW partial sums; pass 2 adds the P partials of each tap in a fixed order
 *     (deterministic).
 * Threads are laid out over (channel, block) in one folded grid, so none idles but the last workgroup's tail.
 * Kernel width, stride and dilation along rows are compile-time (the windows are unrolled); the rest is uniforms.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { buildShader, variantKey, type Shader, type ShaderSpec } from './builder';

/** Threads per workgroup (one dimension; the grid folds into y past 65535 workgroups). */
export const DW_WG = 64;

const i32 = (name: string) => ({ name, type: 'i32' as const });

/** Window kernel: d = destination (y, or dx), s = source (x, or dY); rows step wsH per output row, source upsampled by uH. */
export const dwWindowLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  ...['nT', 'nR', 'Cd', 'DH', 'DW', 'Cs', 'SH', 'SW', 'pT', 'pL', 'Og', 'pLq', 'kH', 'wsH', 'dH', 'uH', 'hasBias', 'relu'].map(i32),
]);
/** Grad-weight pass 1. */
export const dwPartialLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  ...['P', 'nT', 'nR', 'N', 'C', 'H', 'W', 'O', 'OH', 'OW', 'pT', 'pL', 'Og', 'kH', 'sH', 'dH'].map(i32),
]);
/** Grad-weight pass 2. */
export const dwSumLayout = new UniformLayout([{ name: 'n', type: 'u32' }, i32('P')]);

/**
 * Compile-time geometry along a row: kernel width, stride and dilation (the column windows are unrolled). The
 * row geometry (kH, sH, dH) is in uniforms and looped over, which keeps shaders small: lavapipe compiles fully
 * unrolled 2-D windows for tens of seconds.
 */
export interface DepthwiseCols {
  kW: number;
  sW: number;
  dW: number;
}

/**
 * `pass: 'fwd'` y = act(conv(x, w) + b) (bias and ReLU switched by uniforms); `'dx'` the adjoint in x (then sW is the conv's stride, by which dY is
 * read upsampled). TR × TP output pixels per thread. `elem: 'f16'` (forward only) stores x, w, b and y as f16 and
 * accumulates in f32.
 */
export interface DepthwiseWindowVariant extends DepthwiseCols {
  pass: 'fwd' | 'dx';
  tr: number;
  tp: number;
  elem?: 'f32' | 'f16';
  /**
   * Rows of source and destination as vec4s (both widths multiples of 4, window step 1 and no upsampling across
   * columns, TP a multiple of 4): a row window is ⌈(off + span) / 4⌉ vec4 loads instead of span scalar ones, and
   * stores go 4 at a time. `vec` = off = (−pL) mod 4, the window's offset in its first vec4.
   */
  vec?: number;
}

/**
 * Grad-weight pass 1 (`pass: 'dw'`: a thread owns one kernel row kh of one channel, TR × TP dY pixels per step)
 * or pass 2 (`pass: 'dwSum'`: the P partials of each of the kW taps of a kernel row).
 */
export type DepthwiseWeightVariant = (DepthwiseCols & { pass: 'dw'; tr: number; tp: number; vec?: number }) | { pass: 'dwSum'; kw: number };

export type DepthwiseVariant = DepthwiseWindowVariant | DepthwiseWeightVariant;

export const depthwiseKey = (v: DepthwiseVariant) => variantKey('convDepthwise', v);
export const depthwiseSource = (v: DepthwiseVariant): Shader => buildShader(depthwiseShader(v));

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A row's source window for TP outputs: scalar loads of columns cc = j·ws + kw·dW (validity and clamped column
 * precomputed per thread as cok/xc), or vec4 loads u0…u(nv−1) covering them from offset `off`.
 */
function rowWindow(o: { tp: number; kW: number; dW: number; ws: number; vec?: number; E: string; half: boolean }) {
  const cols = [...new Set(range(o.tp).flatMap((j) => range(o.kW).map((kw) => j * o.ws + kw * o.dW)))].sort((a, b) => a - b);
  const vec = o.vec !== undefined;
  const off = o.vec ?? 0;
  const nv = Math.ceil((off + cols[cols.length - 1] + 1) / 4);
  const ld = (e: string) => (o.half ? `f32(${e})` : e);
  const ldv = (e: string) => (o.half ? `vec4<f32>(${e})` : e);
  const prelude = (uW: number, width: string, colBase: string) =>
    vec
      ? `  let vb = ${colBase};\n${range(nv)
          .map((k) => `  let vok${k} = vb + ${k} >= 0 && vb + ${k} < ${width} / 4;`)
          .join('\n')}`
      : cols
          .map((cc) => {
            const e = `ec${cc}`;
            const ok = uW === 1 ? `${e} >= 0 && ${e} < ${width}` : `${e} >= 0 && ${e} % ${uW} == 0 && ${e} / ${uW} < ${width}`;
            return `  let ${e} = ewb + ${cc}; let cok${cc} = ${ok}; let xc${cc} = select(0, ${uW === 1 ? e : `${e} / ${uW}`}, cok${cc});`;
          })
          .join('\n');
  /** Loads of one row: `rb` is the row's first element (scalar) or vec4 + vb (vec), `rok` its validity. */
  const loads = (buf: string, ind: string) =>
    vec
      ? `${range(nv)
          .map((k) => `${ind}let u${k} = select(vec4<f32>(0.0), ${ldv(`${buf}[select(0, rb + ${k}, rok && vok${k})]`)}, rok && vok${k});`)
          .join('\n')}\n${cols.map((cc) => `${ind}let v${cc} = u${Math.floor((off + cc) / 4)}[${(off + cc) % 4}];`).join('\n')}`
      : cols.map((cc) => `${ind}let v${cc} = select(0.0, ${ld(`${buf}[rb + xc${cc}]`)}, rok && cok${cc});`).join('\n');
  return { prelude, loads, vec };
}

function windowShader(v: DepthwiseWindowVariant): ShaderSpec {
  const half = v.elem === 'f16';
  if (half && v.pass !== 'fwd') throw new Error(`depthwiseSource: f16 storage is only implemented for the forward kernel, not '${v.pass}'`);
  const E = half ? 'f16' : 'f32';
  const ld = (e: string) => (half ? `f32(${e})` : e);
  const fwd = v.pass === 'fwd';
  // window step per destination column (the conv's stride forward, 1 backward) and the source's upsampling
  const ws = fwd ? v.sW : 1;
  const uW = fwd ? 1 : v.sW;
  if (v.vec !== undefined && (ws !== 1 || uW !== 1 || v.tp % 4 !== 0))
    throw new Error('depthwiseSource: vec4 rows need a column step of 1 and TP a multiple of 4');
  const win = rowWindow({ tp: v.tp, kW: v.kW, dW: v.dW, ws, vec: v.vec, E, half });
  const V = `vec4<${E}>`;
  const acc = (r: number, j: number) => `a${r}_${j}`;
  // grad-input correlates with the flipped kernel
  const wRow = fwd ? 'kh' : '(p.kH - 1 - kh)';
  const wCol = (kw: number) => (fwd ? kw : v.kW - 1 - kw);
  const rowCode = (r: number) => `      {
        let eh = ehb + ${r} * p.wsH + kh * p.dH;
        let rok = eh >= 0 && eh % p.uH == 0 && eh / p.uH < p.SH;
        let rb = ${win.vec ? '(sb + select(0, eh / p.uH, rok) * p.SW) / 4 + vb' : 'sb + select(0, eh / p.uH, rok) * p.SW'};
${win.loads('s', '        ')}
${range(v.kW)
  .flatMap((kw) => range(v.tp).map((j) => `        ${acc(r, j)} += v${j * ws + kw * v.dW} * w${kw};`))
  .join('\n')}
      }`;
  const store = (r: number) =>
    win.vec
      ? range(v.tp / 4)
          .map(
            (q) =>
              `    if (d0w + ${4 * q} < p.DW) { d[rowb / 4 + ${q}] = ${V}(${range(4)
                .map((l) => `epi(${acc(r, 4 * q + l)}${fwd ? ' + bv' : ''})`)
                .join(', ')}); }`,
          )
          .join('\n')
      : range(v.tp)
          .map((j) => `    if (d0w + ${j} < p.DW) { d[rowb + ${j}] = epi(${acc(r, j)}${fwd ? ' + bv' : ''}); }`)
          .join('\n');
  return {
    uniforms: dwWindowLayout,
    workgroupSize: DW_WG,
    grid: 'n',
    storage: [
      { name: 's', type: win.vec ? V : E },
      { name: 'w', type: E },
      // forward: the bias, or any buffer of ≥ O elements when there is none (uniform hasBias = 0)
      ...(fwd ? [{ name: 'b', type: E }] : []),
      { name: 'd', type: win.vec ? V : E, access: 'read_write' as const },
    ],
    // bias and ReLU are uniforms, not variants: fewer shaders to compile (lavapipe takes seconds per shader)
    decls: `fn epi(v: f32) -> ${E} { return ${E}(select(v, select(v, 0.0, v < 0.0), p.relu != 0)); }`,
    body: `
  let ii = i32(i);
  let t = ii % p.nT; let rq = ii / p.nT;
  let r = rq % p.nR; let q = rq / p.nR;
  let n = q / p.Cd; let c = q % p.Cd;
  let d0h = r * ${v.tr}; let d0w = t * ${v.tp};
  let ehb = d0h * p.wsH - p.pT;
  let ewb = d0w * ${ws} - p.pL;
  // column validity and clamped source columns, once per thread
${win.prelude(uW, 'p.SW', 'd0w / 4 - p.pLq')}
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
    for (var kh = 0; kh < p.kH; kh++) {
      let wr = ((wc0 + m) * p.kH + ${wRow}) * ${v.kW};
${range(v.kW)
  .map((kw) => `      let w${kw} = ${ld(`w[wr + ${wCol(kw)}]`)};`)
  .join('\n')}
${range(v.tr).map(rowCode).join('\n')}
    }
  }
  let db = q * p.DH * p.DW;
${fwd ? `  let bv = select(0.0, ${ld('b[c]')}, p.hasBias != 0);` : ''}
${range(v.tr)
  .map(
    (r) => `  if (d0h + ${r} < p.DH) {
    let rowb = db + (d0h + ${r}) * p.DW + d0w;
${store(r)}
  }`,
  )
  .join('\n')}
`,
  };
}

function partialShader(v: DepthwiseCols & { tr: number; tp: number; vec?: number }): ShaderSpec {
  const win = rowWindow({ tp: v.tp, kW: v.kW, dW: v.dW, ws: v.sW, vec: v.vec, E: 'f32', half: false });
  const rowCode = (r: number) => `      {
        let eh = (d0h + ${r}) * p.sH - p.pT + kh * p.dH;
        let rok = eh >= 0 && eh < p.H;
        let rb = ${win.vec ? '(xb + select(0, eh, rok) * p.W) / 4 + vb' : 'xb + select(0, eh, rok) * p.W'};
${win.loads('x', '        ')}
${range(v.kW)
  .map(
    (kw) =>
      `        k${kw} += ${range(v.tp)
        .map((j) => `g${r}_${j} * v${j * v.sW + kw * v.dW}`)
        .join(' + ')};`,
  )
  .join('\n')}
      }`;
  return {
    uniforms: dwPartialLayout,
    workgroupSize: DW_WG,
    grid: 'n',
    storage: [
      { name: 'x', type: win.vec ? 'vec4<f32>' : 'f32' },
      { name: 'dy', type: 'f32' },
      { name: 'part', type: 'f32', access: 'read_write' as const },
    ],
    body: `
  // thread (o, kh, pi): kernel row kh of output channel o over every P-th block of dY
  let ii = i32(i);
  let pi = ii % p.P; let ok = ii / p.P;
  let kh = ok % p.kH; let o = ok / p.kH;
  let xc0 = o / p.Og;
${range(v.kW)
  .map((kw) => `  var k${kw} = 0.0;`)
  .join('\n')}
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
    let ewb = d0w * ${v.sW} - p.pL;
${win.prelude(1, 'p.W', 'd0w / 4 - (p.pL + 3) / 4')}
    {
${range(v.tr).map(rowCode).join('\n')}
    }
  }
  let pb = ii * ${v.kW};
${range(v.kW)
  .map((kw) => `  part[pb + ${kw}] = k${kw};`)
  .join('\n')}
`,
  };
}

function sumShader(kw: number): ShaderSpec {
  return {
    uniforms: dwSumLayout,
    workgroupSize: DW_WG,
    grid: 'n',
    storage: [
      { name: 'part', type: 'f32' },
      { name: 'dwt', type: 'f32', access: 'read_write' as const },
    ],
    body: `
  // tap i = ((o, kh), kw): the partials of kernel row (o, kh) are P consecutive runs of ${kw}
  let ii = i32(i);
  let ok = ii / ${kw}; let r = ii % ${kw};
  var a = 0.0;
  var k = ok * p.P * ${kw} + r;
  for (var j = 0; j < p.P; j++) { a += part[k]; k += ${kw}; }
  dwt[ii] = a;
`,
  };
}

function depthwiseShader(v: DepthwiseVariant): ShaderSpec {
  if (v.pass === 'dwSum') return sumShader(v.kw);
  if (v.pass === 'dw') return partialShader(v);
  return windowShader(v);
}

/** Uniforms of a window kernel: destination [N, Cd, DH, DW] from source [N, Cs, SH, SW]. */
export function windowValues(
  v: DepthwiseWindowVariant,
  g: {
    N: number;
    Cd: number;
    DH: number;
    DW: number;
    Cs: number;
    SH: number;
    SW: number;
    pT: number;
    pL: number;
    Og: number;
    kH: number;
    wsH: number;
    dH: number;
    uH: number;
  },
): UniformValues & { n: number } {
  const nT = Math.ceil(g.DW / v.tp),
    nR = Math.ceil(g.DH / v.tr);
  return { ...g, n: g.N * g.Cd * nR * nT, nT, nR, pLq: Math.ceil(g.pL / 4) };
}
