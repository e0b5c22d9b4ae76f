/**
 * The automatic mask generator's building blocks (segment_anything/utils/amg.py): point grids, crop boxes, the
 * stability score, boxes around masks, the crop-edge filter, uncropping, run-length encoding and the removal of
 * small regions and holes (connected components, 8-connected, as OpenCV's connectedComponentsWithStats labels them).
 * Masks on the host are `Uint8Array`s of 0/1, row-major H×W; boxes are x1, y1, x2, y2 with x2, y2 the last
 * covered column and row (inclusive, as batched_mask_to_box returns them).
 */
import { ArgumentError } from '../base/shape';
import { cast, div, gt } from '../tensor/ops/elementwise';
import { sum } from '../tensor/ops/reduce';
import { tidy } from '../tensor/scope';
import type { Tensor } from '../tensor/tensor';

/** A box x1, y1, x2, y2. */
export type Box = [number, number, number, number];

/** An uncompressed run-length encoding in COCO's layout: column-major runs, starting with a run of zeros. */
export interface Rle {
  /** [H, W]. */
  size: [number, number];
  /** Run lengths, alternating 0s and 1s, the first run of 0s (possibly empty). */
  counts: number[];
}

const posInt = (fn: string, arg: string, v: number) => {
  if (!(Number.isInteger(v) && v > 0)) throw new ArgumentError(fn, arg, `is ${v}`, 'a positive integer');
};

/** numpy's linspace(start, stop, n): start + i·step, the last point exactly stop. */
function linspace(start: number, stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const step = (stop - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step + start;
  if (n > 1) out[n - 1] = stop;
  else out[0] = start;
  return out;
}

/**
 * n×n points evenly spaced in [0, 1]², half a spacing in from the borders (build_point_grid), as (x, y) pairs,
 * x fastest: [n·n·2].
 */
export function buildPointGrid(nPerSide: number): Float64Array {
  posInt('buildPointGrid', 'nPerSide', nPerSide);
  const offset = 1 / (2 * nPerSide);
  const side = linspace(offset, 1 - offset, nPerSide);
  const out = new Float64Array(2 * nPerSide * nPerSide);
  for (let y = 0; y < nPerSide; y++)
    for (let x = 0; x < nPerSide; x++) {
      out[2 * (y * nPerSide + x)] = side[x];
      out[2 * (y * nPerSide + x) + 1] = side[y];
    }
  return out;
}

/** One grid per crop layer: layer i has ⌊nPerSide / scalePerLayer^i⌋ points a side (build_all_layer_point_grids). */
export function buildAllLayerPointGrids(nPerSide: number, nLayers: number, scalePerLayer: number): Float64Array[] {
  if (!(Number.isInteger(nLayers) && nLayers >= 0)) throw new ArgumentError('buildAllLayerPointGrids', 'nLayers', `is ${nLayers}`, 'a non-negative integer');
  posInt('buildAllLayerPointGrids', 'scalePerLayer', scalePerLayer);
  return Array.from({ length: nLayers + 1 }, (_, i) => buildPointGrid(Math.trunc(nPerSide / scalePerLayer ** i)));
}

/**
 * The crops: the whole image (layer 0), then for layer i ≥ 1 a 2^i × 2^i grid of overlapping crops
 * (generate_crop_boxes; the overlap is `overlapRatio` of the short side, scaled down per layer). Boxes x0, y0, x1, y1
 * (exclusive ends), x-major order within a layer.
 */
export function generateCropBoxes(imSize: readonly [number, number], nLayers: number, overlapRatio: number): { boxes: Box[]; layers: number[] } {
  const fn = 'generateCropBoxes';
  const [h, w] = imSize;
  posInt(fn, 'imSize[0]', h);
  posInt(fn, 'imSize[1]', w);
  if (!(Number.isInteger(nLayers) && nLayers >= 0)) throw new ArgumentError(fn, 'nLayers', `is ${nLayers}`, 'a non-negative integer');
  if (!(overlapRatio >= 0 && overlapRatio < 1)) throw new ArgumentError(fn, 'overlapRatio', `is ${overlapRatio}`, 'a number in [0, 1)');
  const boxes: Box[] = [[0, 0, w, h]];
  const layers = [0];
  const shortSide = Math.min(h, w);
  const cropLen = (len: number, n: number, overlap: number) => Math.ceil((overlap * (n - 1) + len) / n);
  for (let layer = 0; layer < nLayers; layer++) {
    const n = 2 ** (layer + 1);
    const overlap = Math.trunc(overlapRatio * shortSide * (2 / n));
    const cw = cropLen(w, n, overlap);
    const ch = cropLen(h, n, overlap);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const x0 = Math.trunc((cw - overlap) * i);
        const y0 = Math.trunc((ch - overlap) * j);
        boxes.push([x0, y0, Math.min(x0 + cw, w), Math.min(y0 + ch, h)]);
        layers.push(layer + 1);
      }
  }
  return { boxes, layers };
}

