/**
 * Average precision from a ranked precision-recall curve, the three ways the detection benchmarks
 * integrate it: Pascal VOC's all-point interpolation (VOC2010 onwards, the devkit's `VOCap`), VOC2007's
 * 11-point interpolation, and COCO's 101-point interpolation (pycocotools' `accumulate`). Host float64 code.
 *
 * Each curve holds one (recall, precision) point per ranked detection, recall non-decreasing.
 */

/**
 * Pascal VOC's all-point average precision (VOC2010 onwards): the area under the precision envelope
 * (precision made non-increasing from the right), with the curve extended by (0, 0) before the first point
 * and (1, 0) after the last, summed over the recall steps. An empty curve gives 0.
 */
export function averagePrecisionAllPoint(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  const n = checkCurve('averagePrecisionAllPoint', recall, precision);
  const envelope = new Float64Array(n + 2);
  for (let i = 0; i < n; i++) envelope[i + 1] = precision[i];
  for (let i = n; i >= 0; i--) envelope[i] = Math.max(envelope[i], envelope[i + 1]);
  let ap = 0;
  let previous = 0;
  for (let i = 0; i <= n; i++) {
    const r = i < n ? recall[i] : 1;
    // the devkit sums only where recall changes; the closing point (1, 0) adds nothing
    if (r !== previous) ap += (r - previous) * envelope[i + 1];
    previous = r;
  }
  return ap;
}

/**
 * VOC2007's 11-point average precision: the mean over t = 0, 0.1, …, 1 of the highest precision at a recall
 * ≥ t (0 where none reaches t). The points are exact tenths k/10; the Python ports' `np.arange(0, 1.1, 0.1)`
 * gives 0.30000000000000004 for the fourth, so a recall of exactly 0.3 misses that point there and not here.
 */
export function averagePrecision11Point(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  const n = checkCurve('averagePrecision11Point', recall, precision);
  let sum = 0;
  for (let k = 0; k <= 10; k++) {
    const t = k / 10;
    let best = 0;
    for (let i = 0; i < n; i++) if (recall[i] >= t && precision[i] > best) best = precision[i];
    sum += best;
  }
  // one division at the end: eleven 1/11 terms would add up to 1.0000000000000002
  return sum / 11;
}

/**
 * COCO's recall thresholds 0, 0.01, …, 1 (101), computed as numpy's `linspace` does in pycocotools
 * (i · 0.01, the last exactly 1), so that a recall on a boundary falls on the same side.
 */
export const COCO_RECALL_THRESHOLDS: readonly number[] = Object.freeze(Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * 0.01)));

/**
 * COCO's IoU thresholds 0.5, 0.55, …, 0.95 (10), computed as numpy's `linspace` does in pycocotools.
 */
export const COCO_IOU_THRESHOLDS: readonly number[] = Object.freeze(Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.95 : 0.5 + i * ((0.95 - 0.5) / 9))));

/**
 * COCO's interpolated precision at each recall threshold (pycocotools' `accumulate`): the precision envelope
 * (non-increasing from the right) read at the first ranked detection whose recall reaches the threshold, 0
 * for thresholds beyond the curve's last recall. Its mean over {@link COCO_RECALL_THRESHOLDS} is the AP at
 * one IoU threshold.
 */
export function interpolatedPrecision101(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
  recallThresholds: readonly number[] = COCO_RECALL_THRESHOLDS,
): Float64Array {
  const n = checkCurve('interpolatedPrecision101', recall, precision);
  const envelope = Float64Array.from(precision);
  for (let i = n - 1; i > 0; i--) if (envelope[i] > envelope[i - 1]) envelope[i - 1] = envelope[i];
  const out = new Float64Array(recallThresholds.length);
  let at = 0;
  for (let k = 0; k < recallThresholds.length; k++) {
    // searchsorted(recall, threshold, side='left'): the first point with recall ≥ threshold
    const t = recallThresholds[k];
    if (k > 0 && t < recallThresholds[k - 1]) at = 0;
    while (at < n && recall[at] < t) at++;
    out[k] = at < n ? envelope[at] : 0;
  }
  return out;
}

function checkCurve(fn: string, recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  if (recall.length !== precision.length)
    throw new Error(`${fn}: recall has ${recall.length} points and precision ${precision.length}; expected equal lengths`);
  for (let i = 1; i < recall.length; i++)
    if (!(recall[i] >= recall[i - 1])) throw new Error(`${fn}: recall[${i}] = ${recall[i]} after ${recall[i - 1]}; expected a non-decreasing recall`);
  return recall.length;
}
