/**
 * Data-augmentation kernels over NCHW batches.
 *
 * affineResample: one thread per output element. Sample n has a 2×3 matrix M (row-major, six f32
 * in a storage buffer) mapping an output point to an input point, both in continuous pixel
 * coordinates (pixel (x, y) covers [x, x+1)×[y, y+1), its centre is (x+0.5, y+0.5)). For output
 * pixel (ox, oy): (u, v) = M·(ox+0.5, oy+0.5, 1). Outside the image rectangle [0, W]×[0, H] the
 * output is `fill`. Inside:
 *   bilinear  taps ⌊u−0.5⌋, ⌊u−0.5⌋+1 (and the same in v), clamped to the edge
 *   nearest   pixel (⌊u⌋, ⌊v⌋), clamped to the edge
 *
 * colorJitter: one workgroup per sample (the contrast step needs the mean grey level of the whole
 * image as it stands after the steps before it). Sample n's parameters are 12 f32:
 *   [brightness, contrast, saturation, hue, op0, op1, op2, op3, grayscale, 0, 0, 0]
 * op_k ∈ {0 brightness, 1 contrast, 2 saturation, 3 hue, −1 skip} gives the order. The work-group
 * copies the sample to the output, then applies each step in place, separated by barriers.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel, type ShaderSpec } from './builder';

export const AUGMENT_WG = 256;

export const affineLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'H', type: 'i32' },
  { name: 'W', type: 'i32' },
  { name: 'OH', type: 'u32' },
  { name: 'OW', type: 'u32' },
  { name: 'fill', type: 'f32' },
]);

/** Bilinear or nearest resampling under per-sample affine matrices. */
export const affineKernel = (mode: 'bilinear' | 'nearest') => kernel('augment', { op: 'affine', mode }, (v) => affineShader(v.mode));

function affineShader(mode: 'bilinear' | 'nearest'): ShaderSpec {
  const sample =
    mode === 'nearest'
      ? `
  let xi = clamp(i32(floor(u)), 0, p.W - 1); let yi = clamp(i32(floor(v)), 0, p.H - 1);
  y[i] = x[base + u32(yi * p.W + xi)];`
      : `
  let sx = u - 0.5; let sy = v - 0.5;
  let fx = floor(sx); let fy = floor(sy);
  let lx = sx - fx; let ly = sy - fy;
  let x0 = clamp(i32(fx), 0, p.W - 1); let x1 = clamp(i32(fx) + 1, 0, p.W - 1);
  let y0 = clamp(i32(fy), 0, p.H - 1); let y1 = clamp(i32(fy) + 1, 0, p.H - 1);
  let r0 = x[base + u32(y0 * p.W + x0)] * (1.0 - lx) + x[base + u32(y0 * p.W + x1)] * lx;
  let r1 = x[base + u32(y1 * p.W + x0)] * (1.0 - lx) + x[base + u32(y1 * p.W + x1)] * lx;
  y[i] = r0 * (1.0 - ly) + r1 * ly;`;
  return {
    uniforms: affineLayout,
    workgroupSize: AUGMENT_WG,
    grid: 'n',
    storage: [
      { name: 'x', type: 'f32' },
      { name: 'm', type: 'f32' },
      { name: 'y', type: 'f32', access: 'read_write' },
    ],
    body: `
  let ox = i % p.OW; let oy = (i / p.OW) % p.OH; let plane = i / (p.OW * p.OH);
  let s = plane / p.C;
  let px = f32(ox) + 0.5; let py = f32(oy) + 0.5;
  let u = m[6u * s] * px + m[6u * s + 1u] * py + m[6u * s + 2u];
  let v = m[6u * s + 3u] * px + m[6u * s + 4u] * py + m[6u * s + 5u];
  if (!(u >= 0.0 && u <= f32(p.W) && v >= 0.0 && v <= f32(p.H))) { y[i] = p.fill; return; }
  let base = plane * u32(p.H * p.W);${sample}`,
  };
}

export const jitterLayout = new UniformLayout([
  { name: 'HW', type: 'u32' },
  { name: 'N', type: 'u32' },
]);

/** Colour jitter and random grayscale for [N, 3, H, W]; dispatch N workgroups (folded into y past 65535). */
export const jitterKernel = () => kernel('augment', { op: 'jitter' }, jitterShader);

