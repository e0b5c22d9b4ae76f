/**
 * SamAutomaticMaskGenerator (segment_anything/automatic_mask_generator.py): masks for a whole image from a grid of
 * single-point prompts, per crop layer; each batch's masks are filtered by predicted IoU and stability score, those
 * touching a crop's inner edge are dropped, duplicates removed by box NMS (detection's batchedNms, torchvision's
 * rule) within each crop and, with crop layers, across crops (smaller crops preferred); optionally small islands and
 * holes are removed and NMS runs again. The defaults are the official ones.
 *
 * Memory: the official upscales all of a batch's masks at once (points_per_batch × 3 masks of imgSize²); here the
 * low-res masks that pass the IoU filter are upscaled in chunks of at most `upscaleChunk` masks, so one batch never
 * needs more than a chunk's worth of full-size logits (a CPU adapter's bindings hold 128 MiB).
 */
import { ArgumentError } from '../base/shape';
import { batchedNms } from '../detection/nms';
import { tensor } from '../tensor/ops/creation';
import { gt } from '../tensor/ops/elementwise';
import { indexSelect } from '../tensor/ops/indexing';
import { reshape } from '../tensor/ops/shape-ops';
import { tidy } from '../tensor/scope';
import type { Tensor } from '../tensor/tensor';
import {
  type Box,
  type Rle,
  areaFromRle,
  batchRanges,
  boxXyxyToXywh,
  buildAllLayerPointGrids,
  calculateStabilityScore,
  generateCropBoxes,
  isBoxNearCropEdge,
  maskToBox,
  maskToRle,
  removeSmallRegions,
  rleToMask,
  uncropBox,
  uncropMask,
  uncropPoint,
} from './amg-utils';
import type { SamPredictor } from './predictor';
import { applyCoords, imageChannels, type ImageBytes } from './transforms';

/** Options of {@link SamAutomaticMaskGenerator} (the official arguments, camelCase, same defaults). */
export interface SamAutomaticMaskGeneratorOptions {
  /** Points a side of the grid (points_per_side²  prompts); null when `pointGrids` is given. Default 32. */
  pointsPerSide?: number | null;
  /** Prompts decoded at once. Default 64. */
  pointsPerBatch?: number;
  /** Keep masks whose predicted IoU is above this (0 turns the filter off). Default 0.88. */
  predIouThresh?: number;
  /** Keep masks whose stability score is at least this (0 turns the filter off). Default 0.95. */
  stabilityScoreThresh?: number;
  /** How far the stability score moves the logit threshold. Default 1.0. */
  stabilityScoreOffset?: number;
  /** Box IoU above which NMS drops a duplicate within a crop. Default 0.7. */
  boxNmsThresh?: number;
  /** Crop layers (layer i has 4^i crops). Default 0. */
  cropNLayers?: number;
  /** Box IoU for NMS between crops. Default 0.7. */
  cropNmsThresh?: number;
  /** Crop overlap as a fraction of the short side (first layer). Default 512/1500. */
  cropOverlapRatio?: number;
  /** Points a side shrink by this factor per crop layer. Default 1. */
  cropNPointsDownscaleFactor?: number;
  /** Explicit grids, one per crop layer, (x, y) in [0, 1] flattened; exclusive with pointsPerSide. */
  pointGrids?: Float64Array[] | null;
  /** Remove islands and fill holes smaller than this many pixels (then NMS again). Default 0 (off). */
  minMaskRegionArea?: number;
  /** 'binary_mask' (0/1 Uint8Array [H·W]) or 'uncompressed_rle'. Default 'binary_mask'. */
  outputMode?: 'binary_mask' | 'uncompressed_rle';
  /** Full-size masks upscaled at once (memory bound); 0 (default): as many as fit 32 MiB of logits (imgSize² or the crop's size, the larger). */
  upscaleChunk?: number;
}

