/**
 * COCO-style detection annotations: a JSON file with `images` (id, file_name, width, height),
 * `annotations` (image_id, category_id, bbox [x, y, width, height] in pixels, iscrowd) and
 * `categories` (id, name), and a folder of the images. Category ids (COCO's run 1…90 with gaps)
 * become contiguous class ids 0…C−1 in increasing id order, names kept. Crowd annotations
 * (iscrowd 1: one box over a group, which COCO's evaluation treats as an ignore region) are left
 * out by default, as torchvision's detection references do for training; `crowd: 'keep'` keeps them
 * as ordinary boxes. Boxes with zero width or height are left out (torchvision drops them too).
 * `groundTruth(i)` gives an image's annotations for the metrics, crowd regions flagged as COCO's
 * evaluation wants them.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { ArgumentError } from '../../base/shape';
import type { DetectionDataset } from '../batch';
import type { CrowdGroundTruth } from '../metrics';
import type { DetectionSample } from '../types';
import { DetectionDataError, type PixelObject, checkSize, loadDetectionSample, readTextCapped } from './common';

/** Options of {@link cocoDataset} and {@link parseCocoDetection}. */
export interface CocoDatasetOptions {
  /** Resize every image to this side or [H, W] (bilinear, on the host); default the file's size. */
  size?: number | readonly [number, number];
  /** Largest annotation file read, in bytes; default 512 MiB (COCO 2017's training annotations are 448 MB). */
  maxBytes?: number;
  /** How far (pixels) a box may stick out of its image before it is an error (it is clamped); default 1. */
  tolerance?: number;
  /** 'skip' (default) leaves iscrowd annotations out; 'keep' keeps them as ordinary boxes. */
  crowd?: 'skip' | 'keep';
  /** Leave out images without any (kept) object; default false. */
  skipEmpty?: boolean;
}

/** One image of a COCO file, with its objects in pixels (class ids already contiguous). */
export interface CocoImage {
  /** The image's id in the file. */
  id: number;
  /** Its file name, relative to the image folder. */
  fileName: string;
  /** Width in pixels, as the file says. */
  width: number;
  /** Height in pixels, as the file says. */
  height: number;
  /** Its objects for training: pixel corners, contiguous class id and the annotation each came from (crowd ones only with crowd: 'keep'). */
  objects: PixelObject[];
  /** Every annotation with a non-empty box, crowd ones included and flagged: the ground truth for evaluation. */
  annotations: PixelObject[];
}

