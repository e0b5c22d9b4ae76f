/**
 * Segmentation panels: one row per image, four cells — the image | the prediction in Cityscapes colours |
 * the ground truth in the same colours (ignored pixels black) | the prediction laid over the image — as
 * one PNG, what `webgrad train-segmentation` writes after every validation. Pixels are drawn on the host.
 */
import { writePng } from '../../io/images';
import { ArgumentError } from '../../base/shape';
import { decodeTarget } from '../cityscapes-labels';

/** One row of a segmentation panel. */
export interface SegmentationPanelItem {
  /** The image as shown (denormalised), RGB channel-major (3, height, width), values in [0, 1]. */
  image: Float32Array;
  /** The image's height in pixels. */
  height: number;
  /** The image's width in pixels. */
  width: number;
  /** Predicted train ids (height·width, row-major). */
  prediction: Uint8Array | Int32Array;
  /** True train ids (height·width; 255 = ignored, drawn black); without it the cell stays dark. */
  target?: Uint8Array | Int32Array;
}

/** Options of {@link segmentationPanelPixels} and {@link writeSegmentationPanels}. */
export interface SegmentationPanelOptions {
  /** Weight of the prediction's colour in the overlay cell, in [0, 1] (default 0.5). */
  alpha?: number;
  /** Integer magnification of every cell, nearest-neighbour (default 1). */
  scale?: number;
}

/** The grey of the background and of the gaps between cells. */
const BACKGROUND = 32;
const GAP = 4;
const CELLS = 4;

function checkItem(fn: string, it: SegmentationPanelItem, i: number): void {
  const where = `items[${i}]`;
  if (!it || !Number.isInteger(it.height) || !Number.isInteger(it.width) || it.height < 1 || it.width < 1)
    throw new ArgumentError(fn, where, 'has no positive integer height and width', '{ image, height, width, prediction, target? }');
  const n = it.height * it.width;
  if (!(it.image instanceof Float32Array) || it.image.length !== 3 * n)
    throw new ArgumentError(fn, `${where}.image`, `is ${describe(it.image)}`, `a Float32Array of 3·${it.height}·${it.width} = ${3 * n} values`);
  if (!isIds(it.prediction) || it.prediction.length !== n)
    throw new ArgumentError(
      fn,
      `${where}.prediction`,
      `is ${describe(it.prediction)}`,
      `a Uint8Array or Int32Array of ${it.height}·${it.width} = ${n} train ids`,
    );
  if (it.target !== undefined && (!isIds(it.target) || it.target.length !== n))
    throw new ArgumentError(fn, `${where}.target`, `is ${describe(it.target)}`, `a Uint8Array or Int32Array of ${it.height}·${it.width} = ${n} train ids`);
}

const isIds = (a: unknown): a is Uint8Array | Int32Array => a instanceof Uint8Array || a instanceof Int32Array;
const describe = (a: unknown) =>
  ArrayBuffer.isView(a) ? `a ${a.constructor.name} of ${(a as unknown as ArrayLike<number>).length} values` : a === undefined ? 'missing' : typeof a;

/**
 * Draws the panel's pixels: RGB bytes, row-major, `width` × `height`. Rows are as tall as their image
 * (times `scale`); cells as wide as the widest image.
 */
export function segmentationPanelPixels(
  items: readonly SegmentationPanelItem[],
  options: SegmentationPanelOptions = {},
): { pixels: Uint8Array; width: number; height: number } {
  const fn = 'segmentationPanelPixels';
  if (!Array.isArray(items) || items.length === 0)
    throw new ArgumentError(fn, 'items', `is ${Array.isArray(items) ? 'empty' : typeof items}`, 'a non-empty array of panel items');
  items.forEach((it, i) => checkItem(fn, it, i));
  const { alpha = 0.5, scale = 1 } = options;
  if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentError(fn, 'alpha', `is ${alpha}`, 'a number in [0, 1]');
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) throw new ArgumentError(fn, 'scale', `is ${scale}`, 'an integer in [1, 16]');
  const cellW = Math.max(...items.map((it) => it.width)) * scale;
  const width = CELLS * cellW + (CELLS + 1) * GAP;
  const height = items.reduce((s, it) => s + it.height * scale + GAP, GAP);
  const pixels = new Uint8Array(width * height * 3).fill(BACKGROUND);
  let top = GAP;
  for (const it of items) {
    const n = it.height * it.width;
    // each cell as interleaved RGB bytes of the image's own size, then magnified into place
    const image = new Uint8Array(3 * n);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) image[3 * i + c] = Math.round(Math.min(1, Math.max(0, it.image[c * n + i])) * 255);
    const prediction = decodeTarget(it.prediction);
    const overlay = image.map((v, k) => Math.round((1 - alpha) * v + alpha * prediction[k]));
    const cells = [image, prediction, it.target ? decodeTarget(it.target) : null, overlay];
    cells.forEach((cell, col) => {
      if (!cell) return;
      const left = GAP + col * (cellW + GAP);
      for (let y = 0; y < it.height * scale; y++)
        for (let x = 0; x < it.width * scale; x++) {
          const from = 3 * (Math.floor(y / scale) * it.width + Math.floor(x / scale));
          pixels.set(cell.subarray(from, from + 3), 3 * ((top + y) * width + left + x));
        }
    });
    top += it.height * scale + GAP;
  }
  return { pixels, width, height };
}

/** Writes a segmentation panel (see {@link segmentationPanelPixels}) as an RGB PNG (atomically). */
export async function writeSegmentationPanels(path: string, items: readonly SegmentationPanelItem[], options: SegmentationPanelOptions = {}): Promise<void> {
  const { pixels, width, height } = segmentationPanelPixels(items, options);
  await writePng(path, pixels, width, height, 3);
}