/** One generated mask (the official record, camelCase). */
export interface SamMaskRecord {
  /** The mask: 0/1 row-major [H·W] of the image, or its uncompressed RLE. */
  segmentation: Uint8Array | Rle;
  /** Pixels in the mask. */
  area: number;
  /** Box around the mask, x, y, w, h (w, h measured between the first and last covered pixel). */
  bbox: Box;
  /** The decoder's IoU prediction. */
  predictedIou: number;
  /** The point prompt that produced it, in image pixels. */
  pointCoords: [number, number][];
  /** The stability score. */
  stabilityScore: number;
  /** The crop it came from, x, y, w, h. */
  cropBox: Box;
}

/** Masks found so far, column by column (the official MaskData). */
interface MaskData {
  rles: Rle[];
  boxes: Box[];
  iouPreds: number[];
  points: [number, number][];
  stability: number[];
  cropBoxes: Box[];
}

const emptyData = (): MaskData => ({ rles: [], boxes: [], iouPreds: [], points: [], stability: [], cropBoxes: [] });

function take(d: MaskData, idx: readonly number[]): MaskData {
  return {
    rles: idx.map((i) => d.rles[i]),
    boxes: idx.map((i) => d.boxes[i]),
    iouPreds: idx.map((i) => d.iouPreds[i]),
    points: idx.map((i) => d.points[i]),
    stability: idx.map((i) => d.stability[i]),
    cropBoxes: idx.map((i) => d.cropBoxes[i]),
  };
}

function append(a: MaskData, b: MaskData): void {
  a.rles.push(...b.rles);
  a.boxes.push(...b.boxes);
  a.iouPreds.push(...b.iouPreds);
  a.points.push(...b.points);
  a.stability.push(...b.stability);
  a.cropBoxes.push(...b.cropBoxes);
}

/** batchedNms on host boxes and scores, all in one category: the kept indices, highest score first. */
async function nmsHost(device: Tensor['device'] | undefined, boxes: readonly Box[], scores: readonly number[], iouThreshold: number): Promise<number[]> {
  if (boxes.length === 0) return [];
  const n = boxes.length;
  const b = tensor(Float32Array.from(boxes.flat()), { shape: [n, 4], device });
  const s = tensor(Float32Array.from(scores), { shape: [n], device });
  const c = tensor(new Int32Array(n), { shape: [n], dtype: 'int32', device });
  try {
    const keep = await batchedNms(b, s, c, iouThreshold);
    const idx = Array.from((await keep.data()) as Int32Array);
    keep.dispose();
    return idx;
  } finally {
    b.dispose();
    s.dispose();
    c.dispose();
  }
}

const KEYS = [
  'pointsPerSide',
  'pointsPerBatch',
  'predIouThresh',
  'stabilityScoreThresh',
  'stabilityScoreOffset',
  'boxNmsThresh',
  'cropNLayers',
  'cropNmsThresh',
  'cropOverlapRatio',
  'cropNPointsDownscaleFactor',
  'pointGrids',
  'minMaskRegionArea',
  'outputMode',
  'upscaleChunk',
];

/**
 * The automatic mask generator: every mask SAM finds from a grid of point prompts over the image (and its crops).
 *
 * @example
 * ```ts
 * import { init, random } from '@webgrad/core/node';
 * import { sam, samConfig, SamPredictor, SamAutomaticMaskGenerator } from '@webgrad/core/sam';
 * await init();
 * const model = sam(samConfig('vit_b', { encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, windowSize: 3, globalAttnIndexes: [1] } }));
 * const { params, state } = model.init(random.key(0));
 * const amg = new SamAutomaticMaskGenerator(new SamPredictor(model, params, state), { pointsPerSide: 4, predIouThresh: 0, stabilityScoreThresh: 0 });
 * const records = await amg.generate({ width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).fill(128) });
 * console.log(records.length >= 0, records[0]?.bbox); // true [x, y, w, h]
 * ```
 */
export class SamAutomaticMaskGenerator {
  /** The predictor it runs (its image is replaced by each crop, then reset). */
  readonly predictor: SamPredictor;
  /** The options with their defaults filled in. */
  readonly options: Required<Omit<SamAutomaticMaskGeneratorOptions, 'pointsPerSide' | 'pointGrids'>> & { pointsPerSide: number | null };
  /** The point grid of each crop layer. */
  readonly pointGrids: Float64Array[];

