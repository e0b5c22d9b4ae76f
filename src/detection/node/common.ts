/**
 * What the detection file loaders share: their error type, bounded text reads, the optional resize
 * and the one place an image file and its pixel boxes become a DetectionSample (normalised corners,
 * boxes checked against the decoded image's size).
 */
import { readFileSync, statSync } from 'node:fs';
import { ArgumentError } from '../../base/shape';
import { readImage, pixelsToCHW } from '../../io/images';
import { resizeBilinearCHW } from '../../train/data/resize-host';
import type { DetectionSample } from '../types';

/** Thrown by the detection file loaders: a one-line message naming the file (and line or annotation) and what is wrong. */
export class DetectionDataError extends Error {
  /** `what` names the file, and the line or annotation when there is one. */
  constructor(what: string, message: string) {
    super(`${what}: ${message}`);
    this.name = 'DetectionDataError';
  }
}

/** Reads a text file of at most `maxBytes` bytes (checked before reading). */
export function readTextCapped(path: string, maxBytes: number, what: string): string {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new DetectionDataError(path, `is not a file (${what})`);
    size = st.size;
  } catch (e) {
    if (e instanceof DetectionDataError) throw e;
    throw new DetectionDataError(path, `cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (size > maxBytes) throw new DetectionDataError(path, `${what} is ${size} bytes, over the limit of ${maxBytes} (raise maxBytes to read it)`);
  return readFileSync(path, 'utf8');
}

/** An optional output size: a side or [H, W], whole pixels. */
export function checkSize(fn: string, size: unknown): [number, number] | undefined {
  if (size === undefined) return undefined;
  const v = typeof size === 'number' ? [size, size] : size;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 1))
    throw new ArgumentError(fn, 'size', `is ${JSON.stringify(size)}`, 'a positive integer or an [H, W] pair of them');
  return [v[0], v[1]];
}

/** One object in pixels: corners, class and where it came from (for errors). */
export interface PixelObject {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  label: number;
  /** e.g. "label.csv line 17" or "annotation id 42". */
  where: string;
  /** COCO's iscrowd flag, when the source has one. */
  crowd?: boolean;
}

/**
 * Decodes `file` and turns its objects into a sample: corners divided by the image's width and
 * height (as d2l divides the banana boxes by 256), clamped to [0, 1] when they stick out by at most
 * `tolerance` pixels (rounding in annotation tools), an error when they stick out further or are
 * reversed. `size` resizes the image (bilinear, on the host); normalised boxes do not change.
 */
export function loadDetectionSample(
  file: string,
  objects: readonly PixelObject[],
  size: [number, number] | undefined,
  tolerance: number,
  expect?: { width: number; height: number; where: string },
): DetectionSample {
  const img = readImage(file);
  const { width: W, height: H } = img;
  if (expect && (expect.width !== W || expect.height !== H))
    throw new DetectionDataError(expect.where, `says ${expect.width}×${expect.height} (width×height) but ${file} is ${W}×${H}`);
  const boxes = new Float32Array(4 * objects.length);
  const labels = new Int32Array(objects.length);
  objects.forEach((o, k) => {
    const inside = o.x1 >= -tolerance && o.y1 >= -tolerance && o.x2 <= W + tolerance && o.y2 <= H + tolerance;
    if (!inside) throw new DetectionDataError(o.where, `box [${o.x1}, ${o.y1}, ${o.x2}, ${o.y2}] lies outside the ${W}×${H} image ${file}`);
    const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
    boxes.set([clamp(o.x1, W) / W, clamp(o.y1, H) / H, clamp(o.x2, W) / W, clamp(o.y2, H) / H], 4 * k);
    labels[k] = o.label;
  });
  let image = pixelsToCHW(img, 3);
  let [h, w] = [H, W];
  if (size && (size[0] !== H || size[1] !== W)) {
    image = resizeBilinearCHW(image, 3, H, W, size[0], size[1]);
    [h, w] = size;
  }
  return { image, height: h, width: w, boxes, labels };
}
