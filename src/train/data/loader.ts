/**
 * Batches from a Dataset: a key-driven shuffle per epoch (permutation(foldIn(key, epoch), n)),
 * batching with optional dropLast, collation into one host Float32Array per field, then one upload
 * per field per batch. Up to `prefetch` batches are loaded ahead while the consumer works.
 *
 * Loading runs in the calling thread by default (dataset.get, any runtime). Give a `runner` (Node:
 * decodeWorkers(n) from the Node entry) and file-backed datasets are decoded on worker threads: the
 * next batches decode while the GPU trains on the current one. Errors from a worker name the file.
 * A sample that fails to load is skipped with a warning and counted in `loader.skipped` (default),
 * or stops the loader (`onError: 'raise'`).
 *
 *   const data = loader(ds, { batchSize: 32, shuffle: true, key, dropLast: true });
 *   for (let e = 0; e < epochs; e++) for await (const b of data.epoch(e)) { …; b.dispose(); }
 */
import type { Device } from '../../kernels/webgpu/device';
import { getDefaultDevice } from '../../kernels/webgpu/devices';
import { tensor } from '../../tensor/ops/creation';
import { ArgumentError } from '../../base/shape';
import type { Tensor } from '../../tensor/tensor';
import { type Key, checkKey, foldIn, permutation } from '../../base/random';
import type { Dataset, FileTask, HostImage, Sample } from './datasets';

/** Runs file tasks somewhere else (worker threads); see decodeWorkers in src/io/decode-workers.ts. */
export interface TaskRunner {
  run(task: FileTask): Promise<Sample>;
  close(): Promise<void>;
}

/** Options of {@link loader}: batch size, shuffling, prefetching and where files are decoded. */
export interface LoaderOptions {
  /** Samples per batch. */
  batchSize: number;
  /** Shuffle every epoch with `key` (required then); default false (dataset order). */
  shuffle?: boolean;
  /** Random key for shuffling; each epoch folds in its number. */
  key?: Key;
  /** Drop the last batch when it is smaller than batchSize; default false. */
  dropLast?: boolean;
  /** Batches loaded ahead of the one being consumed; default 2. */
  prefetch?: number;
  /** Where file tasks are decoded (worker threads); default: dataset.get in this thread. */
  runner?: TaskRunner;
  /** Where batches are uploaded (default: the default device). */
  device?: Device;
  /**
   * A sample that fails to load (a corrupt or unreadable file): 'skip' (default) leaves it out of its
   * batch (the batch is one smaller), warns once and counts it in `loader.skipped`; later epochs skip
   * it without decoding it again. 'raise' stops with the error, naming the file.
   */
  onError?: 'skip' | 'raise';
  /** Where skip warnings go; default console.warn. */
  warn?: (message: string) => void;
}

/** A sample the loader left out because it failed to load. */
export interface SkippedSample {
  /** Dataset index of the sample. */
  index: number;
  /** The file that failed, when known. */
  file?: string;
  /** Why it failed. */
  error: string;
}

/** A collated batch on the host. */
export interface HostBatch {
  epoch: number;
  index: number;
  /** Dataset indices of the samples, in batch order. */
  indices: Int32Array;
  images: Float32Array;
  imageShape: [number, number, number, number];
  /** Class labels (int32), when the samples have them. */
  labels?: Int32Array;
  masks?: Float32Array;
  maskShape?: [number, number, number, number];
}

/** A batch on the GPU: images [N, C, H, W] float32, labels [N] int32, masks [N, 1, H, W]. */
export interface Batch {
  /** The epoch this batch belongs to. */
  epoch: number;
  /** The batch's index within its epoch. */
  index: number;
  /** Dataset indices of the samples. */
  indices: Int32Array;
  /** Images, float32 [N, C, H, W]. */
  images: Tensor;
  /** Class labels, int32 [N], when the samples have them. */
  labels?: Tensor;
  /** Masks, float32 [N, 1, H, W], when the samples have them. */
  masks?: Tensor;
  /** Disposes the batch's tensors. */
  dispose(): void;
}

/**
 * Batches of a dataset by epoch, as torch.utils.data.DataLoader; random access by (epoch, batch) makes resuming
 * exact.
 */
export interface Loader {
  /** The dataset being loaded. */
  readonly dataset: Dataset;
  /** Batches per epoch. */
  readonly length: number;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Dataset indices in epoch `e`'s order. */
  order(epoch: number): Int32Array;
  /** Dataset indices of batch b of epoch e. */
  batchIndices(epoch: number, b: number): Int32Array;
  /** Loads and collates batch b of epoch e on the host (random access, e.g. to resume mid-epoch). */
  hostBatch(epoch: number, b: number): Promise<HostBatch>;
  /** hostBatch, uploaded. */
  batch(epoch: number, b: number): Promise<Batch>;
  /** The batches of epoch e (from batch `start`), with prefetching: `for await (const b of loader.epoch(e))`. */
  epoch(epoch: number, start?: number): AsyncGenerator<Batch, void, undefined>;
  /** Closes the runner (worker threads), if any. */
  close(): Promise<void>;
  /** Samples left out so far because they failed to load (onError: 'skip'), each once, in the order met. */
  readonly skipped: readonly SkippedSample[];
}

