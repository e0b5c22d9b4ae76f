/**
 * Batch augmentations on the GPU, with explicit keys. Every random choice for sample i comes from
 * foldIn(key, i), so a run is reproducible and independent of the batch composition order.
 *
 * Geometry: one resampling kernel (`affineResample`) driven by a per-sample 2×3 matrix that maps
 * output pixel coordinates to input ones. resize, randomCrop, randomResizedCrop (torchvision's
 * sampling, 10 tries then the centre-crop fallback), horizontal / vertical flips and rotation all
 * compose into that one matrix, so a batch is resampled once (one interpolation, not a chain).
 * `augmentGeometry` applies the SAME matrices to the image (bilinear) and the mask (nearest).
 *
 * Colour: `colorJitter` (torchvision's ColorJitter: brightness, contrast, saturation, hue in a
 * random order per sample) and random grayscale in one kernel; `normalize` with ImageNet
 * defaults. All of these are data ops (no gradient).
 */
import { grid } from '../../kernels/webgpu/device';
import { affineLayout, affineKernel, jitterLayout, jitterKernel, normalizeLayout, normalizeKernel, AUGMENT_WG } from '../../kernels/wgsl/augment';
import { refAffineResample, refColorJitter, refNormalize, type RefAffineParams } from '../../kernels/reference/augment';
import { defineOp, type Op, type RefTensor } from '../../tensor/ops/define';
import { ArgumentError, fmtShape } from '../../base/shape';
import { Tensor, empty } from '../../tensor/tensor';
import { tensor } from '../../tensor/ops/creation';
import { div } from '../../tensor/ops/elementwise';
import { reshape } from '../../tensor/ops/shape-ops';
import { isRecording } from '../../tensor/tape';
import { type Key, checkKey, foldIn, randomBits, permutation } from '../../tensor/random';

// ---- ops -----------------------------------------------------------------------------------------

export type AffineAttrs = RefAffineParams;

const affineResampleOp: Op<AffineAttrs> = defineOp<AffineAttrs>({
  name: 'affineResample',
  forward([x, theta], a) {
    const xt = x as Tensor, t = theta as Tensor;
    const [N, C, H, W] = xt.shape;
    const y = empty([N, C, a.outSize[0], a.outSize[1]], 'float32', xt.device);
    if (y.size === 0) return y;
    const k = affineKernel(a.mode);
    xt.device.run('affineResample', k.key, k.source, [xt.buffer, t.buffer, y.buffer], grid(y.size, AUGMENT_WG),
      { layout: affineLayout, values: { n: y.size, C, H, W, OH: a.outSize[0], OW: a.outSize[1], fill: a.fill } });
    return y;
  },
  reference: ([x, theta], a) => refAffineResample(x as RefTensor, theta as RefTensor, a),
  noGrad: 'data augmentation: runs on input batches, outside any gradient trace',
});

const colorJitterOp: Op<Record<string, never>> = defineOp({
  name: 'colorJitter',
  forward([x, params]) {
    const xt = x as Tensor;
    const [N, , H, W] = xt.shape;
    const y = empty(xt.shape, 'float32', xt.device);
    if (y.size === 0) return y;
    const k = jitterKernel();
    xt.device.run('colorJitter', k.key, k.source, [xt.buffer, (params as Tensor).buffer, y.buffer], grid(N, 1),
      { layout: jitterLayout, values: { HW: H * W, N } });
    return y;
  },
  reference: ([x, params]) => refColorJitter(x as RefTensor, params as RefTensor),
  noGrad: 'data augmentation: runs on input batches, outside any gradient trace',
});

/** Per-channel (x − mean) / std; differentiable in x (dx = dy / std), as inputs are sometimes traced. */
const normalizeOp: Op<Record<string, never>> = defineOp({
  name: 'normalizeChannels',
  forward([x, mean, std]) {
    const xt = x as Tensor;
    const y = empty(xt.shape, 'float32', xt.device);
    if (y.size === 0) return y;
    const k = normalizeKernel();
    xt.device.run('normalizeChannels', k.key, k.source, [xt.buffer, (mean as Tensor).buffer, (std as Tensor).buffer, y.buffer], grid(y.size, AUGMENT_WG),
      { layout: normalizeLayout, values: { n: y.size, C: xt.shape[1], HW: xt.shape[2] * xt.shape[3] } });
    return y;
  },
  reference: ([x, mean, std]) => refNormalize(x as RefTensor, mean as RefTensor, std as RefTensor),
  vjp: ({ dy, inputs }) => [div(dy, reshape(inputs[2] as Tensor, [1, (inputs[2] as Tensor).size, 1, 1])), null, null],
});