/**
 * Stability scores of mask logits [..., H, W] → [...] on the device: the IoU of the masks thresholded at
 * `maskThreshold + offset` and at `maskThreshold − offset` (one contains the other, so it is a ratio of pixel
 * counts; calculate_stability_score). Counts are summed in float32, exact up to 2^24 pixels a mask.
 */
export function calculateStabilityScore(masks: Tensor, maskThreshold: number, offset: number): Tensor {
  if (masks.ndim < 2 || masks.dtype !== 'float32')
    throw new ArgumentError('calculateStabilityScore', 'masks', `has shape [${masks.shape.join(', ')}] and dtype ${masks.dtype}`, 'float32 logits [..., H, W]');
  const axes = [masks.ndim - 2, masks.ndim - 1];
  return tidy(() => {
    const count = (t: number) => sum(cast(gt(masks, t), 'float32'), axes);
    return div(count(maskThreshold + offset), count(maskThreshold - offset));
  });
}

/** calculate_stability_score for one mask of logits on the host (float32 comparisons, as torch does). */
export function stabilityScoreHost(logits: ArrayLike<number>, maskThreshold: number, offset: number): number {
  const hi = Math.fround(maskThreshold + offset);
  const lo = Math.fround(maskThreshold - offset);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > hi) inter++;
    if (logits[i] > lo) union++;
  }
  return inter / union;
}

/** The box around a 0/1 mask [H, W]: x1, y1, x2, y2 of the first/last covered column and row; [0, 0, 0, 0] when empty (batched_mask_to_box). */
export function maskToBox(mask: ArrayLike<number>, h: number, w: number): Box {
  if (mask.length !== h * w) throw new ArgumentError('maskToBox', 'mask', `has ${mask.length} values`, `H·W = ${h * w}`);
  let x1 = w;
  let y1 = h;
  let x2 = -1;
  let y2 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (!mask[row + x]) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      y2 = y;
    }
  }
  return x2 < 0 ? [0, 0, 0, 0] : [x1, y1, x2, y2];
}

/** x1, y1, x2, y2 → x, y, w, h (box_xyxy_to_xywh). */
export const boxXyxyToXywh = (b: readonly number[]): Box => [b[0], b[1], b[2] - b[0], b[3] - b[1]];

/** A box from a crop's frame back to the image's (uncrop_boxes_xyxy). */
export const uncropBox = (b: readonly number[], crop: readonly number[]): Box => [b[0] + crop[0], b[1] + crop[1], b[2] + crop[0], b[3] + crop[1]];

/** A point from a crop's frame back to the image's (uncrop_points). */
export const uncropPoint = (p: readonly number[], crop: readonly number[]): [number, number] => [p[0] + crop[0], p[1] + crop[1]];

/**
 * Whether a box (in its crop's frame) lies within `atol` pixels of an edge of the crop that is not also an edge of
 * the image (is_box_near_crop_edge: such masks are likely cut off by the crop).
 */
export function isBoxNearCropEdge(box: readonly number[], cropBox: readonly number[], origBox: readonly number[], atol = 20): boolean {
  const b = uncropBox(box, cropBox);
  for (let i = 0; i < 4; i++) {
    const nearCrop = Math.abs(b[i] - cropBox[i]) <= atol;
    const nearImage = Math.abs(b[i] - origBox[i]) <= atol;
    if (nearCrop && !nearImage) return true;
  }
  return false;
}

/** A crop's mask [cropH, cropW] placed into a zero mask of the image [H, W] (uncrop_masks). */
export function uncropMask(mask: Uint8Array, cropBox: readonly number[], h: number, w: number): Uint8Array {
  const [x0, y0, x1, y1] = cropBox;
  if (x0 === 0 && y0 === 0 && x1 === w && y1 === h) return mask;
  const cw = x1 - x0;
  const out = new Uint8Array(h * w);
  for (let y = y0; y < y1; y++) out.set(mask.subarray((y - y0) * cw, (y - y0 + 1) * cw), y * w + x0);
  return out;
}

/** A 0/1 mask [H, W] → uncompressed RLE (column-major runs, first a run of zeros; mask_to_rle_pytorch). */
export function maskToRle(mask: ArrayLike<number>, h: number, w: number): Rle {
  if (mask.length !== h * w) throw new ArgumentError('maskToRle', 'mask', `has ${mask.length} values`, `H·W = ${h * w}`);
  const counts: number[] = [];
  let cur = 0;
  let run = 0;
  for (let x = 0; x < w; x++)
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x] ? 1 : 0;
      if (v !== cur) {
        counts.push(run);
        run = 0;
        cur = v;
      }
      run++;
    }
  counts.push(run);
  return { size: [h, w], counts };
}

