/**
 * Datasets: `{ length, get(i) }` over host samples (float CHW images in [0, 1], an optional class
 * label, an optional mask). Runtime-neutral; the file-backed datasets (imageFolder, sodDataset)
 * live in src/io/ and add `task(i)`, a plain-data description of how to load sample i, so a loader
 * can decode it on a worker thread (src/io/decode-workers.ts) instead of calling get(i).
 */
import { ArgumentError } from '../../base/shape';

/** A float image on the host: `data` is [channels, height, width], row-major. */
export interface HostImage {
  /** Values in [0, 1], channel-major: [channels, height, width]. */
  data: Float32Array;
  /** Number of channels (1 or 3). */
  channels: number;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
}

/** One sample on the host: an image, and optionally a label and a mask. */
export interface Sample {
  /** The image. */
  image: HostImage;
  /** Class index, for classification. */
  label?: number;
  /** One-channel mask, for segmentation. */
  mask?: HostImage;
}

/** How to load one sample from files: plain data, so it can be posted to a worker. */
export interface FileTask {
  image: string;
  mask?: string;
  label?: number;
  /** Resize (bilinear, on the host) to [H, W] after decoding; undefined keeps the file's size. */
  size?: [number, number];
  /** 3 for RGB (grey files are expanded), 1 for luma. */
  channels: 1 | 3;
}

/** Random access to samples by index, as torch.utils.data.Dataset. */
export interface Dataset<S extends Sample = Sample> {
  /** Number of samples. */
  readonly length: number;
  /** Sample `i` (0 ≤ i < length), synchronously or as a promise. */
  get(i: number): S | Promise<S>;
  /** File-backed datasets: what to decode for sample i (lets a loader use worker threads). */
  task?(i: number): FileTask;
}

export function checkIndex(fn: string, i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) throw new ArgumentError(fn, 'index', `is ${i}`, `an integer in [0, ${length})`);
}

/** [N, C, H, W] host data: a flat Float32Array with its shape. */
export interface HostBatchArray {
  data: Float32Array;
  shape: readonly [number, number, number, number];
}

const slices = (fn: string, arg: string, a: HostBatchArray | readonly HostImage[]): HostImage[] => {
  if (Array.isArray(a)) return a as HostImage[];
  const b = a as HostBatchArray;
  if (!b || !(b.data instanceof Float32Array) || !Array.isArray(b.shape) || b.shape.length !== 4)
    throw new ArgumentError(fn, arg, `is ${typeof a}`, '{ data: Float32Array, shape: [N, C, H, W] } or an array of { data, channels, height, width }');
  const [N, C, H, W] = b.shape;
  if (b.data.length !== N * C * H * W) throw new ArgumentError(fn, arg, `has ${b.data.length} values for shape [${b.shape.join(', ')}]`, `${N * C * H * W}`);
  const n = C * H * W;
  return Array.from({ length: N }, (_, i) => ({ data: b.data.subarray(i * n, (i + 1) * n), channels: C, height: H, width: W }));
};

/** A dataset over arrays in memory: images (and optional labels, masks) indexed together. */
export function arrayDataset(
  images: HostBatchArray | readonly HostImage[],
  labels?: ArrayLike<number>,
  masks?: HostBatchArray | readonly HostImage[],
): Dataset {
  const fn = 'arrayDataset';
  const ims = slices(fn, 'images', images);
  const mks = masks === undefined ? undefined : slices(fn, 'masks', masks);
  if (labels !== undefined && labels.length !== ims.length)
    throw new ArgumentError(fn, 'labels', `has ${labels.length} entries`, `${ims.length}, one per image`);
  if (mks && mks.length !== ims.length) throw new ArgumentError(fn, 'masks', `has ${mks.length} entries`, `${ims.length}, one per image`);
  return {
    length: ims.length,
    get(i) {
      checkIndex(fn, i, ims.length);
      const s: Sample = { image: ims[i] };
      if (labels !== undefined) s.label = labels[i];
      if (mks) s.mask = mks[i];
      return s;
    },
  };
}

/** The samples at `indices` of `ds` (e.g. a train/validation split); keeps `task` for workers. */
export function subset<S extends Sample>(ds: Dataset<S>, indices: ArrayLike<number>): Dataset<S> {
  const idx = Int32Array.from(indices as ArrayLike<number>);
  idx.forEach((j) => checkIndex('subset', j, ds.length));
  const out: Dataset<S> = {
    length: idx.length,
    get: (i) => {
      checkIndex('subset', i, idx.length);
      return ds.get(idx[i]);
    },
  };
  if (ds.task)
    out.task = (i) => {
      checkIndex('subset', i, idx.length);
      return ds.task!(idx[i]);
    };
  return out;
}
