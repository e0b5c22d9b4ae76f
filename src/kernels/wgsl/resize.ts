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
