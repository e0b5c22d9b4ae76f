/**
 * Batches from a DetectionDataset, as the image loader (src/train/data/loader.ts) does for image
 * datasets: a key-driven shuffle per epoch (permutation(foldIn(key, epoch), n)), batches of
 * `batchSize` (the last one smaller unless dropLast), each collated with `detectionBatch` and
 * uploaded. Random access by (epoch, batch) lets a trainer resume mid-epoch.
 *
 *   const data = detectionLoader(ds, { batchSize: 32, shuffle: true, key, dropLast: true, maxObjects: 4 });
 *   for await (const b of data.epoch(e)) { …; b.images.dispose(); b.targets.dispose(); }
 */
import { ArgumentError } from '../base/shape';
import { type Key, checkKey, foldIn, permutation } from '../base/random';
import type { Device } from '../kernels/webgpu/device';
import { type DetectionDataset, detectionBatch } from './batch';
import type { DetectionBatch } from './types';

/** Options of {@link detectionLoader}. */
export interface DetectionLoaderOptions {
  /** Samples per batch. */
  batchSize: number;
  /** Shuffle every epoch with `key` (required then); default false (dataset order). */
  shuffle?: boolean;
  /** Random key for shuffling; each epoch folds in its number. */
  key?: Key;
  /** Drop the last batch when it is smaller than batchSize; default false. */
  dropLast?: boolean;
  /** Rows of targets per image (G); default the most objects in the batch. Fix it to keep (B, G, 5) the same every step. */
  maxObjects?: number;
  /** Where batches are uploaded (default: the default device). */
  device?: Device;
}

/** A detection batch on the GPU with the dataset indices of its samples. */
export interface IndexedDetectionBatch extends DetectionBatch {
  /** Dataset indices of the samples, in batch order. */
  indices: Int32Array;
}

/** Batches of a detection dataset, by epoch. */
export interface DetectionLoader {
  /** Batches per epoch. */
  readonly numBatches: number;
  /** Dataset indices of batch b of epoch e. */
  batchIndices(epoch: number, b: number): Int32Array;
  /** Loads, collates and uploads batch b of epoch e. */
  batch(epoch: number, b: number): Promise<IndexedDetectionBatch>;
  /** The batches of epoch e, from batch `start` (default 0). The caller disposes each batch's tensors. */
  epoch(epoch: number, start?: number): AsyncGenerator<IndexedDetectionBatch, void, undefined>;
}

/** Makes a {@link DetectionLoader} over `dataset`. */
export function detectionLoader(dataset: DetectionDataset, options: DetectionLoaderOptions): DetectionLoader {
  const fn = 'detectionLoader';
  if (!dataset || !Number.isInteger(dataset.length) || dataset.length < 0 || typeof dataset.get !== 'function')
    throw new ArgumentError(fn, 'dataset', `is ${typeof dataset}`, 'a DetectionDataset { length, get(i) }');
  const B = options?.batchSize;
  if (!Number.isInteger(B) || B < 1) throw new ArgumentError(fn, 'batchSize', `is ${B}`, 'a positive integer');
  const shuffle = options.shuffle ?? false;
  const key = shuffle ? checkKey(fn, options.key, 'key') : undefined;
  const N = dataset.length;
  const numBatches = options.dropLast ? Math.floor(N / B) : Math.ceil(N / B);
  const order = (epoch: number) => (key ? permutation(foldIn(key, epoch), N) : Int32Array.from({ length: N }, (_, i) => i));
  const checkAt = (epoch: number, b: number) => {
    if (!Number.isInteger(epoch) || epoch < 0) throw new ArgumentError(fn, 'epoch', `is ${epoch}`, 'a non-negative integer');
    if (!Number.isInteger(b) || b < 0 || b >= numBatches) throw new ArgumentError(fn, 'batch', `is ${b}`, `an integer in [0, ${numBatches})`);
  };
  const indicesOf = (perm: Int32Array, b: number) => perm.slice(b * B, Math.min(N, (b + 1) * B));
  const load = async (indices: Int32Array): Promise<IndexedDetectionBatch> => {
    const samples = await Promise.all(Array.from(indices, (i) => dataset.get(i)));
    return { ...detectionBatch(samples, { maxObjects: options.maxObjects, device: options.device }), indices };
  };
  return {
    numBatches,
    batchIndices(epoch, b) {
      checkAt(epoch, b);
      return indicesOf(order(epoch), b);
    },
    batch(epoch, b) {
      checkAt(epoch, b);
      return load(indicesOf(order(epoch), b));
    },
    async *epoch(epoch, start = 0) {
      if (numBatches === 0) return;
      checkAt(epoch, start);
      const perm = order(epoch);
      for (let b = start; b < numBatches; b++) yield await load(indicesOf(perm, b));
    },
  };
}
