/**
 * Pascal VOC's per-class evaluation (the devkit's `VOCevaldet`): detections of one class ranked by score
 * over all images, each matched to the ground-truth object of its class in its image with the highest
 * overlap; a hit when that overlap ≥ the threshold and the object is not yet taken, a false positive
 * otherwise (a duplicate stays a false positive even if another object would fit); a best match that is
 * difficult makes the detection neither. Internal to src/detection/metrics*.ts.
 */
import { averagePrecision11Point, averagePrecisionAllPoint } from './average-precision';
import { type ClassImage, type EvalImage, byScoreThenPosition, overlap } from './metrics-classes';
import type { ClassDetectionMetrics } from './metrics';

/** One class's VOC result: the VOC fields of the public per-class figures (documented there). */
export type VocClassResult = Pick<
  ClassDetectionMetrics,
  'groundTruth' | 'ignored' | 'detections' | 'truePositives' | 'falsePositives' | 'precision' | 'recall' | 'ap' | 'ap11'
>;

/** VOC evaluation of one class at an overlap threshold. */
export function evaluateVocClass(images: readonly EvalImage[], parts: readonly ClassImage[], iouThreshold: number): VocClassResult {
  let positives = 0;
  let ignored = 0;
  const ranked: { score: number; image: number; index: number; part: ClassImage }[] = [];
  for (const part of parts) {
    const im = images[part.image];
    for (const j of part.gts) {
      if (im.difficult[j] || im.crowd[j]) ignored++;
      else positives++;
    }
    for (const i of part.dets) ranked.push({ score: im.scores[i], image: part.image, index: i, part });
  }
  ranked.sort(byScoreThenPosition);

  const taken = new Map<ClassImage, Uint8Array>();
  const hits: boolean[] = [];
  for (const d of ranked) {
    const im = images[d.image];
    let best = 0;
    let bestAt = -1;
    d.part.gts.forEach((j, k) => {
      // the first object with the strictly highest overlap, difficult ones included (the devkit's ov > ovmax)
      const ov = overlap(im.detBoxes, d.index, im.gtBoxes, j, false);
      if (ov > best) {
        best = ov;
        bestAt = k;
      }
    });
    if (bestAt < 0 || best < iouThreshold) {
      hits.push(false);
      continue;
    }
    const j = d.part.gts[bestAt];
    if (im.difficult[j] || im.crowd[j]) continue; // neither a hit nor a miss
    let flags = taken.get(d.part);
    if (!flags) taken.set(d.part, (flags = new Uint8Array(d.part.gts.length)));
    hits.push(!flags[bestAt]);
    flags[bestAt] = 1;
  }

  const precision = new Float64Array(hits.length);
  const recall = new Float64Array(hits.length);
  let tp = 0;
  hits.forEach((hit, k) => {
    if (hit) tp++;
    precision[k] = tp / (k + 1);
    recall[k] = positives > 0 ? tp / positives : 0;
  });
  const none = positives === 0;
  return {
    groundTruth: positives,
    ignored,
    detections: ranked.length,
    truePositives: tp,
    falsePositives: hits.length - tp,
    precision,
    recall,
    ap: none ? Number.NaN : averagePrecisionAllPoint(recall, precision),
    ap11: none ? Number.NaN : averagePrecision11Point(recall, precision),
  };
}