  /** A generator running `predictor` (which it does not own) with the official defaults overridden by `options`. */
  constructor(predictor: SamPredictor, options: SamAutomaticMaskGeneratorOptions = {}) {
    const fn = 'SamAutomaticMaskGenerator';
    if (typeof options !== 'object' || options === null) throw new ArgumentError(fn, 'options', `is ${typeof options}`, 'an options object');
    const bad = Object.keys(options).find((k) => !KEYS.includes(k));
    if (bad) throw new ArgumentError(fn, 'options', `has unknown key '${bad}'`, KEYS.join(', '));
    const o = {
      pointsPerSide: options.pointsPerSide === undefined ? (options.pointGrids ? null : 32) : options.pointsPerSide,
      pointsPerBatch: options.pointsPerBatch ?? 64,
      predIouThresh: options.predIouThresh ?? 0.88,
      stabilityScoreThresh: options.stabilityScoreThresh ?? 0.95,
      stabilityScoreOffset: options.stabilityScoreOffset ?? 1.0,
      boxNmsThresh: options.boxNmsThresh ?? 0.7,
      cropNLayers: options.cropNLayers ?? 0,
      cropNmsThresh: options.cropNmsThresh ?? 0.7,
      cropOverlapRatio: options.cropOverlapRatio ?? 512 / 1500,
      cropNPointsDownscaleFactor: options.cropNPointsDownscaleFactor ?? 1,
      minMaskRegionArea: options.minMaskRegionArea ?? 0,
      outputMode: options.outputMode ?? 'binary_mask',
      upscaleChunk: options.upscaleChunk ?? 0,
    };
    if ((o.pointsPerSide === null) === !options.pointGrids)
      throw new ArgumentError(
        fn,
        'pointsPerSide',
        `is ${o.pointsPerSide} with pointGrids ${options.pointGrids ? 'given' : 'not given'}`,
        'exactly one of pointsPerSide and pointGrids',
      );
    const int = (k: keyof typeof o, min: number) => {
      const v = o[k] as number;
      if (!(Number.isInteger(v) && v >= min)) throw new ArgumentError(fn, k, `is ${v}`, `an integer ≥ ${min}`);
    };
    if (o.pointsPerSide !== null) int('pointsPerSide', 1);
    int('pointsPerBatch', 1);
    int('cropNLayers', 0);
    int('cropNPointsDownscaleFactor', 1);
    int('upscaleChunk', 0);
    for (const k of ['predIouThresh', 'stabilityScoreThresh', 'stabilityScoreOffset', 'boxNmsThresh', 'cropNmsThresh', 'minMaskRegionArea'] as const)
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new ArgumentError(fn, k, `is ${o[k]}`, 'a finite number');
    if (o.outputMode !== 'binary_mask' && o.outputMode !== 'uncompressed_rle')
      throw new ArgumentError(fn, 'outputMode', `is ${JSON.stringify(o.outputMode)}`, "'binary_mask' or 'uncompressed_rle'");
    this.pointGrids =
      o.pointsPerSide !== null ? buildAllLayerPointGrids(o.pointsPerSide, o.cropNLayers, o.cropNPointsDownscaleFactor) : [...(options.pointGrids ?? [])];
    if (this.pointGrids.length < o.cropNLayers + 1)
      throw new ArgumentError(fn, 'pointGrids', `has ${this.pointGrids.length} grids`, `one per crop layer (${o.cropNLayers + 1})`);
    this.predictor = predictor;
    this.options = o;
  }

