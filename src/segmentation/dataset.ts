/**
 * Segmentation samples, batching and the in-memory synthetic street-scene set. A sample is the library's
 * `Sample` (so the generic `loader` batches it too) whose `mask` holds train ids (0..18, 255 = ignore) as
 * exact float values; `segmentationBatch` collates samples into the layout the loss and metrics take:
 * images (B, 3, H, W) float32 in [0, 1] and masks (B, H, W) int32.
 */
import { ArgumentError } from '../base/shape';
import type { Device } from '../kernels/webgpu/device';
import { tensor } from '../tensor/ops/creation';
import type { Tensor } from '../tensor/tensor';
import type { Dataset, HostImage, Sample } from '../train/data/datasets';
import { encodeTarget } from './cityscapes-labels';
import { syntheticStreetScene } from './synthetic';

/** A segmentation sample: an RGB image and its mask of train ids (as exact floats: 0..18, 255 = ignore). */
export interface SegmentationSample extends Sample {
  /** The image, 3 channels, values in [0, 1]. */
  image: HostImage;
  /** One channel of train ids, same height and width as the image. */
  mask: HostImage;
}

/** A segmentation batch on the GPU. */
export interface SegmentationBatch {
  /** Images (B, 3, H, W) float32 in [0, 1]. */
  images: Tensor;
  /** Masks (B, H, W) int32 train ids, 255 = ignore. */
  masks: Tensor;
}

/**
 * A sample from interleaved RGB bytes (H·W·3) and train ids (H·W, e.g. `encodeTarget(labelIds)`):
 * the image becomes float CHW in [0, 1], the ids float values.
 */
export function segmentationSample(rgb: Uint8Array, trainIds: Uint8Array, height: number, width: number): SegmentationSample {
  const fn = 'segmentationSample';
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1)
    throw new ArgumentError(fn, 'height/width', `are ${height}×${width}`, 'positive integers');
  const n = height * width;
  if (!(rgb instanceof Uint8Array) || rgb.length !== 3 * n)
    throw new ArgumentError(fn, 'rgb', rgb instanceof Uint8Array ? `has ${rgb.length} bytes` : `is ${typeof rgb}`, `a Uint8Array of H·W·3 = ${3 * n}`);
  if (!(trainIds instanceof Uint8Array) || trainIds.length !== n)
    throw new ArgumentError(
      fn,
      'trainIds',
      trainIds instanceof Uint8Array ? `has ${trainIds.length} bytes` : `is ${typeof trainIds}`,
      `a Uint8Array of H·W = ${n}`,
    );
  const data = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    data[i] = rgb[3 * i] / 255;
    data[n + i] = rgb[3 * i + 1] / 255;
    data[2 * n + i] = rgb[3 * i + 2] / 255;
  }
  return { image: { data, channels: 3, height, width }, mask: { data: Float32Array.from(trainIds), channels: 1, height, width } };
}

/** Options of {@link segmentationBatch}. */
export interface SegmentationBatchOptions {
  /** Where the tensors go; default the default device. */
  device?: Device;
}

/**
 * Collates samples of one size (each with an RGB `image` and a one-channel `mask` of train ids, e.g.
 * {@link SegmentationSample} or a Cityscapes sample with targetType 'semantic') into images (B, 3, H, W) float32 and masks (B, H, W) int32, one upload
 * each. Every mask value must be an integer in 0..255 (train ids, 255 = ignore): anything else is an
 * error naming the sample, so label ids or a resized (interpolated) mask never reach the loss silently.
 */
