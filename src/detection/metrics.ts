/**
 * Detection metrics over a set of images, as the two benchmarks compute them (host float64 code,
 * runtime-neutral):
 *  - Pascal VOC (the devkit's `VOCevaldet` / `VOCap`): per-class AP with all-point interpolation (VOC2010
 *    onwards) and the 11-point variant (VOC2007), mAP at one IoU threshold (0.5 by default); difficult
 *    objects are neither hits nor misses;
 *  - COCO (pycocotools' `COCOeval` for boxes, area "all", maxDets 100): AP averaged over IoU 0.5:0.05:0.95,
 *    AP50, AP75, AR@100, 101-point interpolation; optionally the small / medium / large area ranges.
 *
 * Conventions, where the references differ among themselves:
 *  - boxes are continuous corner boxes (x1, y1, x2, y2): width x2 − x1, no "+1 pixel" as the VOC devkit adds
 *    for its integer pixel boxes (COCO's convention);
 *  - a match needs IoU ≥ threshold, as the VOC devkit (`ovmax >= minoverlap`) and pycocotools do
 *    (py-faster-rcnn's `voc_eval.py` uses `>`);
 *  - detections with equal scores rank by image, then by their index in the image (a stable sort);
 *  - a class with no ground truth that counts (all its objects difficult, or none) has AP NaN and is left out
 *    of the means (pycocotools' −1, the VOC devkit's 0/0); its detections count nowhere. An image without
 *    detections only adds objects to find; an image without ground truth makes its detections false positives.
 *  - COCO treats VOC's difficult objects as its ignored ones (pycocotools' `ignore` flag), and VOC treats
 *    COCO's crowd regions as difficult.
 */
import { ArgumentError } from '../base/shape';
import { evaluateCocoClass } from './metrics-coco';
import { type EvalImage, splitByClass } from './metrics-classes';
import { evaluateVocClass } from './metrics-voc';
import type { ImageDetections, ImageGroundTruth } from './types';

/** Ground truth with COCO's crowd flags, accepted wherever {@link ImageGroundTruth} is. */
export interface CrowdGroundTruth extends ImageGroundTruth {
  /**
   * COCO's `iscrowd` flags (1 = a crowd region): never a miss, and any number of detections inside it
   * (intersection over the detection's area ≥ threshold) are left out rather than counted as false positives.
   */
  iscrowd?: Uint8Array;
}

/** Options of {@link evaluateDetections} and {@link DetectionEvaluator}. */
export interface DetectionEvaluationOptions {
  /** VOC's IoU threshold for a hit, in (0, 1] (default 0.5). */
  iouThreshold?: number;
  /**
   * The number of classes: ids 0 … numClasses − 1 are reported (classes never seen get NaN) and larger ids
   * are an error. Default: the ids seen in the detections and the ground truth.
   */
  numClasses?: number;
  /** Compute the COCO metrics too (default true; 10 IoU thresholds, about 10× VOC's matching work). */
  coco?: boolean;
  /** COCO's maxDets: detections kept per image and class, highest scores first (default 100). */
  maxDetections?: number;
  /**
   * Also COCO's small / medium / large AP (box areas below 32², between 32² and 96², above 96²). Meaningful only
   * for boxes in pixels (default false).
   */
  areaRanges?: boolean;
}

/** One class's figures in a {@link DetectionMetrics}. */
export interface ClassDetectionMetrics {
  /** The class id. */
  classId: number;
  /** Ground-truth objects that count (not difficult, not crowd): VOC's npos. */
  groundTruth: number;
  /** Ground-truth objects ignored (difficult or crowd). */
  ignored: number;
  /** Detections of the class. */
  detections: number;
  /** VOC hits at the IoU threshold. */
  truePositives: number;
  /** VOC false positives at the IoU threshold (low overlap, duplicates, wrong image). */
  falsePositives: number;
  /** VOC precision after each ranked detection (detections matched to an ignored object are left out). */
  precision: Float64Array;
  /** VOC recall after each ranked detection, matching {@link ClassDetectionMetrics.precision}. */
  recall: Float64Array;
  /** VOC AP, all-point interpolation (NaN without ground truth). */
  ap: number;
  /** VOC2007 AP, 11-point interpolation (NaN without ground truth). */
  ap11: number;
  /** COCO AP over IoU 0.5:0.95 (NaN without ground truth or with `coco: false`). */
  cocoAp: number;
  /** COCO AP at IoU 0.5 (101-point interpolation; NaN as {@link ClassDetectionMetrics.cocoAp}). */
  cocoAp50: number;
  /** COCO AP at IoU 0.75 (NaN as {@link ClassDetectionMetrics.cocoAp}). */
  cocoAp75: number;
}