  /**
   * Every mask of an 8-bit RGB(A) image, as records. `setImage` replaces how each crop's embedding is made (e.g. from
   * a cache); by default `predictor.setImage(crop)`.
   */
  async generate(image: ImageBytes, hooks: { setImage?: (crop: ImageBytes, cropBox: Box) => void | Promise<void> } = {}): Promise<SamMaskRecord[]> {
    imageChannels('SamAutomaticMaskGenerator.generate', image);
    const o = this.options;
    let data = await this.generateMasks(image, hooks.setImage);
    if (o.minMaskRegionArea > 0) data = await this.postprocessSmallRegions(data, o.minMaskRegionArea, Math.max(o.boxNmsThresh, o.cropNmsThresh));
    return data.rles.map((rle, i) => ({
      segmentation: o.outputMode === 'binary_mask' ? rleToMask(rle) : rle,
      area: areaFromRle(rle),
      bbox: boxXyxyToXywh(data.boxes[i]),
      predictedIou: data.iouPreds[i],
      pointCoords: [data.points[i]],
      stabilityScore: data.stability[i],
      cropBox: boxXyxyToXywh(data.cropBoxes[i]),
    }));
  }

  private device(): Tensor['device'] {
    return this.predictor.getImageEmbedding().device;
  }

  private async generateMasks(image: ImageBytes, setImage?: (crop: ImageBytes, cropBox: Box) => void | Promise<void>): Promise<MaskData> {
    const o = this.options;
    const { boxes: crops, layers } = generateCropBoxes([image.height, image.width], o.cropNLayers, o.cropOverlapRatio);
    const data = emptyData();
    let device: Tensor['device'] | undefined;
    for (let c = 0; c < crops.length; c++) {
      const crop = crops[c];
      const cropped = cropImage(image, crop);
      if (setImage) await setImage(cropped, crop);
      else this.predictor.setImage(cropped);
      device = this.device();
      append(data, await this.processCrop(cropped, crop, layers[c], [image.height, image.width]));
      this.predictor.reset();
    }
    if (crops.length > 1 && device) {
      // prefer masks from smaller crops
      const scores = data.cropBoxes.map((b) => 1 / ((b[2] - b[0]) * (b[3] - b[1])));
      return take(data, await nmsHost(device, data.boxes, scores, o.cropNmsThresh));
    }
    return data;
  }

  private async processCrop(cropped: ImageBytes, crop: Box, layer: number, origSize: [number, number]): Promise<MaskData> {
    const o = this.options;
    const grid = this.pointGrids[layer];
    const n = grid.length / 2;
    const points = new Float64Array(grid.length);
    for (let i = 0; i < n; i++) {
      points[2 * i] = grid[2 * i] * cropped.width;
      points[2 * i + 1] = grid[2 * i + 1] * cropped.height;
    }
    const data = emptyData();
    for (const [s, e] of batchRanges(n, o.pointsPerBatch))
      append(data, await this.processBatch(points.subarray(2 * s, 2 * e), [cropped.height, cropped.width], crop, origSize));
    const keep = await nmsHost(this.device(), data.boxes, data.iouPreds, o.boxNmsThresh);
    const kept = take(data, keep);
    kept.boxes = kept.boxes.map((b) => uncropBox(b, crop));
    kept.points = kept.points.map((p) => uncropPoint(p, crop));
    kept.cropBoxes = kept.boxes.map(() => [...crop] as Box);
    return kept;
  }