export function segmentationBatch(samples: readonly Sample[], options: SegmentationBatchOptions = {}): SegmentationBatch {
  const fn = 'segmentationBatch';
  if (!Array.isArray(samples) || samples.length === 0)
    throw new ArgumentError(fn, 'samples', `is ${Array.isArray(samples) ? 'empty' : typeof samples}`, 'a non-empty array of { image, mask }');
  const first = samples[0]?.image;
  if (first?.channels !== 3) throw new ArgumentError(fn, 'samples[0].image', `is ${first ? `${first.channels}-channel` : 'missing'}`, 'an RGB HostImage');
  const H = first.height,
    W = first.width,
    n = H * W;
  const images = new Float32Array(samples.length * 3 * n);
  const masks = new Int32Array(samples.length * n);
  samples.forEach((s, b) => {
    const where = `samples[${b}]`;
    const im = s?.image,
      m = s?.mask;
    if (im?.channels !== 3 || im.height !== H || im.width !== W || !(im.data instanceof Float32Array) || im.data.length !== 3 * n)
      throw new ArgumentError(
        fn,
        `${where}.image`,
        im ? `is ${im.channels}×${im.height}×${im.width}` : 'missing',
        `3×${H}×${W} like samples[0] (Float32Array)`,
      );
    if (m?.channels !== 1 || m.height !== H || m.width !== W || !(m.data instanceof Float32Array) || m.data.length !== n)
      throw new ArgumentError(fn, `${where}.mask`, m ? `is ${m.channels}×${m.height}×${m.width}` : 'missing', `1×${H}×${W} train ids (Float32Array)`);
    images.set(im.data, b * 3 * n);
    const off = b * n;
    for (let i = 0; i < n; i++) {
      const v = m.data[i];
      if (!(v >= 0 && v <= 255 && v === Math.floor(v)))
        throw new ArgumentError(fn, `${where}.mask`, `holds ${v} at pixel ${i}`, 'train ids: integers in 0..255 (255 = ignore)');
      masks[off + i] = v;
    }
  });
  const device = options.device;
  const img = tensor(images, { shape: [samples.length, 3, H, W], device });
  try {
    return { images: img, masks: tensor(masks, { shape: [samples.length, H, W], dtype: 'int32', device }) };
  } catch (e) {
    img.dispose();
    throw e;
  }
}

/** Options of {@link syntheticSegmentationDataset}. */
export interface SyntheticSegmentationOptions {
  /** Number of scenes. */
  length: number;
  /** [height, width]; default [256, 512]. */
  size?: readonly [number, number];
  /** The set's seed; default 0. */
  seed?: number;
  /** Index of the first scene (e.g. a validation set after the training scenes of the same seed); default 0. */
  offset?: number;
}

/** The in-memory synthetic set: a Dataset whose `get` is synchronous. */
export interface SyntheticSegmentationDataset extends Dataset<SegmentationSample> {
  /** Scene `offset + i`, generated now. */
  get(i: number): SegmentationSample;
}

/**
 * The synthetic street scenes as an in-memory dataset (no files): sample i is
 * `syntheticStreetScene(offset + i, { size, seed })` with its labels encoded to train ids. Generated on
 * demand, a few milliseconds each; the same index always gives the same sample.
 */
export function syntheticSegmentationDataset(options: SyntheticSegmentationOptions): SyntheticSegmentationDataset {
  const fn = 'syntheticSegmentationDataset';
  const { length } = options ?? ({} as SyntheticSegmentationOptions);
  if (!Number.isInteger(length) || length < 0) throw new ArgumentError(fn, 'length', `is ${length}`, 'a non-negative integer');
  const offset = options.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw new ArgumentError(fn, 'offset', `is ${options.offset}`, 'a non-negative integer');
  const size = options.size ?? [256, 512],
    seed = options.seed ?? 0;
  syntheticStreetScene(0, { size: [16, 16], seed }); // checks size and seed now rather than at the first get()
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 16 && d <= 4096))
    throw new ArgumentError(fn, 'size', `is ${JSON.stringify(options.size)}`, 'an [H, W] pair of integers in [16, 4096]');
  return {
    length,
    get(i: number): SegmentationSample {
      if (!Number.isInteger(i) || i < 0 || i >= length) throw new ArgumentError(fn, 'index', `is ${i}`, `an integer in [0, ${length})`);
      const s = syntheticStreetScene(offset + i, { size, seed });
      return segmentationSample(s.rgb, encodeTarget(s.labelIds), s.height, s.width);
    },
  };
}
