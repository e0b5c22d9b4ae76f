/**
 * d2l's banana-detection folder (the SSD chapter's data): `<root>/bananas_train/label.csv` and
 * `<root>/bananas_train/images/<img_name>`, the same under `bananas_val/`. The CSV's header is
 * `img_name,label,xmin,ymin,xmax,ymax`, boxes in pixels of the (256×256) images. d2l's
 * read_data_bananas reads one box per row and divides by 256; here rows that share an image name
 * become several objects of that image, and boxes are divided by each image's own width and height
 * (the same on d2l's data). Images are decoded on demand (`get(i)`), the CSV when the dataset is made.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError } from '../../base/shape';
import type { DetectionDataset } from '../batch';
import type { DetectionSample } from '../types';
import { DetectionDataError, type PixelObject, checkSize, loadDetectionSample, readTextCapped } from './common';

/** Options of {@link bananaDataset}. */
export interface BananaDatasetOptions {
  /** Resize every image to this side or [H, W] (bilinear, on the host); default the file's size. */
  size?: number | readonly [number, number];
  /** Largest label.csv read, in bytes; default 64 MiB. */
  maxBytes?: number;
  /** How far (pixels) a box may stick out of its image before it is an error (it is clamped); default 1. */
  tolerance?: number;
  /** Class names by label; default ['banana'] (d2l's one class, label 0). */
  classNames?: readonly string[];
}

/** A banana-detection split: a DetectionDataset with the image names (one sample per distinct name, in CSV order). */
export interface BananaDataset extends DetectionDataset {
  /** The image file names, by sample index. */
  readonly names: readonly string[];
  /** The class names, by label. */
  readonly classNames: readonly string[];
}

const HEADER = ['img_name', 'label', 'xmin', 'ymin', 'xmax', 'ymax'];

/** The split folder: `<root>/bananas_<split>` (d2l's layout), or `root` itself when it holds a label.csv. */
function splitDir(root: string, split: 'train' | 'val'): string {
  if (existsSync(join(root, 'label.csv'))) return root;
  const dir = join(root, `bananas_${split}`);
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new DetectionDataError(root, `no bananas_${split}/ folder (and no label.csv): expected d2l's banana-detection layout`);
  return dir;
}

/** Parses label.csv text into objects grouped by image name, in first-appearance order. */
export function parseBananaCsv(text: string, what: string): Map<string, PixelObject[]> {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '')
    .replace(/^\uFEFF/, '')
    .split(',')
    .map((s) => s.trim());
  if (header.length !== HEADER.length || header.some((h, i) => h !== HEADER[i]))
    throw new DetectionDataError(`${what} line 1`, `header is '${lines[0] ?? ''}'; expected '${HEADER.join(',')}'`);
  const byImage = new Map<string, PixelObject[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `${what} line ${i + 1}`;
    const f = line.split(',').map((s) => s.trim());
    if (f.length !== 6) throw new DetectionDataError(where, `has ${f.length} fields ('${line}'); expected 6: ${HEADER.join(',')}`);
    const [name, ...rest] = f;
    if (name === '' || name.includes('/') || name.includes('\\') || name === '..')
      throw new DetectionDataError(where, `img_name '${name}' is not a plain file name in images/`);
    const v = rest.map((s) => (s === '' ? Number.NaN : Number(s)));
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new DetectionDataError(where, `${HEADER[bad + 1]} is '${rest[bad]}'; expected a number`);
    const [label, x1, y1, x2, y2] = v;
    if (!Number.isInteger(label) || label < 0) throw new DetectionDataError(where, `label is ${label}; expected a class id (an integer ≥ 0)`);
    if (!(x1 <= x2 && y1 <= y2)) throw new DetectionDataError(where, `box [${x1}, ${y1}, ${x2}, ${y2}] has xmin > xmax or ymin > ymax`);
    const list = byImage.get(name) ?? [];
    list.push({ x1, y1, x2, y2, label, where });
    byImage.set(name, list);
  }
  return byImage;
}

/**
 * One split of d2l's banana-detection folder as a dataset. `root` is the folder holding
 * `bananas_train/` and `bananas_val/` (or a split folder itself). Sample i has the objects of the
 * i-th distinct image name, boxes as normalised corners. Errors are one line naming the file and,
 * for the CSV, the line: a missing folder or image, a malformed row, a box outside its image.
 *
 * @example
 * ```ts
 * import { bananaDataset, encodePng } from '@webgrad/core/node';
 * import { mkdirSync, writeFileSync } from 'node:fs';
 * mkdirSync('/tmp/banana-detection/bananas_val/images', { recursive: true });
 * writeFileSync('/tmp/banana-detection/bananas_val/images/0.png', encodePng(new Uint8Array(256 * 256 * 3), 256, 256, 3));
 * writeFileSync('/tmp/banana-detection/bananas_val/label.csv', 'img_name,label,xmin,ymin,xmax,ymax\n0.png,0,64,32,128,96\n');
 * const val = bananaDataset('/tmp/banana-detection', 'val');
 * const s = val.get(0);
 * console.log(val.length, s.labels, s.boxes); // 1 Int32Array(1) [ 0 ] Float32Array(4) [ 0.25, 0.125, 0.5, 0.375 ]
 * ```
 */
export function bananaDataset(root: string, split: 'train' | 'val' = 'train', options: BananaDatasetOptions = {}): BananaDataset {
  const fn = 'bananaDataset';
  if (split !== 'train' && split !== 'val') throw new ArgumentError(fn, 'split', `is ${JSON.stringify(split)}`, "'train' or 'val'");
  const size = checkSize(fn, options.size);
  const maxBytes = options.maxBytes ?? 64 * 2 ** 20;
  if (!(maxBytes > 0)) throw new ArgumentError(fn, 'maxBytes', `is ${options.maxBytes}`, 'a positive number of bytes');
  const tolerance = options.tolerance ?? 1;
  if (!(tolerance >= 0)) throw new ArgumentError(fn, 'tolerance', `is ${options.tolerance}`, 'a number of pixels ≥ 0');
  const dir = splitDir(root, split);
  const csv = join(dir, 'label.csv');
  const byImage = parseBananaCsv(readTextCapped(csv, maxBytes, 'label.csv'), csv);
  const names = [...byImage.keys()];
  const files = names.map((n) => join(dir, 'images', n));
  files.forEach((f, i) => {
    if (!existsSync(f)) throw new DetectionDataError(byImage.get(names[i])![0].where, `image ${f} does not exist`);
  });
  const classNames = options.classNames ?? ['banana'];
  for (const objs of byImage.values())
    for (const o of objs)
      if (o.label >= classNames.length) throw new DetectionDataError(o.where, `label ${o.label} has no class name (classNames has ${classNames.length})`);
  return {
    length: names.length,
    names,
    classNames,
    get(i: number): DetectionSample {
      if (!Number.isInteger(i) || i < 0 || i >= names.length) throw new ArgumentError(fn, 'index', `is ${i}`, `an integer in [0, ${names.length})`);
      return loadDetectionSample(files[i], byImage.get(names[i])!, size, tolerance);
    },
  };
}