/** A parsed COCO detection file. */
export interface CocoDetection {
  /** The images, in the file's order (without the empty ones when skipEmpty). */
  images: CocoImage[];
  /** Class names by contiguous class id. */
  classNames: string[];
  /** COCO category id by contiguous class id. */
  categoryIds: number[];
  /** Annotations left out: crowd ones, and boxes with zero width or height. */
  skipped: { crowd: number; empty: number };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Checks and converts parsed COCO JSON; `what` names the file in errors. */
export function parseCocoDetection(json: unknown, what: string, options: CocoDatasetOptions = {}): CocoDetection {
  const crowdMode = options.crowd ?? 'skip';
  if (crowdMode !== 'skip' && crowdMode !== 'keep')
    throw new ArgumentError('parseCocoDetection', 'crowd', `is ${JSON.stringify(options.crowd)}`, "'skip' or 'keep'");
  const tolerance = options.tolerance ?? 1;
  if (!isObj(json)) throw new DetectionDataError(what, 'is not a JSON object with images, annotations and categories');
  for (const key of ['images', 'annotations', 'categories'])
    if (!Array.isArray(json[key])) throw new DetectionDataError(what, `has no '${key}' array (a COCO detection file has images, annotations and categories)`);
  const cats = json.categories as unknown[];
  const catSeen = new Map<number, string>();
  cats.forEach((c, k) => {
    if (!isObj(c) || !isId(c.id) || typeof c.name !== 'string')
      throw new DetectionDataError(`${what} categories[${k}]`, 'expected { id: integer, name: string }');
    if (catSeen.has(c.id)) throw new DetectionDataError(`${what} categories[${k}]`, `repeats category id ${c.id}`);
    catSeen.set(c.id, c.name);
  });
  const categoryIds = [...catSeen.keys()].sort((a, b) => a - b);
  const classOf = new Map(categoryIds.map((id, k) => [id, k]));
  const images: CocoImage[] = [];
  const byId = new Map<number, CocoImage>();
  (json.images as unknown[]).forEach((im, k) => {
    const where = `${what} images[${k}]`;
    if (!isObj(im) || !isId(im.id) || typeof im.file_name !== 'string')
      throw new DetectionDataError(where, 'expected { id: integer, file_name: string, width, height }');
    const { width, height } = im;
    if (!isId(width) || !isId(height) || width < 1 || height < 1)
      throw new DetectionDataError(where, `width×height is ${width}×${height}; expected positive integers`);
    const name = normalize(im.file_name);
    if (im.file_name === '' || isAbsolute(im.file_name) || name === '..' || name.startsWith(`..${sep}`))
      throw new DetectionDataError(where, `file_name '${im.file_name}' is not a path inside the image folder`);
    if (byId.has(im.id)) throw new DetectionDataError(where, `repeats image id ${im.id}`);
    const entry: CocoImage = { id: im.id, fileName: im.file_name, width, height, objects: [], annotations: [] };
    images.push(entry);
    byId.set(im.id, entry);
  });
  const skipped = { crowd: 0, empty: 0 };
  (json.annotations as unknown[]).forEach((a, k) => {
    const where = isObj(a) && isId(a.id) ? `${what} annotations[${k}] (id ${a.id})` : `${what} annotations[${k}]`;
    if (!isObj(a)) throw new DetectionDataError(where, 'is not an object');
    const image = isId(a.image_id) ? byId.get(a.image_id) : undefined;
    if (!image) throw new DetectionDataError(where, `image_id ${JSON.stringify(a.image_id)} is not the id of an image in 'images'`);
    const label = isId(a.category_id) ? classOf.get(a.category_id) : undefined;
    if (label === undefined)
      throw new DetectionDataError(where, `category_id ${JSON.stringify(a.category_id)} is not in 'categories' (ids ${categoryIds.join(', ')})`);
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw new DetectionDataError(where, `bbox is ${JSON.stringify(b)}; expected [x, y, width, height] in pixels`);
    const crowd = a.iscrowd ?? 0;
    if (crowd !== 0 && crowd !== 1) throw new DetectionDataError(where, `iscrowd is ${JSON.stringify(a.iscrowd)}; expected 0 or 1`);
    const [x, y, w, h] = b as number[];
    if (w < 0 || h < 0) throw new DetectionDataError(where, `bbox [${b.join(', ')}] has a negative width or height`);
    if (x < -tolerance || y < -tolerance || x + w > image.width + tolerance || y + h > image.height + tolerance)
      throw new DetectionDataError(where, `box [${x}, ${y}, ${x + w}, ${y + h}] lies outside the ${image.width}×${image.height} image ${image.fileName}`);
    if (w === 0 || h === 0) {
      skipped.empty++;
      return;
    }
    const object: PixelObject = { x1: x, y1: y, x2: x + w, y2: y + h, label, where, crowd: crowd === 1 };
    image.annotations.push(object);
    if (crowd === 1 && crowdMode === 'skip') {
      skipped.crowd++;
      return;
    }
    image.objects.push(object);
  });
  return {
    images: options.skipEmpty ? images.filter((im) => im.objects.length > 0) : images,
    classNames: categoryIds.map((id) => catSeen.get(id)!),
    categoryIds,
    skipped,
  };
}

/** A COCO-style detection set: a DetectionDataset with the file's ids, names and what was left out. */
export interface CocoDataset extends DetectionDataset {
  /** Class names by contiguous class id. */
  readonly classNames: readonly string[];
  /** COCO category id by contiguous class id. */
  readonly categoryIds: readonly number[];
  /** COCO image id by sample index. */
  readonly imageIds: readonly number[];
  /** Image file path by sample index. */
  readonly files: readonly string[];
  /** Annotations left out: crowd ones (unless kept) and boxes with zero width or height. */
  readonly skipped: { readonly crowd: number; readonly empty: number };
  /**
   * Image i's ground truth for the metrics, without decoding the image: every annotation with a
   * non-empty box (crowd ones too, flagged in `iscrowd`, as COCO's evaluation wants them), boxes
   * normalised by the file's width and height like the samples' (clamped to [0, 1]), or in the
   * file's pixels with `pixels: true` (COCO's small/medium/large areas are in pixels).
   */
  groundTruth(i: number, options?: { pixels?: boolean }): CrowdGroundTruth;
}

/**
 * A COCO-style annotation file and its image folder as a dataset. Sample i is the i-th image of
 * the file (images without objects included unless `skipEmpty`), decoded on demand, boxes as
 * normalised corners, labels contiguous class ids. One-line errors name the file and the entry:
 * a file over `maxBytes`, malformed JSON, an unknown image or category id, a box outside its image,
 * a missing image file, an image whose size differs from the file's width and height.
 *
 * @example
 * ```ts
 * import { cocoDataset, encodePng } from '@webgrad/core/node';
 * import { mkdirSync, writeFileSync } from 'node:fs';
 * mkdirSync('/tmp/coco-demo/images', { recursive: true });
 * writeFileSync('/tmp/coco-demo/images/a.png', encodePng(new Uint8Array(32 * 16 * 3).fill(128), 32, 16, 3));
 * const json = {
 *   images: [{ id: 1, file_name: 'a.png', width: 32, height: 16 }],
 *   categories: [{ id: 18, name: 'dog' }, { id: 1, name: 'person' }],
 *   annotations: [{ id: 5, image_id: 1, category_id: 18, bbox: [8, 4, 16, 8], iscrowd: 0 }],
 * };
 * writeFileSync('/tmp/coco-demo/instances.json', JSON.stringify(json));
 * const ds = cocoDataset('/tmp/coco-demo/instances.json', '/tmp/coco-demo/images');
 * const s = ds.get(0);
 * console.log(ds.classNames, s.labels, s.boxes); // [ 'person', 'dog' ] Int32Array(1) [ 1 ] Float32Array(4) [ 0.25, 0.25, 0.75, 0.75 ]
 * ```
 */
export function cocoDataset(annotationFile: string, imageDir: string, options: CocoDatasetOptions = {}): CocoDataset {
  const fn = 'cocoDataset';
  const size = checkSize(fn, options.size);
  const maxBytes = options.maxBytes ?? 512 * 2 ** 20;
  if (!(maxBytes > 0)) throw new ArgumentError(fn, 'maxBytes', `is ${options.maxBytes}`, 'a positive number of bytes');
  const tolerance = options.tolerance ?? 1;
  if (!(tolerance >= 0)) throw new ArgumentError(fn, 'tolerance', `is ${options.tolerance}`, 'a number of pixels ≥ 0');
  if (!existsSync(imageDir)) throw new DetectionDataError(imageDir, 'image folder does not exist');
  const text = readTextCapped(annotationFile, maxBytes, 'annotation file');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DetectionDataError(annotationFile, `is not valid JSON (${(e as Error).message})`);
  }
  const coco = parseCocoDetection(json, annotationFile, options);
  const files = coco.images.map((im) => join(imageDir, im.fileName));
  files.forEach((f, i) => {
    if (!existsSync(f)) throw new DetectionDataError(`${annotationFile} image id ${coco.images[i].id}`, `image ${f} does not exist`);
  });
  const checkIndex = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= files.length) throw new ArgumentError(fn, 'index', `is ${i}`, `an integer in [0, ${files.length})`);
  };
  return {
    length: coco.images.length,
    classNames: coco.classNames,
    categoryIds: coco.categoryIds,
    imageIds: coco.images.map((im) => im.id),
    files,
    skipped: coco.skipped,
    groundTruth(i: number, options: { pixels?: boolean } = {}): CrowdGroundTruth {
      checkIndex(i);
      const im = coco.images[i];
      const [sx, sy] = options.pixels ? [im.width, im.height] : [1, 1];
      const n = im.annotations.length;
      const boxes = new Float32Array(4 * n),
        labels = new Int32Array(n),
        iscrowd = new Uint8Array(n);
      const clamp = (v: number) => Math.min(1, Math.max(0, v));
      im.annotations.forEach((o, k) => {
        boxes.set([sx * clamp(o.x1 / im.width), sy * clamp(o.y1 / im.height), sx * clamp(o.x2 / im.width), sy * clamp(o.y2 / im.height)], 4 * k);
        labels[k] = o.label;
        iscrowd[k] = o.crowd ? 1 : 0;
      });
      return { boxes, labels, iscrowd };
    },
    get(i: number): DetectionSample {
      checkIndex(i);
      const im = coco.images[i];
      return loadDetectionSample(files[i], im.objects, size, tolerance, { width: im.width, height: im.height, where: `${annotationFile} image id ${im.id}` });
    },
  };
}
