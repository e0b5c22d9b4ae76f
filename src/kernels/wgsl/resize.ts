/**
 * Resizing kernels over NCHW planes with PyTorch's index rules (f32 index arithmetic, as PyTorch
 * computes it for float tensors):
 *   nearest   src = min(⌊dst·scale⌋, in−1), with PyTorch's shortcuts for out = in and out = 2·in
 *   bilinear  src = scale·dst (alignCorners) or max(scale·(dst+0.5)−0.5, 0); taps ⌊src⌋ and ⌊src⌋+1 (clamped)
 * `scale` comes in a uniform (in/out, 1/scaleFactor, or (in−1)/(out−1) with alignCorners).
 * The backward kernel is a gather: each input pixel binary-searches the (contiguous, since the
 * index map is monotone) range of output rows and columns that read it and sums their weighted dy.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { kernel, type Shader, type ShaderSpec } from './builder';

export type ResizeMode = 'nearest' | 'bilinear';
export const RESIZE_WG = 256;

const layout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'H', type: 'i32' },
  { name: 'W', type: 'i32' },
  { name: 'OH', type: 'i32' },
  { name: 'OW', type: 'i32' },
  { name: 'scaleH', type: 'f32' },
  { name: 'scaleW', type: 'f32' },
  { name: 'alignCorners', type: 'u32' },
]);

export interface ResizePlan {
  key: string;
  source: () => Shader;
  layout: UniformLayout;
  values: UniformValues;
}

/** `elem: 'f16'` (forward only): x and y stored as f16, interpolated in f32. */
export function resizePlan(
  mode: ResizeMode,
  backward: boolean,
  v: { n: number; H: number; W: number; OH: number; OW: number; scaleH: number; scaleW: number; alignCorners: boolean },
  elem: 'f32' | 'f16' = 'f32',
): ResizePlan {
  if (elem === 'f16' && backward) throw new Error('resizePlan: f16 storage is only implemented for the forward resize');
  if (!backward && elem === 'f32' && isBilinear2x(mode, v)) {
    return { layout, values: { ...v, n: v.n / (v.OH * v.OW), alignCorners: 0 }, ...kernel('resize-bilinear2x', {}, () => bilinear2xShader()) };
  }
  return {
    layout,
    values: { ...v, alignCorners: v.alignCorners ? 1 : 0 },
    ...kernel('resize', { mode, backward, elem }, (k) => resizeShader(k.mode, k.backward, k.elem === 'f16')),
  };
}