function jitterShader(): ShaderSpec {
  const WG = AUGMENT_WG;
  return {
    uniforms: jitterLayout,
    workgroupSize: WG,
    storage: [
      { name: 'x', type: 'f32' },
      { name: 'prm', type: 'f32' },
      { name: 'y', type: 'f32', access: 'read_write' },
    ],
    decls: `var<workgroup> partial: array<f32, ${WG}>;

fn gray(c: vec3<f32>) -> f32 { return 0.2989 * c.x + 0.587 * c.y + 0.114 * c.z; }
fn load(b: u32, j: u32) -> vec3<f32> { return vec3<f32>(y[b + j], y[b + p.HW + j], y[b + 2u * p.HW + j]); }
fn store(b: u32, j: u32, c: vec3<f32>) { y[b + j] = c.x; y[b + p.HW + j] = c.y; y[b + 2u * p.HW + j] = c.z; }

fn rgb2hsv(c: vec3<f32>) -> vec3<f32> {
  let mx = max(c.x, max(c.y, c.z)); let mn = min(c.x, min(c.y, c.z)); let d = mx - mn;
  if (d <= 0.0) { return vec3<f32>(0.0, 0.0, mx); }
  let s = d / mx;
  var h: f32;
  if (mx == c.x) { h = (c.y - c.z) / d; } else if (mx == c.y) { h = 2.0 + (c.z - c.x) / d; } else { h = 4.0 + (c.x - c.y) / d; }
  h = h / 6.0;
  h = h - floor(h);
  return vec3<f32>(h, s, mx);
}
fn hsv2rgb(c: vec3<f32>) -> vec3<f32> {
  let h6 = c.x * 6.0; let k = floor(h6); let f = h6 - k; let i = u32(k) % 6u;
  let v = c.z; let s = c.y;
  let pp = clamp(v * (1.0 - s), 0.0, 1.0); let q = clamp(v * (1.0 - s * f), 0.0, 1.0); let t = clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0);
  switch (i) {
    case 0u: { return vec3<f32>(v, t, pp); }
    case 1u: { return vec3<f32>(q, v, pp); }
    case 2u: { return vec3<f32>(pp, v, t); }
    case 3u: { return vec3<f32>(pp, q, v); }
    case 4u: { return vec3<f32>(t, pp, v); }
    default: { return vec3<f32>(v, pp, q); }
  }
}`,
    body: `
  let n = wid.x + wid.y * nwg.x;
  if (n >= p.N) { return; }  // uniform per workgroup, so barriers below stay in uniform control flow
  let b = n * 3u * p.HW;
  for (var j = li; j < 3u * p.HW; j += ${WG}u) { y[b + j] = x[b + j]; }
  storageBarrier();
  let pb = 12u * n;
  for (var k = 0u; k < 4u; k++) {
    let op = i32(prm[pb + 4u + k]);
    if (op == 1) {
      var acc = 0.0;
      for (var j = li; j < p.HW; j += ${WG}u) { acc += gray(load(b, j)); }
      partial[li] = acc;
      workgroupBarrier();
      for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) {
        if (li < w) { partial[li] += partial[li + w]; }
        workgroupBarrier();
      }
      let mean = partial[0] / f32(p.HW);
      let f = prm[pb + 1u];
      for (var j = li; j < p.HW; j += ${WG}u) { store(b, j, clamp(f * load(b, j) + (1.0 - f) * mean, vec3<f32>(0.0), vec3<f32>(1.0))); }
      workgroupBarrier();
    } else if (op == 0) {
      let f = prm[pb];
      for (var j = li; j < p.HW; j += ${WG}u) { store(b, j, clamp(f * load(b, j), vec3<f32>(0.0), vec3<f32>(1.0))); }
    } else if (op == 2) {
      let f = prm[pb + 2u];
      for (var j = li; j < p.HW; j += ${WG}u) {
        let c = load(b, j);
        store(b, j, clamp(f * c + (1.0 - f) * gray(c), vec3<f32>(0.0), vec3<f32>(1.0)));
      }
    } else if (op == 3) {
      let f = prm[pb + 3u];
      for (var j = li; j < p.HW; j += ${WG}u) {
        var hsv = rgb2hsv(load(b, j));
        hsv.x = hsv.x + f;
        hsv.x = hsv.x - floor(hsv.x);
        store(b, j, hsv2rgb(hsv));
      }
    }
    storageBarrier();
    workgroupBarrier();
  }
  if (prm[pb + 8u] != 0.0) {
    for (var j = li; j < p.HW; j += ${WG}u) { let g = gray(load(b, j)); store(b, j, vec3<f32>(g, g, g)); }
  }`,
  };
}

export const normalizeLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'HW', type: 'u32' },
]);

/** y = (x − mean[c]) / std[c] over [N, C, H, W], one thread per element. */
export const normalizeKernel = () =>
  kernel(
    'augment',
    { op: 'normalize' },
    (): ShaderSpec => ({
      uniforms: normalizeLayout,
      workgroupSize: AUGMENT_WG,
      grid: 'n',
      storage: [
        { name: 'x', type: 'f32' },
        { name: 'mean', type: 'f32' },
        { name: 'sd', type: 'f32' },
        { name: 'y', type: 'f32', access: 'read_write' },
      ],
      body: `
  let c = (i / p.HW) % p.C;
  y[i] = (x[i] - mean[c]) / sd[c];`,
    }),
  );