/** Uncompressed RLE → 0/1 mask [H, W] (rle_to_mask). */
export function rleToMask(rle: Rle): Uint8Array {
  const [h, w] = rle.size;
  const out = new Uint8Array(h * w);
  let idx = 0;
  let v = 0;
  for (const c of rle.counts) {
    if (v) for (let i = idx; i < idx + c; i++) out[(i % h) * w + Math.floor(i / h)] = 1;
    idx += c;
    v ^= 1;
  }
  if (idx !== h * w) throw new ArgumentError('rleToMask', 'rle.counts', `sum to ${idx}`, `H·W = ${h * w}`);
  return out;
}

/** Pixels covered by an RLE (area_from_rle). */
export function areaFromRle(rle: Rle): number {
  let a = 0;
  for (let i = 1; i < rle.counts.length; i += 2) a += rle.counts[i];
  return a;
}

/**
 * Connected components of the non-zero pixels of an [H, W] image, 8-connected: labels (0 = background, then
 * 1, 2, … in the raster order of each component's first pixel, as OpenCV numbers them) and each label's area.
 */
export function connectedComponents(img: ArrayLike<number>, h: number, w: number): { labels: Int32Array; count: number; areas: number[] } {
  if (img.length !== h * w) throw new ArgumentError('connectedComponents', 'img', `has ${img.length} values`, `H·W = ${h * w}`);
  const n = h * w;
  const parent = new Int32Array(n).fill(-1);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r];
    while (parent[i] !== r) {
      const next = parent[i];
      parent[i] = r;
      i = next;
    }
    return r;
  };
  // union with the smaller root so a component's root is its first pixel in raster order
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra < rb) parent[rb] = ra;
    else if (rb < ra) parent[ra] = rb;
  };
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!img[i]) continue;
      parent[i] = i;
      if (x > 0 && img[i - 1]) union(i, i - 1);
      if (y > 0) {
        const up = i - w;
        if (img[up]) union(i, up);
        if (x > 0 && img[up - 1]) union(i, up - 1);
        if (x < w - 1 && img[up + 1]) union(i, up + 1);
      }
    }
  const labels = new Int32Array(n);
  const labelOfRoot = new Map<number, number>();
  const areas = [0];
  for (let i = 0; i < n; i++) {
    if (!img[i]) {
      areas[0]++;
      continue;
    }
    const r = find(i);
    let l = labelOfRoot.get(r);
    if (l === undefined) {
      l = areas.length;
      labelOfRoot.set(r, l);
      areas.push(0);
    }
    labels[i] = l;
    areas[l]++;
  }
  return { labels, count: areas.length, areas };
}

/**
 * Removes connected regions smaller than `areaThresh` (remove_small_regions): mode 'holes' fills holes of the mask
 * (8-connected background regions) smaller than the threshold; 'islands' drops foreground regions smaller than it,
 * keeping the largest if all are small. Returns the mask (the input itself when nothing changed) and whether it changed.
 * (Only a tie for the largest of all-small islands could differ from OpenCV: here the first in raster order wins,
 * OpenCV's block-based scan may number equal-sized components otherwise.)
 */
export function removeSmallRegions(
  mask: Uint8Array,
  h: number,
  w: number,
  areaThresh: number,
  mode: 'holes' | 'islands',
): { mask: Uint8Array; changed: boolean } {
  if (mode !== 'holes' && mode !== 'islands') throw new ArgumentError('removeSmallRegions', 'mode', `is ${JSON.stringify(mode)}`, "'holes' or 'islands'");
  const holes = mode === 'holes';
  const working = holes ? mask.map((v) => (v ? 0 : 1)) : mask;
  const { labels, count, areas } = connectedComponents(working, h, w);
  const small = new Set<number>();
  for (let l = 1; l < count; l++) if (areas[l] < areaThresh) small.add(l);
  if (small.size === 0) return { mask, changed: false };
  const fill = new Uint8Array(count);
  if (holes) {
    fill[0] = 1;
    for (const l of small) fill[l] = 1;
  } else {
    let any = false;
    for (let l = 1; l < count; l++)
      if (!small.has(l)) {
        fill[l] = 1;
        any = true;
      }
    if (!any) {
      let best = 1;
      for (let l = 2; l < count; l++) if (areas[l] > areas[best]) best = l;
      fill[best] = 1;
    }
  }
  const out = new Uint8Array(h * w);
  for (let i = 0; i < out.length; i++) out[i] = fill[labels[i]];
  return { mask: out, changed: true };
}

/** Splits `n` items into batches of `size` (batch_iterator): [start, end) pairs, the last possibly shorter. */
export function batchRanges(n: number, size: number): [number, number][] {
  posInt('batchRanges', 'size', size);
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(n, s + size)]);
  return out;
}