  private async processBatch(points: Float64Array, imSize: [number, number], crop: Box, origSize: [number, number]): Promise<MaskData> {
    const o = this.options;
    const p = this.predictor;
    const device = this.device();
    const b = points.length / 2;
    const [H, W] = imSize;
    const [origH, origW] = origSize;
    const coords = tensor(Float32Array.from(applyCoords(points, imSize, p.imgSize)), { shape: [b, 1, 2], device });
    const labels = tensor(new Int32Array(b).fill(1), { shape: [b, 1], dtype: 'int32', device });
    let low: Tensor | undefined;
    let iou: Tensor | undefined;
    try {
      ({ lowResMasks: low, iouPredictions: iou } = p.predictLowRes({ pointCoords: coords, pointLabels: labels, multimaskOutput: true }));
      const M = low.shape[1];
      const L = low.shape[2];
      const ious = Array.from((await iou.data()) as Float32Array);
      // masks flattened point-major (flatten(0, 1)); each point repeated once per mask
      let idx = ious.map((_, i) => i);
      if (o.predIouThresh > 0) idx = idx.filter((i) => ious[i] > o.predIouThresh);
      const out = emptyData();
      const flat = reshape(low, [b * M, 1, L, L]);
      const per = o.upscaleChunk || Math.max(1, Math.floor((32 * 2 ** 20) / (4 * Math.max(p.imgSize ** 2, H * W))));
      try {
        for (let s = 0; s < idx.length; s += per) {
          const chunk = idx.slice(s, s + per);
          const sel = tensor(Int32Array.from(chunk), { shape: [chunk.length], dtype: 'int32', device });
          const { stab, bin } = tidy(() => {
            const logits = p.upscaleMasks(indexSelect(flat, 0, sel));
            return {
              stab: calculateStabilityScore(logits, p.model.config.maskThreshold, o.stabilityScoreOffset),
              bin: gt(logits, p.model.config.maskThreshold),
            };
          });
          sel.dispose();
          try {
            const stability = Array.from((await stab.data()) as Float32Array);
            const bits = (await bin.data()) as Uint32Array;
            for (let j = 0; j < chunk.length; j++) {
              if (o.stabilityScoreThresh > 0 && !(stability[j] >= o.stabilityScoreThresh)) continue;
              const mask = Uint8Array.from(bits.subarray(j * H * W, (j + 1) * H * W));
              const box = maskToBox(mask, H, W);
              if (isBoxNearCropEdge(box, crop, [0, 0, origW, origH])) continue;
              const k = chunk[j];
              const pt = Math.floor(k / M);
              out.rles.push(maskToRle(uncropMask(mask, crop, origH, origW), origH, origW));
              out.boxes.push(box);
              out.iouPreds.push(ious[k]);
              out.points.push([points[2 * pt], points[2 * pt + 1]]);
              out.stability.push(stability[j]);
              out.cropBoxes.push([...crop] as Box);
            }
          } finally {
            stab.dispose();
            bin.dispose();
          }
        }
      } finally {
        flat.dispose();
      }
      return out;
    } finally {
      coords.dispose();
      labels.dispose();
      low?.dispose();
      iou?.dispose();
    }
  }

  /** postprocess_small_regions: fill small holes, drop small islands, rescore (unchanged 1, changed 0) and rerun NMS. */
  private async postprocessSmallRegions(data: MaskData, minArea: number, nmsThresh: number): Promise<MaskData> {
    if (data.rles.length === 0) return data;
    const masks: Uint8Array[] = [];
    const scores: number[] = [];
    const boxes: Box[] = [];
    for (const rle of data.rles) {
      const [h, w] = rle.size;
      const a = removeSmallRegions(rleToMask(rle), h, w, minArea, 'holes');
      const b = removeSmallRegions(a.mask, h, w, minArea, 'islands');
      masks.push(b.mask);
      scores.push(a.changed || b.changed ? 0 : 1);
      boxes.push(maskToBox(b.mask, h, w));
    }
    const device = this.predictor.device;
    const keep = await nmsHost(device, boxes, scores, nmsThresh);
    for (const i of keep) {
      if (scores[i] === 0) {
        const [h, w] = data.rles[i].size;
        data.rles[i] = maskToRle(masks[i], h, w);
        data.boxes[i] = boxes[i];
      }
    }
    return take(data, keep);
  }
}

/** The pixels of `box` (x0, y0, x1, y1, exclusive ends) as a packed image of the same channel count. */
function cropImage(image: ImageBytes, box: Box): ImageBytes {
  const [x0, y0, x1, y1] = box;
  if (x0 === 0 && y0 === 0 && x1 === image.width && y1 === image.height) return image;
  const ch = image.data.length / (image.width * image.height);
  const w = x1 - x0;
  const h = y1 - y0;
  const out = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) out.set(image.data.subarray(((y + y0) * image.width + x0) * ch, ((y + y0) * image.width + x1) * ch), y * w * ch);
  return { width: w, height: h, data: out };
}
