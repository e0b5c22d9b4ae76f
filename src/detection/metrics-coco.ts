/**
 * COCO's per-class evaluation (pycocotools' `COCOeval.evaluateImg` and `accumulate` for box detections):
 * in each image, the class's detections by descending score (at most `maxDetections`) are matched greedily,
 * at each IoU threshold, to the unmatched object with the highest IoU ≥ the threshold (ignored objects only
 * when no counted one fits; crowd regions may take several detections); detections matched to an ignored
 * object, and unmatched detections whose area is outside the range, are left out. The detections of all
 * images are then ranked by score and the AP is the mean of the 101-point interpolated precision.
 * Internal to src/detection/metrics*.ts.
 */
import { COCO_IOU_THRESHOLDS, interpolatedPrecision101 } from './average-precision';
import { type ClassImage, type EvalImage, boxAreaAt, byScoreThenPosition, overlap } from './metrics-classes';

/** One class's COCO result in one area range. */
export interface CocoClassResult {
  /** Objects that count (not difficult, not crowd, area in range). */
  positives: number;
  /** AP at each of {@link COCO_IOU_THRESHOLDS}; NaN without positives. */
  apPerThreshold: Float64Array;
  /** Recall at each threshold (of the at most `maxDetections` per image); NaN without positives. */
  recallPerThreshold: Float64Array;
}

interface Ranked {
  score: number;
  image: number;
  index: number;
  /** Per threshold: matched to an object. */
  matched: Uint8Array;
  /** Per threshold: left out (matched to an ignored object, or unmatched with its area out of range). */
  ignored: Uint8Array;
}

/** COCO evaluation of one class: box areas in [areaRange[0], areaRange[1]] count (COCO's inclusive bounds). */
export function evaluateCocoClass(
  images: readonly EvalImage[],
  parts: readonly ClassImage[],
  maxDetections: number,
  areaRange: readonly [number, number],
): CocoClassResult {
  const T = COCO_IOU_THRESHOLDS.length;
  const [lo, hi] = areaRange;
  const outOfRange = (boxes: Float64Array, i: number) => {
    const a = boxAreaAt(boxes, i);
    return a < lo || a > hi;
  };
  let positives = 0;
  const ranked: Ranked[] = [];
  for (const part of parts) {
    const im = images[part.image];
    // objects: counted ones first, ignored ones after (pycocotools' stable argsort on the ignore flag)
    const gtIgnored = (j: number) => im.difficult[j] === 1 || im.crowd[j] === 1 || outOfRange(im.gtBoxes, j);
    const gts = [...part.gts.filter((j) => !gtIgnored(j)), ...part.gts.filter(gtIgnored)];
    const ignoredGt = gts.map(gtIgnored);
    positives += ignoredGt.filter((x) => !x).length;
    const dets = part.dets
      .map((i) => ({ score: im.scores[i], image: part.image, index: i }))
      .sort(byScoreThenPosition)
      .slice(0, maxDetections);
    const ious = dets.map((d) => gts.map((j) => overlap(im.detBoxes, d.index, im.gtBoxes, j, im.crowd[j] === 1)));
    const rows: Ranked[] = dets.map((d) => ({ score: d.score, image: d.image, index: d.index, matched: new Uint8Array(T), ignored: new Uint8Array(T) }));
    for (let t = 0; t < T; t++) {
      const taken = new Uint8Array(gts.length);
      rows.forEach((row, d) => {
        let best = Math.min(COCO_IOU_THRESHOLDS[t], 1 - 1e-10);
        let m = -1;
        for (let g = 0; g < gts.length; g++) {
          if (taken[g] && !im.crowd[gts[g]]) continue;
          // a counted match is never traded for an ignored object
          if (m > -1 && !ignoredGt[m] && ignoredGt[g]) break;
          if (ious[d][g] < best) continue;
          best = ious[d][g]; // ≥: of equal IoUs the later object wins, as in pycocotools
          m = g;
        }
        if (m === -1) {
          row.ignored[t] = outOfRange(im.detBoxes, row.index) ? 1 : 0;
          return;
        }
        row.matched[t] = 1;
        row.ignored[t] = ignoredGt[m] ? 1 : 0;
        taken[m] = 1;
      });
    }
    ranked.push(...rows);
  }
  ranked.sort(byScoreThenPosition);

  const apPerThreshold = new Float64Array(T).fill(Number.NaN);
  const recallPerThreshold = new Float64Array(T).fill(Number.NaN);
  if (positives === 0) return { positives, apPerThreshold, recallPerThreshold };
  const n = ranked.length;
  const recall = new Float64Array(n);
  const precision = new Float64Array(n);
  for (let t = 0; t < T; t++) {
    let tp = 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const r = ranked[i];
      if (r.ignored[t]) continue;
      if (r.matched[t]) tp++;
      recall[k] = tp / positives;
      // pycocotools adds 2⁻⁵² to the denominator; tp + fp = k + 1 ≥ 1 here, so it would only shave an ulp off 1
      precision[k] = tp / (k + 1);
      k++;
    }
    const q = interpolatedPrecision101(recall.subarray(0, k), precision.subarray(0, k));
    apPerThreshold[t] = q.reduce((s, v) => s + v, 0) / q.length;
    recallPerThreshold[t] = k > 0 ? recall[k - 1] : 0;
  }
  return { positives, apPerThreshold, recallPerThreshold };
}
