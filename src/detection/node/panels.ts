/**
 * Detection panels: a grid of images with their predicted boxes (a colour per class, labelled with the
 * class name and score) and the ground-truth boxes (thin white outlines), as one PNG — what the SSD
 * trainer writes at every evaluation. Pixels are drawn on the host; the text uses the library's 5×7 font.
 */
import { writePng } from '../../io/images';
import { ArgumentError } from '../../base/shape';
import { glyph, GLYPH_HEIGHT, GLYPH_WIDTH } from '../../base/bitmap-font';
import type { ImageDetections, ImageGroundTruth } from '../types';

/** One cell of a panel: an image, its detections and, optionally, its ground truth. */
export interface DetectionPanelItem {
  /** RGB, channel-major (3, height, width), values in [0, 1]. */
  image: Float32Array;
  /** The image's height in pixels. */
  height: number;
  /** The image's width in pixels. */
  width: number;
  /** Detections, drawn highest score first (up to `maxDetections` at or above `scoreThreshold`). */
  detections: ImageDetections;
  /** Ground-truth boxes, drawn as thin white outlines. */
  groundTruth?: ImageGroundTruth;
}

/** Options of {@link detectionPanelPixels} and {@link writeDetectionPanels}. */
export interface DetectionPanelOptions {
  /** Class names by id for the labels (default: the id). */
  classNames?: readonly string[];
  /** Smallest score drawn (default 0.3). */
  scoreThreshold?: number;
  /** Most detections drawn per image (default 10). */
  maxDetections?: number;
  /** Images per row (default 4). */
  columns?: number;
  /** Integer magnification of each image, nearest-neighbour (default 2), so small images and labels stay legible. */
  scale?: number;
  /** Boxes are normalised to [0, 1] by the image's width and height (default true); false: pixels. */
  normalized?: boolean;
}

/** Colours of the predicted boxes by class id (cycled), chosen to stand out from the synthetic set's red, green, blue and yellow shapes. */
export const DETECTION_COLOURS: readonly [number, number, number][] = [
  [255, 0, 255],
  [0, 255, 255],
  [255, 128, 0],
  [128, 255, 0],
  [255, 64, 128],
  [64, 160, 255],
];
const GT_COLOUR: [number, number, number] = [255, 255, 255];
const GAP = 4;

/** An RGB canvas with clipped drawing primitives. */
class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3).fill(32);
  }
  set(x: number, y: number, [r, g, b]: readonly number[]): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.pixels[o] = r;
    this.pixels[o + 1] = g;
    this.pixels[o + 2] = b;
  }
  fill(x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) this.set(x, y, c);
  }
  /** The outline of [x0, x1) × [y0, y1), `t` pixels thick inwards. */
  rect(x0: number, y0: number, x1: number, y1: number, t: number, c: readonly number[]): void {
    this.fill(x0, y0, x1, Math.min(y0 + t, y1), c);
    this.fill(x0, Math.max(y1 - t, y0), x1, y1, c);
    this.fill(x0, y0, Math.min(x0 + t, x1), y1, c);
    this.fill(Math.max(x1 - t, x0), y0, x1, y1, c);
  }
  text(x: number, y: number, s: string, c: readonly number[]): void {
    [...s].forEach((ch, i) => {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_HEIGHT; r++)
        for (let col = 0; col < GLYPH_WIDTH; col++) if ((rows[r] >> (GLYPH_WIDTH - 1 - col)) & 1) this.set(x + i * (GLYPH_WIDTH + 1) + col, y + r, c);
    });
  }
}

function checkItem(fn: string, it: DetectionPanelItem, i: number): void {
  const where = `items[${i}]`;
  if (!it || !(it.image instanceof Float32Array) || !Number.isInteger(it.height) || !Number.isInteger(it.width) || it.image.length !== 3 * it.height * it.width)
    throw new ArgumentError(fn, where, 'is not an image', '{ image: Float32Array of 3·height·width, height, width, detections }');
  const d = it.detections;
  if (!d || d.boxes.length !== 4 * d.scores.length || d.labels.length !== d.scores.length)
    throw new ArgumentError(
      fn,
      `${where}.detections`,
      `has ${d?.boxes.length} box numbers, ${d?.scores.length} scores, ${d?.labels.length} labels`,
      'four numbers per score and one label each',
    );
  const g = it.groundTruth;
  if (g && g.boxes.length !== 4 * g.labels.length)
    throw new ArgumentError(fn, `${where}.groundTruth`, `has ${g.boxes.length} box numbers for ${g.labels.length} labels`, 'four numbers per label');
}

