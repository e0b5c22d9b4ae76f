/**
 * Joint image + mask augmentation for semantic segmentation on the GPU, with explicit keys: a random
 * scale (DeepLabV3+'s ExtRandomScale), a random crop padded where the scaled image is smaller (pad_if_needed:
 * images take `fill`, masks the ignore index 255), and a random horizontal flip, then optionally a colour
 * jitter of the images. The same geometry goes to both: images are resampled bilinearly (pixel centres,
 * align_corners=False, no antialiasing) and masks by nearest neighbour (torch's 'nearest-exact' rule),
 * so a mask value only ever comes from the input mask or is 255.
 *
 * Per sample the geometry is five integers drawn on the host from foldIn(key, i) (`sampleSegmentationCrops`);
 * scale, crop and flip compose into one 2×3 matrix, so each tensor is resampled once (`affineResample`)
 * and nothing is read back.
 */
import { type Key, checkKey, foldIn, split } from '../base/random';
import { ArgumentError, fmtShape } from '../base/shape';
import { affineResample, checkBatch, size2 } from '../tensor/ops/augment';
import { tensor } from '../tensor/ops/creation';
import { cast } from '../tensor/ops/elementwise';
import { reshape } from '../tensor/ops/shape-ops';
import { requireTensor } from '../tensor/require-tensor';
import { tidy } from '../tensor/scope';
import type { Tensor } from '../tensor/tensor';
import { type ColorJitterOptions, colorJitter, uniformStream } from '../train/data/augment';
import { IGNORE_INDEX } from './cityscapes-labels';
import type { SegmentationBatch } from './dataset';

/** Options of {@link augmentSegmentation} and {@link sampleSegmentationCrops}. */
export interface SegmentationAugmentOptions {
  /** Output (crop) size, a side or [H, W]; default the input's size. */
  size?: number | readonly [number, number];
  /** Range of the random scale factor applied before the crop (both sides); default [1, 1] (no scaling). DeepLabV3+ uses [0.5, 2]. */
  scale?: readonly [number, number];
  /** Probability of a horizontal (left–right) flip; default 0. */
  hflip?: number;
  /** Colour jitter of the images after the geometry (torchvision's ColorJitter, see `colorJitter`); default none. */
  color?: ColorJitterOptions;
  /** Image value where the crop pads past the scaled image; default 0. */
  fill?: number;
  /** Mask value where the crop pads past the scaled image; default 255 (the ignore index). */
  ignoreIndex?: number;
}

/** An integer uniform in [lo, hi] (both included). */
const randint = (u: () => number, lo: number, hi: number) => lo + Math.min(hi - lo, Math.floor(u() * (hi - lo + 1)));

/**
 * Per-sample geometry (Int32Array of 5·n): `[scaledH, scaledW, top, left, flip]` for inputs of H×W and an
 * output of `size`. Sample i draws from foldIn(key, i): the scale s uniform in `scale` (scaled sides
 * round(H·s), round(W·s), at least 1), then the crop's top-left corner in the scaled image, uniform over
 * the whole pixels that keep the crop inside it, or, on a side where the scaled image is smaller than the
 * crop, uniform over the placements of the image inside the crop (negative offsets: padding before), then
 * the flip (1 with probability `hflip`).
 */
export function sampleSegmentationCrops(key: Key, n: number, inSize: readonly [number, number], options: SegmentationAugmentOptions = {}): Int32Array {
  const fn = 'sampleSegmentationCrops';
  checkKey(fn, key);
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(fn, 'n', `is ${n}`, 'a non-negative integer');
  const [H, W] = size2(fn, 'inSize', inSize);
  const [OH, OW] = options.size === undefined ? [H, W] : size2(fn, 'size', options.size);
  const scale = options.scale ?? [1, 1];
  if (!Array.isArray(scale) || scale.length !== 2 || !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 16))
    throw new ArgumentError(fn, 'scale', `is ${JSON.stringify(options.scale)}`, 'a range 0 < lo ≤ hi ≤ 16');
  const hflip = options.hflip ?? 0;
  if (!(hflip >= 0 && hflip <= 1)) throw new ArgumentError(fn, 'hflip', `is ${options.hflip}`, 'a probability in [0, 1]');
  const out = new Int32Array(5 * n);
  for (let i = 0; i < n; i++) {
    const u = uniformStream(foldIn(key, i));
    const s = scale[0] === scale[1] ? scale[0] : scale[0] + (scale[1] - scale[0]) * u();
    const sh = Math.max(1, Math.round(H * s)),
      sw = Math.max(1, Math.round(W * s));
    const top = sh >= OH ? randint(u, 0, sh - OH) : randint(u, sh - OH, 0);
    const left = sw >= OW ? randint(u, 0, sw - OW) : randint(u, sw - OW, 0);
    const flip = hflip > 0 && u() < hflip ? 1 : 0;
    out.set([sh, sw, top, left, flip], 5 * i);
  }
  return out;
}

/**
 * The 2×3 matrices (Float32Array of 6·n) that map output pixel coordinates to input pixel coordinates
 * for crops `[scaledH, scaledW, top, left, flip]` of H×W inputs into OH×OW outputs: output x (flipped:
 * OW − x) plus `left` is a point of the scaled image, which divided by its scale is a point of the input.
 */