function resizeShader(mode: ResizeMode, backward: boolean, half: boolean): ShaderSpec {
  const E = half ? 'f16' : 'f32';
  const ld = (e: string) => (half ? `f32(${e})` : e);
  // tap(dst) gives the first source index and the weight of the second tap (0 for nearest)
  const tapFn =
    mode === 'nearest'
      ? `
fn tap(dst: i32, insz: i32, outsz: i32, scale: f32) -> Tap {
  if (outsz == insz) { return Tap(dst, 0.0); }
  if (outsz == 2 * insz) { return Tap(dst >> 1u, 0.0); }
  return Tap(min(i32(floor(f32(dst) * scale)), insz - 1), 0.0);
}`
      : `
fn tap(dst: i32, insz: i32, outsz: i32, scale: f32) -> Tap {
  var s: f32;
  if (p.alignCorners != 0u) { s = scale * f32(dst); } else { s = max(scale * (f32(dst) + 0.5) - 0.5, 0.0); }
  let i0 = min(i32(floor(s)), insz - 1);
  return Tap(i0, clamp(s - f32(i0), 0.0, 1.0));
}`;
  const body = backward
    ? `
  let iw = i32(i % u32(p.W)); let ih = i32((i / u32(p.W)) % u32(p.H)); let plane = i / u32(p.W * p.H);
  let obase = plane * u32(p.OH * p.OW);
  let back = ${mode === 'nearest' ? '0' : '1'};
  let h0 = first(ih - back, p.H, p.OH, p.scaleH); let h1 = first(ih + 1, p.H, p.OH, p.scaleH);
  let w0 = first(iw - back, p.W, p.OW, p.scaleW); let w1 = first(iw + 1, p.W, p.OW, p.scaleW);
  var acc = 0.0;
  for (var oh = h0; oh < h1; oh++) {
    let wh = weight(tap(oh, p.H, p.OH, p.scaleH), ih, p.H);
    var row = 0.0;
    for (var ow = w0; ow < w1; ow++) {
      row += dy[obase + u32(oh * p.OW + ow)] * weight(tap(ow, p.W, p.OW, p.scaleW), iw, p.W);
    }
    acc += wh * row;
  }
  dx[i] = acc;`
    : `
  let ow = i32(i % u32(p.OW)); let oh = i32((i / u32(p.OW)) % u32(p.OH)); let plane = i / u32(p.OW * p.OH);
  let base = plane * u32(p.H * p.W);
  let th = tap(oh, p.H, p.OH, p.scaleH); let tw = tap(ow, p.W, p.OW, p.scaleW);
  ${
    mode === 'nearest'
      ? 'y[i] = x[base + u32(th.i * p.W + tw.i)];'
      : `
  let h1 = th.i + select(0, 1, th.i < p.H - 1); let w1 = tw.i + select(0, 1, tw.i < p.W - 1);
  let r0 = ${ld('x[base + u32(th.i * p.W + tw.i)]')} * (1.0 - tw.l) + ${ld('x[base + u32(th.i * p.W + w1)]')} * tw.l;
  let r1 = ${ld('x[base + u32(h1 * p.W + tw.i)]')} * (1.0 - tw.l) + ${ld('x[base + u32(h1 * p.W + w1)]')} * tw.l;
  y[i] = ${half ? 'f16(r0 * (1.0 - th.l) + r1 * th.l)' : 'r0 * (1.0 - th.l) + r1 * th.l'};`
  }`;
  const helpers = backward
    ? `
// first output index whose source tap is ≥ want (tap is monotone in dst)
fn first(want: i32, insz: i32, outsz: i32, scale: f32) -> i32 {
  var lo = 0; var hi = outsz;
  while (lo < hi) {
    let mid = (lo + hi) / 2;
    if (tap(mid, insz, outsz, scale).i < want) { lo = mid + 1; } else { hi = mid; }
  }
  return lo;
}
// weight with which an output reading tap t lands on input index j
fn weight(t: Tap, j: i32, insz: i32) -> f32 {
  ${
    mode === 'nearest'
      ? 'return select(0.0, 1.0, t.i == j);'
      : `let second = t.i + select(0, 1, t.i < insz - 1);
  return select(0.0, 1.0 - t.l, t.i == j) + select(0.0, t.l, second == j);`
  }
}`
    : '';
  return {
    uniforms: layout,
    workgroupSize: RESIZE_WG,
    grid: 'n',
    storage: [
      { name: backward ? 'dy' : 'x', type: E },
      { name: backward ? 'dx' : 'y', type: E, access: 'read_write' },
    ],
    decls: `struct Tap { i: i32, l: f32 };
${tapFn}
${helpers}`,
    body,
  };
}

// ---- forward bilinear ×2 (alignCorners false): a 4×8 block of outputs per thread ---------------

/** Workgroup of the ×2 kernel: 4 column groups × 16 row pairs (one plane per z). */
const B2X = [4, 16] as const;
/** Input rows per thread: each gives two output rows. */
const B2X_ROWS = 2;

type ResizeGeometry = { H: number; W: number; OH: number; OW: number; scaleH: number; scaleW: number; alignCorners: boolean };

/**
 * Bilinear doubling with PyTorch's half-pixel rule (scale 1/2 on both axes) of planes whose rows
 * are whole vec4s: output 2j reads inputs j−1, j with weights ¼, ¾ and output 2j+1 reads j, j+1
 * with ¾, ¼ (clamped at the edges), so the fast path applies.
 */
export function isBilinear2x(mode: ResizeMode, g: ResizeGeometry): boolean {
  return mode === 'bilinear' && !g.alignCorners && g.OH === 2 * g.H && g.OW === 2 * g.W && g.scaleH === 0.5 && g.scaleW === 0.5 && g.W % 4 === 0;
}

/** Workgroups of the ×2 kernel over `n` outputs: x over input vec4 columns, y over blocks of input rows, z over planes (folded past 65535). */
export function bilinear2xWorkgroups(g: ResizeGeometry, n: number): [number, number, number] {
  const planes = n / (g.OH * g.OW);
  return [Math.ceil(g.W / 4 / B2X[0]), Math.ceil(g.H / B2X_ROWS / B2X[1]), Math.min(planes, 65535)];
}