function checkBatch(fn: string, arg: string, x: unknown, channels?: number): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${typeof x}`, 'a Tensor');
  if (x.ndim !== 4) throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, 'a 4-d (N, C, H, W) batch');
  if (x.dtype !== 'float32') throw new ArgumentError(fn, arg, `has dtype ${x.dtype}`, 'float32');
  if (channels !== undefined && x.shape[1] !== channels) throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, `${channels} channels (N, ${channels}, H, W)`);
  if (x.shape[2] === 0 || x.shape[3] === 0) throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)} with an empty plane`, 'non-zero H and W');
  return x;
}

const size2 = (fn: string, arg: string, s: unknown): [number, number] => {
  const v = typeof s === 'number' ? [s, s] : s;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 1)) throw new ArgumentError(fn, arg, `is ${JSON.stringify(s)}`, 'a positive integer or an [H, W] pair of them');
  return [v[0], v[1]];
};

/**
 * Resamples each sample n of x [N, C, H, W] through its own 2×3 matrix theta[n] (output pixel
 * coordinates → input pixel coordinates, pixel centres at +0.5) into [N, C, size]. Points outside
 * the input take `fill` (default 0).
 */
export function affineResample(x: Tensor, theta: Tensor | Float32Array, options: { size: number | readonly [number, number]; mode?: 'bilinear' | 'nearest'; fill?: number }): Tensor {
  const fn = 'affineResample';
  checkBatch(fn, 'input', x);
  const mode = options.mode ?? 'bilinear';
  if (mode !== 'bilinear' && mode !== 'nearest') throw new ArgumentError(fn, 'mode', `is ${JSON.stringify(mode)}`, "'bilinear' or 'nearest'");
  const outSize = size2(fn, 'size', options.size);
  const fill = options.fill ?? 0;
  if (!Number.isFinite(fill)) throw new ArgumentError(fn, 'fill', `is ${fill}`, 'a finite number');
  const N = x.shape[0];
  const own = !(theta instanceof Tensor);
  if (own && (!(theta instanceof Float32Array) || theta.length !== 6 * N)) {
    throw new ArgumentError(fn, 'theta', theta instanceof Float32Array ? `has ${theta.length} values` : `is ${typeof theta}`, `a Tensor or Float32Array of [${N}, 6] (one 2×3 matrix per sample)`);
  }
  const t = own ? tensor(theta as Float32Array, { shape: [(theta as Float32Array).length / 6 | 0, 6], device: x.device }) : theta as Tensor;
  try {
    if (t.ndim !== 2 || t.shape[0] !== N || t.shape[1] !== 6 || t.dtype !== 'float32' || (own && (theta as Float32Array).length !== 6 * N)) {
      throw new ArgumentError(fn, 'theta', own ? `has ${(theta as Float32Array).length} values` : `has shape ${fmtShape(t.shape)} (${t.dtype})`, `[${N}, 6] float32 (one 2×3 matrix per sample)`);
    }
    return affineResampleOp.call1([x, t], { mode, outSize, fill });
  } finally { if (own) t.dispose(); }
}

/** Colour jitter with explicit per-sample parameters ([N, 12], layout in src/kernels/wgsl/augment.ts). */
export function colorJitterWith(x: Tensor, params: Float32Array): Tensor {
  checkBatch('colorJitter', 'input', x, 3);
  if (params.length !== 12 * x.shape[0]) throw new ArgumentError('colorJitter', 'params', `has ${params.length} values`, `${12 * x.shape[0]} (12 per sample)`);
  const p = tensor(params, { shape: [x.shape[0], 12], device: x.device });
  try { return colorJitterOp.call1([x, p], {}); } finally { p.dispose(); }
}

// ---- per-sample randomness ----------------------------------------------------------------------

/** A stream of uniform numbers in [0, 1) from a key: draw j uses the 53 top bits of block j. */
export function uniformStream(k: Key): () => number {
  let j = 0;
  return () => { const [hi, lo] = randomBits(k, j++); return (hi * 2097152 + (lo >>> 11)) / 9007199254740992; };
}