const shapeOf = (im: HostImage) => `${im.channels}×${im.height}×${im.width}`;

function collate(fn: string, samples: Sample[], indices: Int32Array, describe: (i: number) => string, epoch: number, index: number): HostBatch {
  const first = samples[0];
  const [C, H, W] = [first.image.channels, first.image.height, first.image.width];
  const n = C * H * W;
  const images = new Float32Array(samples.length * n);
  const hasLabel = first.label !== undefined,
    hasMask = first.mask !== undefined;
  const labels = hasLabel ? new Int32Array(samples.length) : undefined;
  const mh = first.mask?.height ?? 0,
    mw = first.mask?.width ?? 0;
  const masks = hasMask ? new Float32Array(samples.length * mh * mw) : undefined;
  samples.forEach((s, k) => {
    const im = s.image;
    if (!im || !(im.data instanceof Float32Array))
      throw new Error(`${fn}: sample ${describe(indices[k])} has no image ({ data: Float32Array, channels, height, width })`);
    if (im.channels !== C || im.height !== H || im.width !== W) {
      throw new Error(
        `${fn}: sample ${describe(indices[k])} is ${shapeOf(im)} but sample ${describe(indices[0])} is ${C}×${H}×${W}; samples in a batch must share a size (give the dataset a size option)`,
      );
    }
    if (im.data.length !== n) throw new Error(`${fn}: sample ${describe(indices[k])} has ${im.data.length} values for ${shapeOf(im)}`);
    images.set(im.data, k * n);
    if (hasLabel !== (s.label !== undefined) || hasMask !== (s.mask !== undefined))
      throw new Error(`${fn}: sample ${describe(indices[k])} differs from sample ${describe(indices[0])} in having a label or a mask`);
    if (labels) {
      if (!Number.isInteger(s.label)) throw new Error(`${fn}: sample ${describe(indices[k])} has label ${s.label}; expected an integer class index`);
      labels[k] = s.label!;
    }
    if (masks) {
      const m = s.mask!;
      if (m.channels !== 1 || m.height !== mh || m.width !== mw || m.data.length !== mh * mw)
        throw new Error(`${fn}: mask of sample ${describe(indices[k])} is ${shapeOf(m)}; expected 1×${mh}×${mw}`);
      masks.set(m.data, k * mh * mw);
    }
  });
  const N = samples.length;
  return { epoch, index, indices, images, imageShape: [N, C, H, W], labels, masks, maskShape: masks ? [N, 1, mh, mw] : undefined };
}

/** Uploads a host batch: one write per field. */
export function uploadBatch(hb: HostBatch, device: Device = getDefaultDevice()): Batch {
  const images = tensor(hb.images, { shape: hb.imageShape, device });
  const labels = hb.labels ? tensor(hb.labels, { shape: [hb.labels.length], dtype: 'int32', device }) : undefined;
  const masks = hb.masks ? tensor(hb.masks, { shape: hb.maskShape!, device }) : undefined;
  return {
    epoch: hb.epoch,
    index: hb.index,
    indices: hb.indices,
    images,
    labels,
    masks,
    dispose: () => {
      images.dispose();
      labels?.dispose();
      masks?.dispose();
    },
  };
}

/**
 * Makes a {@link Loader}: collates samples into batches on the host and uploads them, shuffling each epoch with
 * its own key.
 */