/**
 * Thread (c, b, plane) owns input columns 4c…4c+3 and rows B2X_ROWS·b…: it interpolates each
 * input row it needs (the rows above and below included) horizontally once, into two vec4s of
 * output columns 8c…8c+7, then blends pairs of those rows vertically. Every output is the generic
 * kernel's expression with the same taps and weights (x0·(1−l) + x1·l per axis, rows first), so
 * results agree bit for bit. `p.n` is the plane count.
 */
function bilinear2xShader(): ShaderSpec {
  const R = B2X_ROWS;
  const rows: string[] = [];
  // horizontal pass of input row r (clamped) into (lo, hi): output columns 8c..8c+3 and 8c+4..8c+7
  for (let t = -1; t <= R; t++) rows.push(`let q${t + 1} = horiz(base, clamp(i32(i0) + ${t}, 0, p.H - 1), c, w4);`);
  const out: string[] = [];
  for (let t = 0; t < R; t++) {
    const up = `q${t}`,
      mid = `q${t + 1}`,
      down = `q${t + 2}`;
    out.push(`if (i0 + ${t}u < u32(p.H)) {
      let i = i0 + ${t}u;
      // row 2i: rows i−1, i with ¼, ¾ (row 0: rows 0 and min(1, H−1) with 1, 0)
      let le = select(0.75, 0.0, i == 0u);
      let top = i == 0u;
      let o0 = (plane * u32(p.OH) + 2u * i) * ow4 + 2u * c;
      y[o0] = select(${up}.lo, ${mid}.lo, top) * (1.0 - le) + select(${mid}.lo, ${down}.lo, top) * le;
      y[o0 + 1u] = select(${up}.hi, ${mid}.hi, top) * (1.0 - le) + select(${mid}.hi, ${down}.hi, top) * le;
      // row 2i+1: rows i, min(i+1, H−1) with ¾, ¼
      let o1 = o0 + ow4;
      y[o1] = ${mid}.lo * 0.75 + ${down}.lo * 0.25; y[o1 + 1u] = ${mid}.hi * 0.75 + ${down}.hi * 0.25;
    }`);
  }
  return {
    uniforms: layout,
    workgroupSize: B2X,
    storage: [
      { name: 'x', type: 'vec4<f32>' },
      { name: 'y', type: 'vec4<f32>', access: 'read_write' },
    ],
    decls: `struct Row { lo: vec4<f32>, hi: vec4<f32> };
// input row r, columns 4c-1 .. 4c+4 → output columns 8c .. 8c+7 (left/right neighbours clamped to the row)
fn horiz(base: u32, r: i32, c: u32, w4: u32) -> Row {
  let row = base + u32(r) * w4;
  let v = x[row + c];
  let first = c == 0u; let last = c + 1u == w4;
  let left = select(x[row + c - select(1u, 0u, first)].w, v.x, first);
  let right = select(x[row + c + select(1u, 0u, last)].x, v.w, last);
  // even outputs 2j: inputs j−1, j with ¼, ¾; output 0 takes input 0 (and input 1 with weight 0)
  let l = select(vec4<f32>(0.75), vec4<f32>(0.0, 0.75, 0.75, 0.75), first);
  let e0 = vec4<f32>(select(left, v.x, first), v.x, v.y, v.z);
  let e1 = vec4<f32>(select(v.x, v.y, first), v.y, v.z, v.w);
  let even = e0 * (1.0 - l) + e1 * l;
  // odd outputs 2j+1: inputs j, j+1 with ¾, ¼
  let odd = v * 0.75 + vec4<f32>(v.y, v.z, v.w, right) * 0.25;
  return Row(vec4<f32>(even.x, odd.x, even.y, odd.y), vec4<f32>(even.z, odd.z, even.w, odd.w));
}`,
    body: `
  let c = gid.x; let w4 = u32(p.W) / 4u; let ow4 = 2u * w4;
  let i0 = gid.y * ${R}u;
  if (c >= w4 || i0 >= u32(p.H)) { return; }
  for (var plane = gid.z; plane < p.n; plane += nwg.z) {
    let base = plane * u32(p.H) * w4;
    ${rows.join('\n    ')}
    ${out.join('\n    ')}
  }`,
  };
}