export function segmentationCropsToAffine(crops: Int32Array, inSize: readonly [number, number], outSize: readonly [number, number]): Float32Array {
  const [H, W] = inSize,
    [, OW] = outSize;
  const n = crops.length / 5;
  const theta = new Float32Array(6 * n);
  for (let i = 0; i < n; i++) {
    const [sh, sw, top, left, flip] = crops.subarray(5 * i, 5 * i + 5);
    const kx = W / sw,
      ky = H / sh;
    theta.set(flip ? [-kx, 0, (left + OW) * kx, 0, ky, top * ky] : [kx, 0, left * kx, 0, ky, top * ky], 6 * i);
  }
  return theta;
}

function checkMasks(fn: string, masks: unknown, images: Tensor): Tensor {
  requireTensor(fn, 'masks', masks, 'an int32 Tensor (B, H, W) of train ids');
  const [B, , H, W] = images.shape;
  if (masks.dtype !== 'int32' || masks.ndim !== 3 || masks.shape[0] !== B || masks.shape[1] !== H || masks.shape[2] !== W)
    throw new ArgumentError(fn, 'masks', `has shape ${fmtShape(masks.shape)} (${masks.dtype})`, `int32 (${B}, ${H}, ${W}), the images' B, H and W`);
  return masks;
}

/**
 * Applies explicit crops (`[scaledH, scaledW, top, left, flip]` per sample, see
 * {@link sampleSegmentationCrops}) to a batch: images bilinear (padding `fill`), masks nearest
 * (padding `ignoreIndex`). `color` is ignored here (it needs a key). Returns a new batch; the input is kept.
 */
export function augmentSegmentationWith(
  batch: SegmentationBatch,
  crops: Int32Array,
  options: Pick<SegmentationAugmentOptions, 'size' | 'fill' | 'ignoreIndex'> = {},
): SegmentationBatch {
  const fn = 'augmentSegmentation';
  const images = checkBatch(fn, 'images', batch?.images, 3);
  const masks = checkMasks(fn, batch.masks, images);
  const [B, , H, W] = images.shape;
  if (!(crops instanceof Int32Array) || crops.length !== 5 * B)
    throw new ArgumentError(fn, 'crops', crops instanceof Int32Array ? `has ${crops.length} values` : `is ${typeof crops}`, `an Int32Array of 5·${B}`);
  const outSize = options.size === undefined ? ([H, W] as [number, number]) : size2(fn, 'size', options.size);
  const fill = options.fill ?? 0,
    ignore = options.ignoreIndex ?? IGNORE_INDEX;
  if (!Number.isFinite(fill)) throw new ArgumentError(fn, 'fill', `is ${options.fill}`, 'a finite number');
  if (!Number.isInteger(ignore) || Math.abs(ignore) > 2 ** 24)
    throw new ArgumentError(fn, 'ignoreIndex', `is ${options.ignoreIndex}`, 'an integer (default 255)');
  const [OH, OW] = outSize;
  const theta = tensor(segmentationCropsToAffine(crops, [H, W], outSize), { shape: [B, 6], device: images.device });
  try {
    const outImages = affineResample(images, theta, { size: outSize, mode: 'bilinear', fill });
    try {
      // masks travel as float32 (exact for integers below 2^24) through the same nearest-neighbour resampling
      const outMasks = tidy(() =>
        reshape(cast(affineResample(cast(reshape(masks, [B, 1, H, W]), 'float32'), theta, { size: outSize, mode: 'nearest', fill: ignore }), 'int32'), [
          B,
          OH,
          OW,
        ]),
      );
      return { images: outImages, masks: outMasks };
    } catch (e) {
      outImages.dispose();
      throw e;
    }
  } finally {
    theta.dispose();
  }
}

/**
 * Random scale, crop (padded with `fill` / 255) and horizontal flip of a segmentation batch, the same for
 * its images and masks, then an optional colour jitter of the images. Sample i's geometry comes from
 * foldIn(key, i); the jitter from split(key)[1]. Returns a new batch; the input batch is kept (dispose it yourself).
 *
 * @example
 * ```ts
 * import { init, random } from '@webgrad/core/node';
 * import { syntheticSegmentationDataset, segmentationBatch, augmentSegmentation } from '@webgrad/core/segmentation';
 * await init();
 * const ds = syntheticSegmentationDataset({ length: 4, size: [128, 256] });
 * const batch = segmentationBatch([0, 1, 2, 3].map((i) => ds.get(i))); // images (4, 3, 128, 256), masks (4, 128, 256)
 * const aug = augmentSegmentation(batch, random.key(0), { size: [96, 96], scale: [0.5, 2], hflip: 0.5, color: { brightness: 0.3 } });
 * console.log(aug.images.shape, aug.masks.shape); // [ 4, 3, 96, 96 ] [ 4, 96, 96 ]
 * for (const t of [batch.images, batch.masks, aug.images, aug.masks]) t.dispose();
 * ```
 */
export function augmentSegmentation(batch: SegmentationBatch, key: Key, options: SegmentationAugmentOptions = {}): SegmentationBatch {
  const fn = 'augmentSegmentation';
  checkKey(fn, key);
  const images = checkBatch(fn, 'images', batch?.images, 3);
  checkMasks(fn, batch.masks, images);
  const [B, , H, W] = images.shape;
  const crops = sampleSegmentationCrops(key, B, [H, W], options);
  const out = augmentSegmentationWith(batch, crops, options);
  if (!options.color) return out;
  try {
    // its own key: split's stream is separate from the per-sample foldIn(key, i) draws of the geometry
    const jittered = colorJitter(out.images, split(key)[1], options.color);
    out.images.dispose();
    return { images: jittered, masks: out.masks };
  } catch (e) {
    out.images.dispose();
    out.masks.dispose();
    throw e;
  }
}