/** The result of {@link evaluateDetections} and {@link DetectionEvaluator.compute}. Means are over classes with ground truth. */
export interface DetectionMetrics {
  /** Images evaluated. */
  images: number;
  /** The VOC IoU threshold used. */
  iouThreshold: number;
  /** Classes with ground truth that count: those the means average over. */
  classes: number;
  /** VOC mAP at the IoU threshold, all-point interpolation (NaN when no class has ground truth). */
  map: number;
  /** VOC2007 mAP, 11-point interpolation. */
  map11: number;
  /** COCO AP@[.5:.95] (NaN with `coco: false`). */
  cocoAp: number;
  /** COCO AP at IoU 0.5. */
  cocoAp50: number;
  /** COCO AP at IoU 0.75. */
  cocoAp75: number;
  /** COCO AR at `maxDetections` per image, averaged over IoU 0.5:0.95. */
  cocoAr: number;
  /** COCO AP@[.5:.95] for boxes of area < 32² (NaN unless `areaRanges`, or without such objects). */
  cocoApSmall: number;
  /** COCO AP@[.5:.95] for areas in [32², 96²]. */
  cocoApMedium: number;
  /** COCO AP@[.5:.95] for areas > 96². */
  cocoApLarge: number;
  /** Per class, by ascending id. */
  perClass: ClassDetectionMetrics[];
}

const FN_ADD = 'DetectionEvaluator.add';
const COCO_AREAS = { small: [0, 32 ** 2], medium: [32 ** 2, 96 ** 2], large: [96 ** 2, 1e10], all: [0, 1e10] } as const;

/**
 * Accumulates detections and ground truth image by image (say, batch by batch over a validation set) and
 * computes the metrics of the whole set at the end. Arrays are copied on `add`, so callers may reuse them.
 */
export class DetectionEvaluator {
  private readonly store: EvalImage[] = [];
  private readonly iouThreshold: number;
  private readonly numClasses: number | undefined;
  private readonly coco: boolean;
  private readonly maxDetections: number;
  private readonly areaRanges: boolean;

  /** An empty evaluator; the options are checked here. */
  constructor(options: DetectionEvaluationOptions = {}) {
    const fn = 'DetectionEvaluator';
    const { iouThreshold = 0.5, numClasses, coco = true, maxDetections = 100, areaRanges = false } = options;
    if (typeof iouThreshold !== 'number' || !(iouThreshold > 0 && iouThreshold <= 1))
      throw new ArgumentError(fn, 'iouThreshold', `is ${iouThreshold}`, 'a number in (0, 1]');
    if (numClasses !== undefined && !(Number.isInteger(numClasses) && numClasses >= 0))
      throw new ArgumentError(fn, 'numClasses', `is ${numClasses}`, 'a non-negative integer');
    if (!(Number.isInteger(maxDetections) && maxDetections >= 1)) throw new ArgumentError(fn, 'maxDetections', `is ${maxDetections}`, 'a positive integer');
    this.iouThreshold = iouThreshold;
    this.numClasses = numClasses;
    this.coco = coco;
    this.maxDetections = maxDetections;
    this.areaRanges = areaRanges;
  }

  /** Images added so far. */
  get images(): number {
    return this.store.length;
  }

  /**
   * Adds images: `detections[i]` and `groundTruth[i]` belong to the same image (one image, or arrays of equal
   * length). Checks every array's length, finite values, non-negative integer classes and ordered corners.
   */
  add(
    detections: ImageDetections | readonly ImageDetections[],
    groundTruth: ImageGroundTruth | CrowdGroundTruth | readonly (ImageGroundTruth | CrowdGroundTruth)[],
  ): void {
    const dets = Array.isArray(detections) ? detections : [detections as ImageDetections];
    const gts = Array.isArray(groundTruth) ? groundTruth : [groundTruth as CrowdGroundTruth];
    if (dets.length !== gts.length) throw new ArgumentError(FN_ADD, 'groundTruth', `has ${gts.length} images`, `one per image of detections (${dets.length})`);
    const checked = dets.map((d, i) => checkImage(d, gts[i], this.store.length + i, this.numClasses));
    this.store.push(...checked);
  }

  /** Forgets every image added. */
  reset(): void {
    this.store.length = 0;
  }

  /** The metrics of every image added so far. */
  compute(): DetectionMetrics {
    const byClass = splitByClass(this.store);
    const ids = this.numClasses === undefined ? [...byClass.keys()].sort((a, b) => a - b) : Array.from({ length: this.numClasses }, (_, c) => c);
    const cocoAll = new Map(
      ids.map((c) => [c, this.coco ? evaluateCocoClass(this.store, byClass.get(c) ?? [], this.maxDetections, COCO_AREAS.all) : undefined]),
    );
    const perClass = ids.map((classId): ClassDetectionMetrics => {
      const voc = evaluateVocClass(this.store, byClass.get(classId) ?? [], this.iouThreshold);
      const coco = cocoAll.get(classId);
      return {
        classId,
        ...voc,
        cocoAp: coco ? mean(coco.apPerThreshold) : Number.NaN,
        cocoAp50: coco ? coco.apPerThreshold[0] : Number.NaN,
        cocoAp75: coco ? coco.apPerThreshold[5] : Number.NaN,
      };
    });
    const areaAp = { small: Number.NaN, medium: Number.NaN, large: Number.NaN };
    if (this.coco && this.areaRanges)
      for (const area of ['small', 'medium', 'large'] as const)
        areaAp[area] = meanOf(ids.map((c) => mean(evaluateCocoClass(this.store, byClass.get(c) ?? [], this.maxDetections, COCO_AREAS[area]).apPerThreshold)));
    return {
      images: this.store.length,
      iouThreshold: this.iouThreshold,
      classes: perClass.filter((c) => c.groundTruth > 0).length,
      map: meanOf(perClass.map((c) => c.ap)),
      map11: meanOf(perClass.map((c) => c.ap11)),
      cocoAp: meanOf(perClass.map((c) => c.cocoAp)),
      cocoAp50: meanOf(perClass.map((c) => c.cocoAp50)),
      cocoAp75: meanOf(perClass.map((c) => c.cocoAp75)),
      cocoAr: meanOf([...cocoAll.values()].map((c) => (c ? mean(c.recallPerThreshold) : Number.NaN))),
      cocoApSmall: areaAp.small,
      cocoApMedium: areaAp.medium,
      cocoApLarge: areaAp.large,
      perClass,
    };
  }
}