const uniformIn = (u: () => number, lo: number, hi: number) => lo + (hi - lo) * u();
/** Integer in [lo, hi) (torch.randint's half-open range). */
const randint = (u: () => number, lo: number, hi: number) => lo + Math.min(hi - lo - 1, Math.floor(u() * (hi - lo)));
/** Python's round(): halves to even. */
const roundHalfEven = (v: number) => { const r = Math.round(v); return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; };

/** A crop box in input pixels: top, left, height, width. */
export interface Box { top: number; left: number; height: number; width: number; }

/** torchvision RandomResizedCrop.get_params: 10 tries of (scale, log-uniform ratio), then a centre crop clamped to the ratio range. */
export function sampleResizedCrop(u: () => number, H: number, W: number, scale: readonly [number, number] = [0.08, 1], ratio: readonly [number, number] = [3 / 4, 4 / 3]): Box {
  const area = H * W;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const target = area * uniformIn(u, scale[0], scale[1]);
    const aspect = Math.exp(uniformIn(u, logLo, logHi));
    const w = roundHalfEven(Math.sqrt(target * aspect)), h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) return { top: randint(u, 0, H - h + 1), left: randint(u, 0, W - w + 1), height: h, width: w };
  }
  const inRatio = W / H;
  let w: number, h: number;
  if (inRatio < Math.min(...ratio)) { w = W; h = roundHalfEven(w / Math.min(...ratio)); }
  else if (inRatio > Math.max(...ratio)) { h = H; w = roundHalfEven(h * Math.max(...ratio)); }
  else { w = W; h = H; }
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}

type M3 = [number, number, number, number, number, number]; // rows [a b c; d e f] of an affine map
const compose = (p: M3, q: M3): M3 => [ // p ∘ q
  p[0] * q[0] + p[1] * q[3], p[0] * q[1] + p[1] * q[4], p[0] * q[2] + p[1] * q[5] + p[2],
  p[3] * q[0] + p[4] * q[3], p[3] * q[1] + p[4] * q[4], p[3] * q[2] + p[4] * q[5] + p[5],
];

export interface GeometryOptions {
  /** Output H×W. */
  size: number | readonly [number, number];
  /**
   * How the output window is chosen in the input: 'resize' (the whole image, default), 'crop'
   * (torchvision RandomCrop: a random size×size window, no scaling; the input must be at least
   * that large), 'centerCrop', or 'resizedCrop' (RandomResizedCrop with `scale`, `ratio`).
   */
  crop?: 'resize' | 'crop' | 'centerCrop' | 'resizedCrop';
  scale?: readonly [number, number];
  ratio?: readonly [number, number];
  /** Probability of a horizontal (left–right) flip; default 0. */
  hflip?: number;
  /** Probability of a vertical flip; default 0. */
  vflip?: number;
  /** Rotation by an angle uniform in [−d, d] (or [lo, hi]) degrees, counter-clockwise, about the centre; fill 0 outside. */
  degrees?: number | readonly [number, number];
  /** Value outside the input after a rotation; default 0. */
  fill?: number;
}

/**
 * Per-sample 2×3 matrices (Float32Array of 6·n) for inputs of size inH×inW. Sample i draws from
 * foldIn(key, i), in the order: crop box, flips, angle.
 * The output pixel is rotated back about the output centre, flipped, then mapped into the box.
 */