/** Draws the panel's pixels: RGB bytes, row-major, `width` × `height`. */
export function detectionPanelPixels(
  items: readonly DetectionPanelItem[],
  options: DetectionPanelOptions = {},
): { pixels: Uint8Array; width: number; height: number } {
  const fn = 'detectionPanelPixels';
  if (!Array.isArray(items) || items.length === 0)
    throw new ArgumentError(fn, 'items', `is ${Array.isArray(items) ? 'empty' : typeof items}`, 'a non-empty array of panel items');
  items.forEach((it, i) => checkItem(fn, it, i));
  const { classNames, scoreThreshold = 0.3, maxDetections = 10, columns = 4, scale = 2, normalized = true } = options;
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) throw new ArgumentError(fn, 'scale', `is ${scale}`, 'an integer in [1, 16]');
  if (!Number.isInteger(columns) || columns < 1) throw new ArgumentError(fn, 'columns', `is ${columns}`, 'a positive integer');
  const cols = Math.min(columns, items.length),
    rows = Math.ceil(items.length / cols);
  const cellW = Math.max(...items.map((it) => it.width)) * scale,
    cellH = Math.max(...items.map((it) => it.height)) * scale;
  const canvas = new Canvas(cols * cellW + (cols + 1) * GAP, rows * cellH + (rows + 1) * GAP);
  items.forEach((it, n) => {
    const ox = GAP + (n % cols) * (cellW + GAP),
      oy = GAP + Math.floor(n / cols) * (cellH + GAP);
    const W = it.width * scale,
      H = it.height * scale,
      plane = it.height * it.width;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = Math.floor(y / scale) * it.width + Math.floor(x / scale);
        canvas.set(
          ox + x,
          oy + y,
          [0, 1, 2].map((c) => Math.round(Math.min(1, Math.max(0, it.image[c * plane + i])) * 255)),
        );
      }
    // box corners to canvas pixels, clipped to the cell
    const sx = normalized ? W : scale,
      sy = normalized ? H : scale;
    const px = (b: ArrayLike<number>, k: number) =>
      [
        Math.round(Math.max(0, Math.min(W, b[k] * sx))),
        Math.round(Math.max(0, Math.min(H, b[k + 1] * sy))),
        Math.round(Math.max(0, Math.min(W, b[k + 2] * sx))),
        Math.round(Math.max(0, Math.min(H, b[k + 3] * sy))),
      ] as const;
    const gt = it.groundTruth;
    if (gt)
      for (let k = 0; k < gt.labels.length; k++) {
        const [x0, y0, x1, y1] = px(gt.boxes, 4 * k);
        canvas.rect(ox + x0, oy + y0, ox + x1, oy + y1, 1, GT_COLOUR);
      }
    const d = it.detections;
    const order = Array.from({ length: d.scores.length }, (_, k) => k)
      .filter((k) => d.scores[k] >= scoreThreshold)
      .sort((a, b) => d.scores[b] - d.scores[a])
      .slice(0, maxDetections);
    // lowest score first, so the best box and label end on top
    for (const k of order.reverse()) {
      const colour = DETECTION_COLOURS[((d.labels[k] % DETECTION_COLOURS.length) + DETECTION_COLOURS.length) % DETECTION_COLOURS.length];
      const [x0, y0, x1, y1] = px(d.boxes, 4 * k);
      canvas.rect(ox + x0, oy + y0, ox + x1, oy + y1, 2, colour);
      const full = `${classNames?.[d.labels[k]] ?? d.labels[k]} ${d.scores[k].toFixed(2)}`;
      // never wider than the cell: the name is cut, the score kept
      const room = Math.max(1, Math.floor((W - 1) / (GLYPH_WIDTH + 1)));
      const label = full.length <= room ? full : `${full.slice(0, Math.max(0, room - 5))} ${d.scores[k].toFixed(2)}`.slice(-room);
      const tw = label.length * (GLYPH_WIDTH + 1) + 1,
        th = GLYPH_HEIGHT + 2;
      // above the box when there is room, else inside its top edge; kept inside the cell
      const lx = Math.max(0, Math.min(x0, W - tw)),
        ly = y0 >= th ? y0 - th : Math.min(y0, H - th);
      canvas.fill(ox + lx, oy + ly, ox + Math.min(W, lx + tw), oy + ly + th, colour);
      canvas.text(ox + lx + 1, oy + ly + 1, label, [0, 0, 0]);
    }
  });
  return { pixels: canvas.pixels, width: canvas.width, height: canvas.height };
}

/** Writes a detection panel (see {@link detectionPanelPixels}) as an RGB PNG. */
export async function writeDetectionPanels(path: string, items: readonly DetectionPanelItem[], options: DetectionPanelOptions = {}): Promise<void> {
  const { pixels, width, height } = detectionPanelPixels(items, options);
  await writePng(path, pixels, width, height, 3);
}
