/**
 * Detection-aware augmentation on the GPU, with explicit keys: a random crop (a window of random
 * area and aspect ratio, like SSD's patches), a random horizontal flip and a resize, applied
 * to the images and, consistently, to the boxes of a {@link DetectionBatch}.
 *
 * The window and the flip of sample i come from foldIn(key, i) on the host (a few numbers); the
 * images are resampled once through one 2×3 matrix per sample (`affineResample`, bilinear: crop,
 * flip and resize in one interpolation), and the targets go through one kernel
 * (`detectionTargets`): nothing is read back.
 *
 * Which boxes survive a crop: SSD's rule — a box is kept when its centre lies inside the window —
 * then clipped to the window. The centre rule is the one SSD (Liu et al. 2016) and torchvision's
 * RandomIoUCrop use, so a kept object always shows its middle, and a box that merely grazes the
 * window is dropped instead of surviving as a sliver labelled as the whole object. `minVisible`
 * (default 0) adds a second condition for users who want it: the clipped box must keep at least
 * that fraction of its area. Dropped boxes become padding rows (class −1).
 *
 * SSD also rejects windows whose IoU with every object is below a drawn minimum; that needs the
 * boxes on the host, so windows here are drawn by area and aspect ratio only (nothing is read back),
 * and an image may lose all its objects (its targets are then all padding, which the SSD loss
 * treats as background).
 */
import { ArgumentError, fmtShape } from '../base/shape';
import { type Key, checkKey, foldIn, split } from '../base/random';
import { grid } from '../kernels/webgpu/device';
import { DETECTION_AUGMENT_WG, detectionTargetsKernel, detectionTargetsLayout } from '../kernels/wgsl/detection-augment';
import { affineResample, checkBatch, size2 } from '../tensor/ops/augment';
import { tensor } from '../tensor/ops/creation';
import { defineOp } from '../tensor/ops/define';
import { Tensor } from '../tensor/tensor';
import { type ColorJitterOptions, colorJitter, sampleResizedCrop, uniformStream } from '../train/data/augment';
import { type DetectionTargetsAttrs, refDetectionTargets } from './augment-ref';
import type { DetectionBatch } from './types';
import { requireTensor } from '../tensor/require-tensor';

const detectionTargetsOp = defineOp({
  name: 'detectionTargets',
  inputs: { targets: 'tensor', windows: 'tensor' },
  dtypes: ['float32'],
  shape: ({ targets }) => ({ shape: targets.shape, dtype: 'float32' }),
  forward({ targets, windows }, a: DetectionTargetsAttrs, [y]) {
    const n = targets.shape[0] * targets.shape[1];
    const k = detectionTargetsKernel();
    targets.device.run('detectionTargets', k.key, k.source, [targets.buffer, windows.buffer, y.buffer], grid(n, DETECTION_AUGMENT_WG), {
      layout: detectionTargetsLayout,
      values: { n, G: targets.shape[1], minVisible: a.minVisible },
    });
  },
  reference: ({ targets, windows }, a) => refDetectionTargets(targets, windows, a),
  noGrad: 'data augmentation: runs on input batches, outside any gradient trace',
});

function checkTargets(fn: string, t: unknown): Tensor {
  requireTensor(fn, 'targets', t);
  if (t.ndim !== 3 || t.shape[2] !== 5 || t.dtype !== 'float32')
    throw new ArgumentError(fn, 'targets', `has shape ${fmtShape(t.shape)} (${t.dtype})`, '(B, G, 5) float32 rows [class, x1, y1, x2, y2]');
  return t;
}

const checkMinVisible = (fn: string, v: number | undefined) => {
  const m = v ?? 0;
  if (!(m >= 0 && m <= 1)) throw new ArgumentError(fn, 'minVisible', `is ${v}`, 'a fraction in [0, 1]');
  return m;
};

/**
 * The box side of a crop and flip: targets (B, G, 5) rows `[class, x1, y1, x2, y2]` under each
 * sample's window (B, 5) `[wx1, wy1, wx2, wy2, flip]` (normalised to the input; flip 0 or 1).
 * A row is kept when its class is ≥ 0 and its box's centre lies strictly inside the window (and the
 * box keeps at least `minVisible` of its area inside it); it is clipped to the window, mapped to
 * the window's coordinates and mirrored when flipped. Other rows become `[−1, 0, 0, 0, 0]`.
 */