export function loader(dataset: Dataset, options: LoaderOptions): Loader {
  const fn = 'loader';
  if (!dataset || !Number.isInteger(dataset.length) || dataset.length < 0 || typeof dataset.get !== 'function')
    throw new ArgumentError(fn, 'dataset', `is ${typeof dataset}`, 'a Dataset { length, get(i) }');
  const o = options ?? ({} as LoaderOptions);
  const B = o.batchSize;
  if (!Number.isInteger(B) || B < 1) throw new ArgumentError(fn, 'batchSize', `is ${B}`, 'a positive integer');
  const prefetch = o.prefetch ?? 2;
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new ArgumentError(fn, 'prefetch', `is ${prefetch}`, 'a positive integer');
  const shuffle = o.shuffle ?? false;
  const key = shuffle ? checkKey(fn, o.key, 'key') : undefined;
  const N = dataset.length;
  const length = o.dropLast ? Math.floor(N / B) : Math.ceil(N / B);
  const runner = o.runner && dataset.task ? o.runner : undefined;
  const onError = o.onError ?? 'skip';
  if (onError !== 'skip' && onError !== 'raise') throw new ArgumentError(fn, 'onError', `is ${JSON.stringify(onError)}`, "'skip' or 'raise'");
  const warn = o.warn ?? ((m: string) => console.warn(m));
  const skipped: SkippedSample[] = [];
  const bad = new Set<number>();
  const describe = (i: number) => {
    const t = dataset.task?.(i);
    return t ? `${i} (${t.image})` : `${i}`;
  };

  const orders = new Map<number, Int32Array>();
  const order = (epoch: number): Int32Array => {
    if (!Number.isInteger(epoch) || epoch < 0) throw new ArgumentError(fn, 'epoch', `is ${epoch}`, 'a non-negative integer');
    let p = orders.get(epoch);
    if (!p) {
      p = key ? permutation(foldIn(key, epoch), N) : Int32Array.from({ length: N }, (_, i) => i);
      if (orders.size > 4) orders.delete(orders.keys().next().value!);
      orders.set(epoch, p);
    }
    return p;
  };
  const batchIndices = (epoch: number, b: number) => {
    if (!Number.isInteger(b) || b < 0 || b >= length) throw new ArgumentError(fn, 'batch', `is ${b}`, `an integer in [0, ${length})`);
    return order(epoch).slice(b * B, Math.min(N, (b + 1) * B));
  };
  const loadOrThrow = async (i: number): Promise<Sample> => {
    if (runner) return runner.run(dataset.task!(i));
    try {
      return await dataset.get(i);
    } catch (e) {
      const err = e as Error;
      const where = dataset.task ? ` (${dataset.task(i).image})` : '';
      if (where && err.message.includes(dataset.task!(i).image)) throw err;
      throw new Error(`${fn}: sample ${i}${where}: ${err.message}`, { cause: e });
    }
  };
  /** A sample, or null when it failed and onError is 'skip'. */
  const load = async (i: number): Promise<Sample | null> => {
    if (bad.has(i)) return null;
    try {
      return await loadOrThrow(i);
    } catch (e) {
      if (onError === 'raise') throw e;
      if (bad.has(i)) return null; // a concurrent load of the same sample already reported it
      bad.add(i);
      const file = dataset.task?.(i).image;
      const error = (e as Error)?.message ?? String(e);
      skipped.push({ index: i, ...(file !== undefined ? { file } : {}), error });
      warn(
        `${fn}: skipping sample ${i}${file !== undefined && !error.includes(file) ? ` (${file})` : ''}: ${error} [${skipped.length} skipped so far; onError: 'raise' stops instead]`,
      );
      return null;
    }
  };
  /** The batch without its failed samples; null when every sample failed. */
  const hostBatchOrNull = async (epoch: number, b: number): Promise<HostBatch | null> => {
    const idx = batchIndices(epoch, b);
    const loaded = await Promise.all(Array.from(idx, load));
    const keep = loaded.map((s, k) => (s ? k : -1)).filter((k) => k >= 0);
    if (keep.length === 0) return null;
    const samples = keep.map((k) => loaded[k]!);
    return collate(fn, samples, keep.length === idx.length ? idx : Int32Array.from(keep, (k) => idx[k]), describe, epoch, b);
  };
  const hostBatch = async (epoch: number, b: number): Promise<HostBatch> => {
    const hb = await hostBatchOrNull(epoch, b);
    if (!hb) throw new Error(`${fn}: every sample of batch ${b} (epoch ${epoch}) failed to load; see loader.skipped`);
    return hb;
  };
  const device = o.device;
  return {
    dataset,
    length,
    batchSize: B,
    order,
    batchIndices,
    hostBatch,
    skipped,
    batch: async (epoch, b) => uploadBatch(await hostBatch(epoch, b), device),
    async *epoch(epoch, start = 0) {
      order(epoch);
      if (!Number.isInteger(start) || start < 0 || start > length) throw new ArgumentError(fn, 'start', `is ${start}`, `an integer in [0, ${length}]`);
      const queue: Promise<HostBatch | null>[] = [];
      let next = start;
      const fill = () => {
        while (next < length && queue.length < prefetch) {
          const p = hostBatchOrNull(epoch, next++);
          p.catch(() => {}); // observed when awaited; silences batches abandoned by an early break
          queue.push(p);
        }
      };
      fill();
      while (queue.length > 0) {
        const hb = await queue.shift()!;
        fill();
        if (hb) yield uploadBatch(hb, device); // a batch whose samples all failed is left out
      }
    },
    close: async () => {
      await runner?.close();
    },
  };
}