export function sampleGeometry(key: Key, n: number, inSize: readonly [number, number], options: GeometryOptions): Float32Array {
  const fn = 'sampleGeometry';
  checkKey(fn, key);
  const [OH, OW] = size2(fn, 'size', options.size);
  const [H, W] = inSize;
  const mode = options.crop ?? 'resize';
  const prob = (arg: string, p: number | undefined) => {
    const v = p ?? 0;
    if (!(v >= 0 && v <= 1)) throw new ArgumentError(fn, arg, `is ${p}`, 'a probability in [0, 1]');
    return v;
  };
  const ph = prob('hflip', options.hflip), pv = prob('vflip', options.vflip);
  const deg = options.degrees === undefined ? null : typeof options.degrees === 'number' ? [-Math.abs(options.degrees), Math.abs(options.degrees)] : [...options.degrees];
  if (deg && (deg.length !== 2 || !deg.every(Number.isFinite) || deg[0] > deg[1])) throw new ArgumentError(fn, 'degrees', `is ${JSON.stringify(options.degrees)}`, 'a number d (for [−d, d]) or a [lo, hi] range');
  const scale = options.scale ?? [0.08, 1], ratio = options.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new ArgumentError(fn, 'scale', `is ${JSON.stringify(scale)}`, 'a range 0 < lo ≤ hi ≤ 1');
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new ArgumentError(fn, 'ratio', `is ${JSON.stringify(ratio)}`, 'a range 0 < lo ≤ hi');
  if (mode === 'crop' && (H < OH || W < OW)) throw new ArgumentError(fn, 'size', `is ${OH}×${OW} for ${H}×${W} inputs`, "a crop no larger than the input for crop: 'crop' (resize first, or use 'resizedCrop')");
  if (!['resize', 'crop', 'centerCrop', 'resizedCrop'].includes(mode)) throw new ArgumentError(fn, 'crop', `is ${JSON.stringify(mode)}`, "'resize', 'crop', 'centerCrop' or 'resizedCrop'");
  const out = new Float32Array(6 * n);
  for (let i = 0; i < n; i++) {
    const u = uniformStream(foldIn(key, i));
    let box: Box;
    if (mode === 'resize') box = { top: 0, left: 0, height: H, width: W };
    else if (mode === 'crop') box = { top: randint(u, 0, H - OH + 1), left: randint(u, 0, W - OW + 1), height: OH, width: OW };
    else if (mode === 'centerCrop') box = { top: Math.round((H - OH) / 2), left: Math.round((W - OW) / 2), height: OH, width: OW };
    else box = sampleResizedCrop(u, H, W, scale, ratio);
    // output → box: x_in = left + x·(w/OW)
    let m: M3 = [box.width / OW, 0, box.left, 0, box.height / OH, box.top];
    // flips act in output coordinates before the box map
    if (ph > 0 && u() < ph) m = compose(m, [-1, 0, OW, 0, 1, 0]);
    if (pv > 0 && u() < pv) m = compose(m, [1, 0, 0, 0, -1, OH]);
    if (deg) {
      const a = (uniformIn(u, deg[0], deg[1]) * Math.PI) / 180;
      const c = Math.cos(a), s = Math.sin(a), cx = OW / 2, cy = OH / 2;
      // counter-clockwise on screen (y down): output offset d comes from input offset [c −s; s c]·d
      m = compose(m, [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy]);
    }
    out.set(m, 6 * i);
  }
  return out;
}

export interface GeometryBatch { image: Tensor; mask?: Tensor; }

/**
 * Applies one random geometric transform per sample to the image batch and, identically, to the
 * mask batch (bilinear for images, nearest for masks). Returns new tensors; inputs are kept.
 */
export function augmentGeometry(batch: GeometryBatch, key: Key, options: GeometryOptions): { image: Tensor; mask?: Tensor } {
  const fn = 'augmentGeometry';
  const image = checkBatch(fn, 'image', batch?.image);
  if (batch.mask !== undefined) {
    const mk = checkBatch(fn, 'mask', batch.mask);
    if (mk.shape[0] !== image.shape[0] || mk.shape[2] !== image.shape[2] || mk.shape[3] !== image.shape[3]) {
      throw new ArgumentError(fn, 'mask', `has shape ${fmtShape(mk.shape)}`, `the image's N, H and W (${fmtShape(image.shape)})`);
    }
  }
  const [N, , H, W] = image.shape;
  const theta = sampleGeometry(key, N, [H, W], options);
  const t = tensor(theta, { shape: [N, 6], device: image.device });
  try {
    const size = size2(fn, 'size', options.size);
    const out: { image: Tensor; mask?: Tensor } = { image: affineResample(image, t, { size, mode: 'bilinear', fill: options.fill }) };
    if (batch.mask) out.mask = affineResample(batch.mask, t, { size, mode: 'nearest', fill: 0 });
    return out;
  } finally { t.dispose(); }
}

export interface ColorJitterOptions {
  /** Factor uniform in [max(0, 1−b), 1+b] (or a [lo, hi] range); 0 or undefined: off. */
  brightness?: number | readonly [number, number];
  contrast?: number | readonly [number, number];
  saturation?: number | readonly [number, number];
  /** Shift uniform in [−h, h] turns, 0 ≤ h ≤ 0.5 (or a range within [−0.5, 0.5]). */
  hue?: number | readonly [number, number];
  /** Probability of converting a sample to grayscale (3 equal channels) after the jitter; default 0. */
  grayscale?: number;
  /** 'random' (torchvision: a fresh permutation per sample, default) or 'fixed' (brightness, contrast, saturation, hue). */
  order?: 'random' | 'fixed';
}