export function detectionTargets(targets: Tensor, windows: Tensor | Float32Array, options: { minVisible?: number } = {}): Tensor {
  const fn = 'detectionTargets';
  checkTargets(fn, targets);
  const minVisible = checkMinVisible(fn, options.minVisible);
  const B = targets.shape[0];
  if (windows instanceof Float32Array) {
    if (windows.length !== 5 * B) throw new ArgumentError(fn, 'windows', `has ${windows.length} values`, `${5 * B}: [wx1, wy1, wx2, wy2, flip] per sample`);
    const w = tensor(windows, { shape: [B, 5], device: targets.device });
    try {
      return detectionTargetsOp.call1([targets, w], { minVisible });
    } finally {
      w.dispose();
    }
  }
  if (!(windows instanceof Tensor) || windows.ndim !== 2 || windows.shape[0] !== B || windows.shape[1] !== 5 || windows.dtype !== 'float32')
    throw new ArgumentError(
      fn,
      'windows',
      windows instanceof Tensor ? `has shape ${fmtShape(windows.shape)} (${windows.dtype})` : `is ${typeof windows}`,
      `(${B}, 5) float32 rows [wx1, wy1, wx2, wy2, flip]`,
    );
  return detectionTargetsOp.call1([targets, windows], { minVisible });
}

/** Options of {@link augmentDetection} and {@link sampleDetectionWindows}. */
export interface DetectionAugmentOptions {
  /** Output H×W of the images; default the input's size (boxes are normalised, so they do not change with it). */
  size?: number | readonly [number, number];
  /** Probability of a random crop; default 0 (the window is the whole image). */
  crop?: number;
  /**
   * Range of the crop's area as a fraction of the image's; default [0.3, 1]. (SSD draws a side
   * scale in [0.3, 1] instead, so its areas go down to 0.09: give [0.09, 1] for as small crops.)
   */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio (width / height); default [0.5, 2] (SSD's). */
  ratio?: readonly [number, number];
  /** Probability of a horizontal (left–right) flip; default 0. */
  hflip?: number;
  /** Least fraction of a kept box's area that must lie inside the crop, besides its centre; default 0. */
  minVisible?: number;
  /** Colour jitter after the geometry (torchvision's ColorJitter and random grayscale, see `colorJitter`); default none. Boxes are unaffected. */
  color?: ColorJitterOptions;
}

const prob = (fn: string, arg: string, p: number | undefined) => {
  const v = p ?? 0;
  if (!(v >= 0 && v <= 1)) throw new ArgumentError(fn, arg, `is ${p}`, 'a probability in [0, 1]');
  return v;
};

/**
 * Per-sample windows (Float32Array of 5·n: `[wx1, wy1, wx2, wy2, flip]`, normalised) for inputs of
 * H×W pixels. Sample i draws from foldIn(key, i): whether to crop, the crop (torchvision
 * RandomResizedCrop's sampler with `scale` and `ratio`: whole pixels, 10 tries then a centre crop),
 * then whether to flip.
 */
export function sampleDetectionWindows(key: Key, n: number, inSize: readonly [number, number], options: DetectionAugmentOptions = {}): Float32Array {
  const fn = 'sampleDetectionWindows';
  checkKey(fn, key);
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(fn, 'n', `is ${n}`, 'a non-negative integer');
  const [H, W] = size2(fn, 'inSize', inSize);
  const pc = prob(fn, 'crop', options.crop),
    ph = prob(fn, 'hflip', options.hflip);
  const scale = options.scale ?? [0.3, 1],
    ratio = options.ratio ?? [0.5, 2];
  if (!Array.isArray(scale) || !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1))
    throw new ArgumentError(fn, 'scale', `is ${JSON.stringify(options.scale)}`, 'a range 0 < lo ≤ hi ≤ 1');
  if (!Array.isArray(ratio) || !(ratio[0] > 0 && ratio[0] <= ratio[1] && Number.isFinite(ratio[1])))
    throw new ArgumentError(fn, 'ratio', `is ${JSON.stringify(options.ratio)}`, 'a range 0 < lo ≤ hi');
  const out = new Float32Array(5 * n);
  for (let i = 0; i < n; i++) {
    const u = uniformStream(foldIn(key, i));
    let win = [0, 0, 1, 1];
    if (pc > 0 && u() < pc) {
      const b = sampleResizedCrop(u, H, W, scale, ratio);
      win = [b.left / W, b.top / H, (b.left + b.width) / W, (b.top + b.height) / H];
    }
    const flip = ph > 0 && u() < ph ? 1 : 0;
    out.set([...win, flip], 5 * i);
  }
  return out;
}

