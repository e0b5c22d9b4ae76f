/**
 * Detection datasets and batching: `{ length, get(i) }` over host DetectionSamples (as the image
 * datasets of src/train/data/datasets.ts, but each sample holds any number of boxes), and
 * `detectionBatch`, which collates samples into d2l's padded GPU layout in one upload per field.
 */
import { ArgumentError } from '../base/shape';
import type { Device } from '../kernels/webgpu/device';
import { tensor } from '../tensor/ops/creation';
import type { DetectionBatch, DetectionSample } from './types';

/** Random access to detection samples by index, as torch.utils.data.Dataset. */
export interface DetectionDataset {
  /** Number of samples. */
  readonly length: number;
  /** Sample `i` (0 ≤ i < length), synchronously or as a promise. */
  get(i: number): DetectionSample | Promise<DetectionSample>;
  /** The class names, indexed by class id, when the dataset knows them. */
  readonly classNames?: readonly string[];
}

/**
 * Checks one sample's fields agree (image 3·H·W values, four box numbers per label, integer labels
 * ≥ 0, finite boxes with x1 ≤ x2 and y1 ≤ y2) and returns its object count. `where` names it in errors.
 */
export function checkDetectionSample(fn: string, where: string, s: DetectionSample): number {
  if (!s || typeof s !== 'object')
    throw new ArgumentError(fn, where, `is ${s === null ? 'null' : typeof s}`, 'a DetectionSample { image, height, width, boxes, labels }');
  const { image, height, width, boxes, labels } = s;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1)
    throw new ArgumentError(fn, `${where}.height/width`, `are ${height}×${width}`, 'positive integers');
  if (!(image instanceof Float32Array) || image.length !== 3 * height * width)
    throw new ArgumentError(
      fn,
      `${where}.image`,
      image instanceof Float32Array ? `has ${image.length} values` : `is ${typeof image}`,
      `a Float32Array of 3·${height}·${width} = ${3 * height * width}`,
    );
  if (!(labels instanceof Int32Array)) throw new ArgumentError(fn, `${where}.labels`, `is ${typeof labels}`, 'an Int32Array');
  if (!(boxes instanceof Float32Array) || boxes.length !== 4 * labels.length)
    throw new ArgumentError(
      fn,
      `${where}.boxes`,
      boxes instanceof Float32Array ? `has ${boxes.length} values` : `is ${typeof boxes}`,
      `a Float32Array of 4 per label (${4 * labels.length})`,
    );
  for (let k = 0; k < labels.length; k++) {
    if (labels[k] < 0) throw new ArgumentError(fn, `${where}.labels[${k}]`, `is ${labels[k]}`, 'a class id ≥ 0');
    const [x1, y1, x2, y2] = boxes.subarray(4 * k, 4 * k + 4);
    if (!(Number.isFinite(x1) && Number.isFinite(y1) && Number.isFinite(x2) && Number.isFinite(y2) && x1 <= x2 && y1 <= y2))
      throw new ArgumentError(fn, `${where}.boxes[${k}]`, `is [${x1}, ${y1}, ${x2}, ${y2}]`, 'finite corners with x1 ≤ x2 and y1 ≤ y2');
  }
  return labels.length;
}

/** Options of {@link detectionBatch}. */
export interface DetectionBatchOptions {
  /** G, the rows of targets per image; default the most objects any sample has (at least 1). A sample with more is an error. */
  maxObjects?: number;
  /** Where the tensors go; default the default device. */
  device?: Device;
}

/**
 * Collates samples of one size into a {@link DetectionBatch}: images (B, 3, H, W) and targets
 * (B, G, 5) rows `[class, x1, y1, x2, y2]` in each sample's order, padded with rows
 * `[−1, 0, 0, 0, 0]` up to G. Boxes are copied as they are (normalised corners).
 */
export function detectionBatch(samples: readonly DetectionSample[], options: DetectionBatchOptions = {}): DetectionBatch {
  const fn = 'detectionBatch';
  if (!Array.isArray(samples) || samples.length === 0)
    throw new ArgumentError(fn, 'samples', `is ${Array.isArray(samples) ? 'empty' : typeof samples}`, 'a non-empty array of DetectionSample');
  const counts = samples.map((s, i) => checkDetectionSample(fn, `samples[${i}]`, s));
  const { height: H, width: W } = samples[0];
  samples.forEach((s, i) => {
    if (s.height !== H || s.width !== W)
      throw new ArgumentError(fn, `samples[${i}]`, `is ${s.height}×${s.width}`, `the size of samples[0], ${H}×${W} (resize first)`);
  });
  const most = Math.max(...counts);
  const G = options.maxObjects ?? Math.max(1, most);
  if (!Number.isInteger(G) || G < 1) throw new ArgumentError(fn, 'maxObjects', `is ${options.maxObjects}`, 'a positive integer');
  if (most > G) throw new ArgumentError(fn, 'maxObjects', `is ${G} but samples[${counts.indexOf(most)}] has ${most} objects`, `at least ${most}`);
  const B = samples.length,
    n = 3 * H * W;
  const images = new Float32Array(B * n);
  const targets = new Float32Array(B * G * 5);
  samples.forEach((s, b) => {
    images.set(s.image, b * n);
    for (let g = 0; g < G; g++) {
      const row = (b * G + g) * 5;
      if (g < counts[b]) {
        targets[row] = s.labels[g];
        targets.set(s.boxes.subarray(4 * g, 4 * g + 4), row + 1);
      } else targets[row] = -1;
    }
  });
  const device = options.device;
  const img = tensor(images, { shape: [B, 3, H, W], device });
  try {
    return { images: img, targets: tensor(targets, { shape: [B, G, 5], device }) };
  } catch (e) {
    img.dispose();
    throw e;
  }
}
