/**
 * File-backed datasets (Node): `imageFolder` (torchvision's ImageFolder layout: one sub-folder per
 * class, classes sorted by name → indices 0..K−1) and `sodDataset` (the DUTS image/mask layout of
 * sod-folder.ts). Both decode lazily; `task(i)` describes sample i as plain data so that
 * decodeWorkers() can decode it on a worker thread. `loadFileTask` is the one decoding path used
 * on the main thread and in workers alike.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { readImage, pixelsToCHW } from './images';
import { reportSodMatch, type SodErrorOptions, type SodMatch } from '../sod/node/folder';
import { resizeBilinearCHW } from '../train/data/resize-host';
import { checkIndex, type Dataset, type FileTask, type HostImage, type Sample } from '../train/data/datasets';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

function toHost(path: string, channels: 1 | 3, size: [number, number] | undefined): HostImage {
  const img = readImage(path);
  let data = pixelsToCHW(img, channels);
  let [h, w] = [img.height, img.width];
  if (size && (size[0] !== h || size[1] !== w)) {
    data = resizeBilinearCHW(data, channels, h, w, size[0], size[1]);
    [h, w] = size;
  }
  return { data, channels, height: h, width: w };
}

/** Decodes one task: the image (and mask, as 1 channel), resized to task.size when given. */
export function loadFileTask(task: FileTask): Sample {
  const s: Sample = { image: toHost(task.image, task.channels, task.size) };
  if (task.mask !== undefined) s.mask = toHost(task.mask, 1, task.size ?? [s.image.height, s.image.width]);
  if (task.label !== undefined) s.label = task.label;
  return s;
}

/** Options of {@link imageFolder}: decode size, channels and file extensions. */
export interface FolderOptions {
  /** Resize every image to size×size (or [H, W]) when decoding, so batches collate; default: keep. */
  size?: number | readonly [number, number];
  /** 3 (RGB, default) or 1 (luma). */
  channels?: 1 | 3;
  /** File extensions to include (lower case, with the dot); default .jpg, .jpeg, .png. */
  extensions?: readonly string[];
}

const sizeOpt = (fn: string, s: FolderOptions['size']): [number, number] | undefined => {
  if (s === undefined) return undefined;
  const v = typeof s === 'number' ? [s, s] : s;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 1))
    throw new Error(`${fn}: size is ${JSON.stringify(s)}; expected a positive integer or an [H, W] pair`);
  return [v[0], v[1]];
};

const listDir = (fn: string, dir: string) => {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    throw new Error(`${fn}: cannot list '${dir}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
};

/** A dataset of class folders, as torchvision.datasets.ImageFolder: one folder per class, sorted by name. */
export interface ImageFolderDataset extends Dataset {
  /** Class names, sorted; class i is `classes[i]`. */
  readonly classes: string[];
  /** Class name → index (save it as JSON beside a checkpoint to map predictions back to names). */
  readonly classToIndex: Record<string, number>;
  /** Image paths in index order. */
  readonly files: string[];
  /** Class index of each file. */
  readonly labels: Int32Array;
  task(i: number): FileTask;
}

/** `root/<class>/<image>` → samples { image, label }, classes sorted by name (torchvision's ImageFolder). */
export function imageFolder(root: string, options: FolderOptions = {}): ImageFolderDataset {
  const fn = 'imageFolder';
  const size = sizeOpt(fn, options.size);
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new Error(`${fn}: channels is ${channels}; expected 1 or 3`);
  const exts = new Set((options.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase()));
  const classes = listDir(fn, root).filter((d) => statSync(join(root, d)).isDirectory());
  if (classes.length === 0) throw new Error(`${fn}: '${root}' has no sub-folders; expected one folder per class (root/<class>/<image>)`);
  const files: string[] = [],
    labels: number[] = [];
  classes.forEach((c, k) => {
    for (const f of listDir(fn, join(root, c))) {
      if (exts.has(extname(f).toLowerCase())) {
        files.push(join(root, c, f));
        labels.push(k);
      }
    }
  });
  if (files.length === 0) throw new Error(`${fn}: no ${[...exts].join('/')} files in the class folders of '${root}' (${classes.join(', ')})`);
  const lab = Int32Array.from(labels);
  const task = (i: number): FileTask => {
    checkIndex(fn, i, files.length);
    return { image: files[i], label: lab[i], size, channels };
  };
  return {
    length: files.length,
    classes,
    classToIndex: Object.fromEntries(classes.map((c, i) => [c, i])),
    files,
    labels: lab,
    task,
    get: (i) => loadFileTask(task(i)),
  };
}

/**
 * onError: 'skip' (default) leaves images without a mask out with a warning at start-up; 'raise'
 * makes them an error. (Files that fail to decode are the loader's business: its onError option.)
 */
export interface SodDatasetOptions extends FolderOptions, SodErrorOptions {
  /** Which stems: 'train' (all but the held-out tail), 'heldOut' (the last heldOutFraction, sorted), or 'all' (default). */
  split?: 'train' | 'heldOut' | 'all';
  /** Fraction of the pairs held out (default 0.1, at least one). */
  heldOutFraction?: number;
}

/** A DUTS-layout folder (`*-Image/` + `*-Mask/`, or `images/` + `masks/`) → samples { image, mask }. */
export function sodDataset(
  root: string,
  options: SodDatasetOptions = {},
): Dataset & {
  /** File stems of the samples, in index order. */
  stems: string[];
  /** Sample i as plain data (paths, size, channels), for decoding in a worker. */
  task(i: number): FileTask;
  /** Images without a mask and masks without an image (left out). */
  unmatched: Omit<SodMatch, 'pairs'>;
} {
  const fn = 'sodDataset';
  const size = sizeOpt(fn, options.size);
  const channels = options.channels ?? 3;
  const { pairs, imagesWithoutMask, masksWithoutImage } = reportSodMatch(root, options);
  const held = Math.max(1, Math.round(pairs.length * (options.heldOutFraction ?? 0.1)));
  const split = options.split ?? 'all';
  const chosen =
    split === 'all' ? pairs : split === 'train' ? pairs.slice(0, pairs.length - held) : split === 'heldOut' ? pairs.slice(pairs.length - held) : null;
  if (!chosen) throw new Error(`${fn}: split is ${JSON.stringify(split)}; expected 'train', 'heldOut' or 'all'`);
  const task = (i: number): FileTask => {
    checkIndex(fn, i, chosen.length);
    return { image: chosen[i].image, mask: chosen[i].mask, size, channels };
  };
  return {
    length: chosen.length,
    stems: chosen.map((p) => p.stem),
    task,
    get: (i) => loadFileTask(task(i)),
    unmatched: { imagesWithoutMask, masksWithoutImage },
  };
}