/**
 * The 2×3 matrices (6·n) that resample images of H×W through the windows into OH×OW: output pixel
 * coordinates → input pixel coordinates, flipped in the output when the window says so.
 */
export function windowsToAffine(windows: Float32Array, inSize: readonly [number, number], outSize: readonly [number, number]): Float32Array {
  const [H, W] = inSize,
    [OH, OW] = outSize;
  const n = windows.length / 5;
  const theta = new Float32Array(6 * n);
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2, flip] = windows.subarray(5 * i, 5 * i + 5);
    const sx = ((x2 - x1) * W) / OW,
      sy = ((y2 - y1) * H) / OH;
    // x_in = x1·W + sx·x_out, or with a flip x1·W + sx·(OW − x_out)
    theta.set(flip > 0.5 ? [-sx, 0, x2 * W, 0, sy, y1 * H] : [sx, 0, x1 * W, 0, sy, y1 * H], 6 * i);
  }
  return theta;
}

/**
 * Applies one random crop / flip per sample (drawn with {@link sampleDetectionWindows}) and a
 * resize to `size` to a detection batch: the images through one bilinear resampling (no
 * antialiasing when shrinking, as F.interpolate's default) and an optional colour jitter, the
 * targets through {@link detectionTargets}. Returns a new batch; the input batch is kept (dispose it yourself).
 *
 * @example
 * ```ts
 * import { init, random } from '@webgrad/core/node';
 * import { syntheticDetectionSample, detectionBatch, augmentDetection } from '@webgrad/core/detection';
 * await init();
 * const samples = [0, 1, 2, 3].map((i) => syntheticDetectionSample(i, { size: 128 }));
 * const batch = detectionBatch(samples, { maxObjects: 4 }); // images (4, 3, 128, 128), targets (4, 4, 5)
 * const aug = augmentDetection(batch, random.key(0), { size: 96, crop: 0.5, hflip: 0.5, color: { brightness: 0.2 } });
 * console.log(aug.images.shape, aug.targets.shape); // [ 4, 3, 96, 96 ] [ 4, 4, 5 ]
 * for (const t of [batch.images, batch.targets, aug.images, aug.targets]) t.dispose();
 * ```
 */
export function augmentDetection(batch: DetectionBatch, key: Key, options: DetectionAugmentOptions = {}): DetectionBatch {
  const fn = 'augmentDetection';
  const images = checkBatch(fn, 'images', batch?.images, 3);
  const targets = checkTargets(fn, batch.targets);
  const [B, , H, W] = images.shape;
  if (targets.shape[0] !== B) throw new ArgumentError(fn, 'targets', `has shape ${fmtShape(targets.shape)}`, `${B} rows of targets, one per image`);
  const minVisible = checkMinVisible(fn, options.minVisible);
  const outSize = options.size === undefined ? ([H, W] as const) : size2(fn, 'size', options.size);
  const windows = sampleDetectionWindows(key, B, [H, W], options);
  let out = affineResample(images, windowsToAffine(windows, [H, W], outSize), { size: outSize, mode: 'bilinear' });
  try {
    if (options.color) {
      // its own key: split's stream is separate from the per-sample foldIn(key, i) draws of the geometry
      const resampled = out;
      try {
        out = colorJitter(resampled, split(key)[1], options.color);
      } finally {
        resampled.dispose();
      }
    }
    return { images: out, targets: detectionTargets(targets, windows, { minVisible }) };
  } catch (e) {
    if (!out.isDisposed) out.dispose();
    throw e;
  }
}
