/**
 * Salient-object-detection metrics of ONE prediction (in [0, 1]; ground truth foreground where ≥ 0.5),
 * computed by the same code as the dataset-level evaluator (./evaluate.ts), so a one-image dataset
 * gives the same numbers: MAE; max/mean/adaptive F-measure (β² = 0.3) over the 256 thresholds of
 * the prediction quantised to 0–255; S-measure (Fan et al., ICCV 2017); E-measure (Fan et al.,
 * IJCAI 2018, divided by N − 1 as the reference code, also for an all-background or all-foreground
 * truth); IoU and Dice of the prediction binarised at > threshold. For a paper-comparable table over
 * a test set use SodEvaluator / evaluateSod: their max/mean are of the curve averaged over images.
 */
import { prepareSodPair, scoreSodImage, structureMeasure, type PreparedSodPair, type SodImageScores } from './evaluate';

function prepare(fn: string, pred: ArrayLike<number>, gt: ArrayLike<number>, height?: number, width?: number): PreparedSodPair {
  if (pred.length !== gt.length) throw new Error(`${fn}: prediction has ${pred.length} values, ground truth ${gt.length}; expected equal sizes`);
  if (pred.length === 0) throw new Error(`${fn}: empty input; expected at least one value`);
  if (height !== undefined && width !== undefined && height * width !== pred.length)
    throw new Error(`${fn}: ${height}×${width} does not match ${pred.length} values`);
  try {
    return prepareSodPair(pred, gt, height ?? 1, width ?? pred.length, 'unit');
  } catch (e) {
    throw new Error((e as Error).message.replace(/^prepareSodPair/, fn));
  }
}

const maxOf = (c: Float64Array) => c.reduce((a, b) => Math.max(a, b), -Infinity);
const meanOf = (c: Float64Array) => c.reduce((a, b) => a + b, 0) / c.length;

/** Mean absolute error between a prediction and ground truth in [0, 1], as the SOD literature reports it. */
export function mae(pred: ArrayLike<number>, gt: ArrayLike<number>): number {
  const p = prepare('mae', pred, gt);
  let s = 0;
  for (let i = 0; i < p.pred.length; i++) s += Math.abs(p.pred[i] - p.gt[i]);
  return s / p.pred.length;
}

/** F-measure (β² = 0.3) over the 256 thresholds: max and mean of this image's curve; adaptive at min(2·mean(pred), 1). */
export function fMeasure(pred: ArrayLike<number>, gt: ArrayLike<number>): { max: number; mean: number; adaptive: number } {
  const s = scoreSodImage(prepare('fMeasure', pred, gt));
  return { max: maxOf(s.fmeasure), mean: meanOf(s.fmeasure), adaptive: s.adpFm };
}

/** Enhanced-alignment measure: adaptive (threshold min(2·mean, 1)), and mean/max over the 256 thresholds. */
export function eMeasure(pred: ArrayLike<number>, gt: ArrayLike<number>): { adaptive: number; mean: number; max: number } {
  const s = scoreSodImage(prepare('eMeasure', pred, gt));
  return { adaptive: s.adpEm, mean: meanOf(s.emeasure), max: maxOf(s.emeasure) };
}

/** Options of {@link iou} and {@link dice}. */
export interface OverlapOptions {
  /** the score when prediction and truth are both empty: 0 as PySODMetrics (default) or 1 */
  empty?: 0 | 1;
}

function overlap(fn: string, pred: ArrayLike<number>, gt: ArrayLike<number>, threshold: number, options: OverlapOptions, dice: boolean): number {
  const p = prepare(fn, pred, gt);
  let tp = 0,
    fp = 0,
    fnCount = 0;
  for (let i = 0; i < p.gt.length; i++) {
    const on = p.pred[i] > threshold;
    if (on && p.gt[i]) tp++;
    else if (on) fp++;
    else if (p.gt[i]) fnCount++;
  }
  if (tp + fp + fnCount === 0) return options.empty ?? 0;
  return dice ? (2 * tp) / (2 * tp + fp + fnCount) : tp / (tp + fp + fnCount);
}

/** IoU of the prediction binarised at > threshold (PySODMetrics' binary form). */
export const iou = (pred: ArrayLike<number>, gt: ArrayLike<number>, threshold = 0.5, options: OverlapOptions = {}): number =>
  overlap('iou', pred, gt, threshold, options, false);

/** Dice of the prediction binarised at > threshold. */
export const dice = (pred: ArrayLike<number>, gt: ArrayLike<number>, threshold = 0.5, options: OverlapOptions = {}): number =>
  overlap('dice', pred, gt, threshold, options, true);

/** Structure measure with α = 0.5. */
export function sMeasure(pred: ArrayLike<number>, gt: ArrayLike<number>, height: number, width: number): number {
  return structureMeasure(prepare('sMeasure', pred, gt, height, width));
}

/** The per-image scores of {@link sodScores}: MAE, F-measures, S-measure, E-measures, IoU and Dice. */
export interface SodScores {
  /** Mean absolute error. */
  mae: number;
  /** Largest F-measure (β² = 0.3) over the thresholds. */
  maxF: number;
  /** Mean F-measure over the thresholds. */
  meanF: number;
  /** F-measure at the adaptive threshold (twice the mean prediction). */
  adaptiveF: number;
  /** Structure measure (Fan et al. 2017). */
  sMeasure: number;
  /** Enhanced-alignment measure (Fan et al. 2018). */
  eMeasure: number;
  /** IoU at threshold 0.5. */
  iou: number;
  /** Dice at threshold 0.5. */
  dice: number;
}

/**
 * Every metric for one prediction (eMeasure is the adaptive one; iou/dice at > 0.5).
 *
 * @example
 * ```ts
 * import { sodScores } from '@webgrad/core/sod';
 * const gt = new Float32Array(16).fill(0).fill(1, 4, 12); // a 4×4 mask, rows 1–2 foreground
 * const pred = gt.map((v) => v * 0.9);
 * const s = sodScores(pred, gt, 4, 4);
 * console.log(s.mae, s.maxF, s.sMeasure); // 0.05 and scores near 1
 * ```
 */
export function sodScores(pred: ArrayLike<number>, gt: ArrayLike<number>, height: number, width: number): SodScores {
  const s: SodImageScores = scoreSodImage(prepare('sodScores', pred, gt, height, width));
  return {
    mae: s.MAE,
    maxF: maxOf(s.fmeasure),
    meanF: meanOf(s.fmeasure),
    adaptiveF: s.adpFm,
    sMeasure: s.Smeasure,
    eMeasure: s.adpEm,
    iou: s.IoU,
    dice: s.Dice,
  };
}