/** Per-sample parameters for colorJitterWith: sample i draws from foldIn(key, i). */
export function sampleColorJitter(key: Key, n: number, o: ColorJitterOptions): Float32Array {
  const fn = 'colorJitter';
  checkKey(fn, key);
  const range = (arg: string, v: number | readonly [number, number] | undefined, centre: number, bound: [number, number]): [number, number] | null => {
    if (v === undefined) return null;
    let r: [number, number];
    if (typeof v === 'number') {
      if (!(v >= 0)) throw new ArgumentError(fn, arg, `is ${v}`, 'a non-negative number');
      r = [Math.max(bound[0], centre - v), centre + v];
    } else r = [v[0], v[1]];
    if (!(r[0] >= bound[0] && r[0] <= r[1] && r[1] <= bound[1])) throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, `a range within [${bound[0]}, ${bound[1]}]`);
    return r[0] === centre && r[1] === centre ? null : r;
  };
  const ranges = [range('brightness', o.brightness, 1, [0, Infinity]), range('contrast', o.contrast, 1, [0, Infinity]), range('saturation', o.saturation, 1, [0, Infinity]), range('hue', o.hue, 0, [-0.5, 0.5])];
  const pg = o.grayscale ?? 0;
  if (!(pg >= 0 && pg <= 1)) throw new ArgumentError(fn, 'grayscale', `is ${o.grayscale}`, 'a probability in [0, 1]');
  const order = o.order ?? 'random';
  if (order !== 'random' && order !== 'fixed') throw new ArgumentError(fn, 'order', `is ${JSON.stringify(order)}`, "'random' or 'fixed'");
  const out = new Float32Array(12 * n);
  for (let i = 0; i < n; i++) {
    const k = foldIn(key, i);
    const perm = order === 'random' ? permutation(foldIn(k, 1), 4) : [0, 1, 2, 3];
    const u = uniformStream(k);
    const p = out.subarray(12 * i, 12 * i + 12);
    p.set([1, 1, 1, 0]);
    // as torchvision: the four factors are drawn first (in fixed order), then applied in `perm` order
    ranges.forEach((r, j) => { if (r) p[j] = uniformIn(u, r[0], r[1]); });
    for (let s = 0; s < 4; s++) p[4 + s] = ranges[perm[s]] ? perm[s] : -1;
    p[8] = pg > 0 && u() < pg ? 1 : 0;
  }
  return out;
}

/** torchvision ColorJitter + RandomGrayscale on a [N, 3, H, W] batch in [0, 1], one draw per sample. */
export function colorJitter(x: Tensor, key: Key, options: ColorJitterOptions): Tensor {
  checkBatch('colorJitter', 'input', x, 3);
  return colorJitterWith(x, sampleColorJitter(key, x.shape[0], options));
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** (x − mean[c]) / std[c] per channel of [N, C, H, W]; ImageNet statistics by default. */
export function normalize(x: Tensor, mean: readonly number[] = IMAGENET_MEAN, std: readonly number[] = IMAGENET_STD): Tensor {
  checkBatch('normalize', 'input', x);
  const C = x.shape[1];
  if (mean.length !== C) throw new ArgumentError('normalize', 'mean', `has ${mean.length} values`, `${C}, one per channel of ${fmtShape(x.shape)}`);
  if (std.length !== C) throw new ArgumentError('normalize', 'std', `has ${std.length} values`, `${C}, one per channel of ${fmtShape(x.shape)}`);
  if (!std.every((s) => s !== 0 && Number.isFinite(s))) throw new ArgumentError('normalize', 'std', `is ${JSON.stringify(std)}`, 'finite non-zero values');
  const m = tensor(Float32Array.from(mean), { shape: [C], device: x.device });
  const s = tensor(Float32Array.from(std), { shape: [C], device: x.device });
  // a traced call keeps mean/std alive for the backward pass; the trace's scope frees them
  try { return normalizeOp.call1([x, m, s], {}); } finally { if (!isRecording()) { m.dispose(); s.dispose(); } }
}