/**
 * The detection metrics of a set of images: `detections[i]` and `groundTruth[i]` describe image i. See
 * {@link DetectionEvaluator} to accumulate batch by batch, {@link DetectionMetrics} for what comes back and
 * this module's comment for the conventions.
 */
export function evaluateDetections(
  detections: readonly ImageDetections[],
  groundTruth: readonly (ImageGroundTruth | CrowdGroundTruth)[],
  options: DetectionEvaluationOptions = {},
): DetectionMetrics {
  const ev = new DetectionEvaluator(options);
  ev.add(detections, groundTruth);
  return ev.compute();
}

/** Mean of all values (NaN if any is NaN). */
function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length > 0 ? s / values.length : Number.NaN;
}

/** Mean of the values that are not NaN (NaN when none is). */
function meanOf(values: readonly number[]): number {
  return mean(values.filter((v) => !Number.isNaN(v)));
}

function checkImage(det: ImageDetections, gt: CrowdGroundTruth, image: number, numClasses: number | undefined): EvalImage {
  const n = det.labels.length;
  const g = gt.labels.length;
  const where = `image ${image}`;
  if (det.scores.length !== n)
    throw new ArgumentError(FN_ADD, 'detections', `has ${det.scores.length} scores for ${n} labels in ${where}`, 'one score per label');
  if (det.boxes.length !== 4 * n)
    throw new ArgumentError(FN_ADD, 'detections', `has ${det.boxes.length} box values for ${n} labels in ${where}`, `4 per label (${4 * n})`);
  if (gt.boxes.length !== 4 * g)
    throw new ArgumentError(FN_ADD, 'groundTruth', `has ${gt.boxes.length} box values for ${g} labels in ${where}`, `4 per label (${4 * g})`);
  for (const [name, flags] of [
    ['difficult', gt.difficult],
    ['iscrowd', gt.iscrowd],
  ] as const)
    if (flags && flags.length !== g)
      throw new ArgumentError(FN_ADD, 'groundTruth', `has ${flags.length} ${name} flags for ${g} labels in ${where}`, 'one per label');
  checkLabels('detections', det.labels, where, numClasses);
  checkLabels('groundTruth', gt.labels, where, numClasses);
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(det.scores[i])) throw new ArgumentError(FN_ADD, 'detections', `has score ${det.scores[i]} at ${i} in ${where}`, 'finite scores');
  const detBoxes = checkBoxes('detections', det.boxes, where);
  const gtBoxes = checkBoxes('groundTruth', gt.boxes, where);
  return {
    detBoxes,
    scores: Float64Array.from(det.scores),
    detLabels: Int32Array.from(det.labels),
    gtBoxes,
    gtLabels: Int32Array.from(gt.labels),
    difficult: gt.difficult ? Uint8Array.from(gt.difficult, (v) => (v ? 1 : 0)) : new Uint8Array(g),
    crowd: gt.iscrowd ? Uint8Array.from(gt.iscrowd, (v) => (v ? 1 : 0)) : new Uint8Array(g),
  };
}

function checkLabels(arg: string, labels: Int32Array, where: string, numClasses: number | undefined): void {
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || (numClasses !== undefined && c >= numClasses))
      throw new ArgumentError(
        FN_ADD,
        arg,
        `has class ${c} at ${i} in ${where}`,
        numClasses === undefined ? 'integer class ids ≥ 0' : `integer class ids in [0, ${numClasses})`,
      );
  }
}

function checkBoxes(arg: string, boxes: Float32Array, where: string): Float64Array {
  for (let i = 0; i < boxes.length; i += 4) {
    const [x1, y1, x2, y2] = [boxes[i], boxes[i + 1], boxes[i + 2], boxes[i + 3]];
    if (!(Number.isFinite(x1) && Number.isFinite(y1) && Number.isFinite(x2) && Number.isFinite(y2) && x2 >= x1 && y2 >= y1))
      throw new ArgumentError(FN_ADD, arg, `has box [${x1}, ${y1}, ${x2}, ${y2}] at ${i / 4} in ${where}`, 'finite corner boxes with x2 ≥ x1 and y2 ≥ y1');
  }
  return Float64Array.from(boxes);
}
