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
import { ArgumentError, fmtShape } from '../../base/shape';
import type { Tensor } from '../../tensor/tensor';
import { tensor } from '../../tensor/ops/creation';
import { type Key, checkKey, foldIn, randomBits, permutation } from '../../base/random';
import { affineResample, colorJitterWith, checkBatch, size2 } from '../../tensor/ops/augment';

/** A stream of uniform numbers in [0, 1) from a key: draw j uses the 53 top bits of block j. */
export function uniformStream(k: Key): () => number {
  let j = 0;
  return () => {
    const [hi, lo] = randomBits(k, j++);
    return (hi * 2097152 + (lo >>> 11)) / 9007199254740992;
  };
}

const uniformIn = (u: () => number, lo: number, hi: number) => lo + (hi - lo) * u();
/** Integer in [lo, hi) (torch.randint's half-open range). */
const randint = (u: () => number, lo: number, hi: number) => lo + Math.min(hi - lo - 1, Math.floor(u() * (hi - lo)));
/** Python's round(): halves to even. */
const roundHalfEven = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** A crop box in input pixels: top, left, height, width. */
export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** torchvision RandomResizedCrop.get_params: 10 tries of (scale, log-uniform ratio), then a centre crop clamped to the ratio range. */
export function sampleResizedCrop(
  u: () => number,
  H: number,
  W: number,
  scale: readonly [number, number] = [0.08, 1],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): Box {
  const area = H * W;
  const logLo = Math.log(ratio[0]),
    logHi = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const target = area * uniformIn(u, scale[0], scale[1]);
    const aspect = Math.exp(uniformIn(u, logLo, logHi));
    const w = roundHalfEven(Math.sqrt(target * aspect)),
      h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) return { top: randint(u, 0, H - h + 1), left: randint(u, 0, W - w + 1), height: h, width: w };
  }
  const inRatio = W / H;
  let w: number, h: number;
  if (inRatio < Math.min(...ratio)) {
    w = W;
    h = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = H;
    w = roundHalfEven(h * Math.max(...ratio));
  } else {
    w = W;
    h = H;
  }
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}

type M3 = [number, number, number, number, number, number]; // rows [a b c; d e f] of an affine map
const compose = (p: M3, q: M3): M3 => [
  // p ∘ q
  p[0] * q[0] + p[1] * q[3],
  p[0] * q[1] + p[1] * q[4],
  p[0] * q[2] + p[1] * q[5] + p[2],
  p[3] * q[0] + p[4] * q[3],
  p[3] * q[1] + p[4] * q[4],
  p[3] * q[2] + p[4] * q[5] + p[5],
];

/** The random geometric augmentation of {@link sampleGeometry}: output size, crop mode, flips and rotation. */
export interface GeometryOptions {
  /** Output H×W. */
  size: number | readonly [number, number];
  /**
   * How the output window is chosen in the input: 'resize' (the whole image, default), 'crop'
   * (torchvision RandomCrop: a random size×size window, no scaling; the input must be at least
   * that large), 'centerCrop', or 'resizedCrop' (RandomResizedCrop with `scale`, `ratio`).
   */
  crop?: 'resize' | 'crop' | 'centerCrop' | 'resizedCrop';
  /** Range of the crop's area as a fraction of the image, as RandomResizedCrop. */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio, as RandomResizedCrop. */
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
  const ph = prob('hflip', options.hflip),
    pv = prob('vflip', options.vflip);
  const deg =
    options.degrees === undefined ? null : typeof options.degrees === 'number' ? [-Math.abs(options.degrees), Math.abs(options.degrees)] : [...options.degrees];
  if (deg && (deg.length !== 2 || !deg.every(Number.isFinite) || deg[0] > deg[1]))
    throw new ArgumentError(fn, 'degrees', `is ${JSON.stringify(options.degrees)}`, 'a number d (for [−d, d]) or a [lo, hi] range');
  const scale = options.scale ?? [0.08, 1],
    ratio = options.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new ArgumentError(fn, 'scale', `is ${JSON.stringify(scale)}`, 'a range 0 < lo ≤ hi ≤ 1');
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new ArgumentError(fn, 'ratio', `is ${JSON.stringify(ratio)}`, 'a range 0 < lo ≤ hi');
  if (mode === 'crop' && (H < OH || W < OW))
    throw new ArgumentError(
      fn,
      'size',
      `is ${OH}×${OW} for ${H}×${W} inputs`,
      "a crop no larger than the input for crop: 'crop' (resize first, or use 'resizedCrop')",
    );
  if (!['resize', 'crop', 'centerCrop', 'resizedCrop'].includes(mode))
    throw new ArgumentError(fn, 'crop', `is ${JSON.stringify(mode)}`, "'resize', 'crop', 'centerCrop' or 'resizedCrop'");
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
      const c = Math.cos(a),
        s = Math.sin(a),
        cx = OW / 2,
        cy = OH / 2;
      // counter-clockwise on screen (y down): output offset d comes from input offset [c −s; s c]·d
      m = compose(m, [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy]);
    }
    out.set(m, 6 * i);
  }
  return out;
}

export interface GeometryBatch {
  image: Tensor;
  mask?: Tensor;
}

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
  } finally {
    t.dispose();
  }
}

/** Ranges of brightness, contrast, saturation and hue changes, as torchvision.transforms.ColorJitter. */
export interface ColorJitterOptions {
  /** Factor uniform in [max(0, 1−b), 1+b] (or a [lo, hi] range); 0 or undefined: off. */
  brightness?: number | readonly [number, number];
  /** Contrast factor drawn from [max(0, 1 - c), 1 + c]. */
  contrast?: number | readonly [number, number];
  /** Saturation factor drawn from [max(0, 1 - s), 1 + s]. */
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
    if (!(r[0] >= bound[0] && r[0] <= r[1] && r[1] <= bound[1]))
      throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, `a range within [${bound[0]}, ${bound[1]}]`);
    return r[0] === centre && r[1] === centre ? null : r;
  };
  const ranges = [
    range('brightness', o.brightness, 1, [0, Infinity]),
    range('contrast', o.contrast, 1, [0, Infinity]),
    range('saturation', o.saturation, 1, [0, Infinity]),
    range('hue', o.hue, 0, [-0.5, 0.5]),
  ];
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
    ranges.forEach((r, j) => {
      if (r) p[j] = uniformIn(u, r[0], r[1]);
    });
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
