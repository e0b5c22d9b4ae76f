/**
 * Detection metrics (src/detection/metrics.ts) on cases worked by hand (the working is in the comments),
 * the conventions where VOC and COCO differ, edge cases, input errors, and fast-check properties.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { DetectionEvaluator, evaluateDetections, type CrowdGroundTruth } from '../../src/detection/metrics';
import {
  averagePrecision11Point,
  averagePrecisionAllPoint,
  interpolatedPrecision101,
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_THRESHOLDS,
} from '../../src/detection/average-precision';
import type { ImageDetections, ImageGroundTruth } from '../../src/detection/types';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../src/base/mulberry32';

type Box = [number, number, number, number];

function dets(...rows: [number, number, Box][]): ImageDetections {
  return {
    labels: Int32Array.from(rows.map((r) => r[0])),
    scores: Float32Array.from(rows.map((r) => r[1])),
    boxes: Float32Array.from(rows.flatMap((r) => r[2])),
  };
}

function truth(...rows: [number, Box, number?][]): ImageGroundTruth {
  return {
    labels: Int32Array.from(rows.map((r) => r[0])),
    boxes: Float32Array.from(rows.flatMap((r) => r[1])),
    difficult: Uint8Array.from(rows.map((r) => r[2] ?? 0)),
  };
}

describe('evaluateDetections: Pascal VOC, worked by hand', () => {
  // Class 0 ("cat"), objects: A a1 [0,0,10,10], A a2 [20,20,30,30], B b1 [0,0,10,10], B b2 [50,50,60,60]
  // difficult, C c1 [0,0,10,10] (never detected) → npos = 4. Class 1 ("dog"): A [0,0,20,20] → npos = 1.
  // Image D has no ground truth.
  //
  // class 0 detections by score            best object, IoU        outcome
  //   d1 .9  A [0,0,10,10]                 a1, 1                   TP
  //   d2 .8  A [1,0,11,10]                 a1, 90/110 = .818       FP (a1 taken: duplicate)
  //   d3 .7  B [0,0,10,8]                  b1, 80/100 = .8         TP
  //   d4 .6  B [50,50,60,60]               b2, 1 (difficult)       neither: left out
  //   d5 .5  C [30,30,40,40]               none                    FP
  //   d6 .4  A [20,20,30,35]               a2, 100/150 = .667      TP
  //   d7 .3  D [0,0,5,5]                   no object in D          FP
  //
  //   rank  det  TP  FP  precision  recall   envelope
  //    1    d1   1   0   1          1/4      1
  //    2    d2   1   1   1/2        1/4      2/3
  //    3    d3   2   1   2/3        2/4      2/3
  //    4    d5   2   2   2/4        2/4      3/5
  //    5    d6   3   2   3/5        3/4      3/5
  //    6    d7   3   3   3/6        3/4      1/2
  // all-point: (1/4)·1 + (1/4)·(2/3) + (1/4)·(3/5) = 1/4 + 1/6 + 3/20 = 17/30 (recall 3/4 → 1 adds 0)
  // 11-point: t = 0, .1, .2 → 1; t = .3, .4, .5 → 2/3; t = .6, .7 → 3/5; t = .8, .9, 1 → 0
  //           (3 + 2 + 1.2) / 11 = 6.2/11
  //
  // class 1 detections: e1 .95 B [0,0,10,10] → no dog in B: FP (the cat b1 there is another class)
  //                     e2 .85 A [0,0,20,10] → IoU 200/400 = .5 exactly: TP (IoU ≥ threshold)
  //   rank 1: precision 0, recall 0; rank 2: precision 1/2, recall 1
  //   all-point: 1 · 1/2 = 1/2; 11-point: every t finds precision 1/2 at recall 1 → 1/2
  const detections = [
    dets([0, 0.9, [0, 0, 10, 10]], [0, 0.8, [1, 0, 11, 10]], [0, 0.4, [20, 20, 30, 35]], [1, 0.85, [0, 0, 20, 10]]),
    dets([1, 0.95, [0, 0, 10, 10]], [0, 0.7, [0, 0, 10, 8]], [0, 0.6, [50, 50, 60, 60]]),
    dets([0, 0.5, [30, 30, 40, 40]]),
    dets([0, 0.3, [0, 0, 5, 5]]),
  ];
  const groundTruth = [
    truth([0, [0, 0, 10, 10]], [0, [20, 20, 30, 30]], [1, [0, 0, 20, 20]]),
    truth([0, [0, 0, 10, 10]], [0, [50, 50, 60, 60], 1]),
    truth([0, [0, 0, 10, 10]]),
    truth(),
  ];
  const r = evaluateDetections(detections, groundTruth);

  it('pins the per-class curve, counts and APs', () => {
    const [cat, dog] = r.perClass;
    expect(cat.classId).toBe(0);
    expect([cat.groundTruth, cat.ignored, cat.detections, cat.truePositives, cat.falsePositives]).toEqual([4, 1, 7, 3, 3]);
    expect([...cat.precision]).toEqual([1, 1 / 2, 2 / 3, 2 / 4, 3 / 5, 3 / 6]);
    expect([...cat.recall]).toEqual([1 / 4, 1 / 4, 2 / 4, 2 / 4, 3 / 4, 3 / 4]);
    expect(cat.ap).toBeCloseTo(17 / 30, 15);
    expect(cat.ap11).toBeCloseTo(6.2 / 11, 15);
    expect([dog.groundTruth, dog.detections, dog.truePositives, dog.falsePositives]).toEqual([1, 2, 1, 1]);
    expect([...dog.precision]).toEqual([0, 1 / 2]);
    expect(dog.ap).toBe(0.5);
    expect(dog.ap11).toBeCloseTo(0.5, 15);
  });

  it('mAP is the mean over classes', () => {
    expect(r.images).toBe(4);
    expect(r.classes).toBe(2);
    expect(r.map).toBeCloseTo((17 / 30 + 1 / 2) / 2, 15);
    expect(r.map11).toBeCloseTo((6.2 / 11 + 1 / 2) / 2, 15);
  });

  it('a stricter threshold turns the IoU-.5 dog into a miss', () => {
    const strict = evaluateDetections(detections, groundTruth, { iouThreshold: 0.51 });
    expect(strict.perClass[1].ap).toBe(0);
    // the cats' overlaps are ≥ .667: unchanged
    expect(strict.perClass[0].ap).toBeCloseTo(17 / 30, 15);
  });

  it('the streaming evaluator gives the same figures batch by batch', () => {
    const ev = new DetectionEvaluator();
    ev.add(detections.slice(0, 3), groundTruth.slice(0, 3));
    ev.add(detections[3], groundTruth[3]);
    expect(ev.images).toBe(4);
    expect(ev.compute()).toEqual(r);
    ev.reset();
    expect(ev.images).toBe(0);
  });
});

describe('evaluateDetections: COCO, worked by hand', () => {
  // One class; objects g1 [0,0,100,100], g2 [200,0,300,100]. Detections: p1 .9 [0,0,100,92] (IoU .92 with g1),
  // p2 .8 [400,0,500,100] (nothing), p3 .7 [200,0,300,62] (IoU .62 with g2).
  // IoU thresholds .5, .55, .6: TP FP TP → recall .5 .5 1, precision 1 .5 2/3, envelope 1 2/3 2/3:
  //   recall thresholds 0 … .50 (51) read rank 1 → 1, .51 … 1 (50) read rank 3 → 2/3: AP = (51 + 100/3)/101 = 253/303
  // thresholds .65 … .9 (6): TP FP FP → recall .5 throughout: 51 thresholds at 1, 50 at 0: AP = 51/101
  // threshold .95: nothing matches: AP 0
  // AP@[.5:.95] = (3·253/303 + 6·51/101)/10 = 559/1010; AR = (3·1 + 6·.5 + 0)/10 = .6
  // VOC at .5 on the same ranking: .5·1 + .5·(2/3) = 5/6 (not 253/303: all-point, not 101-point)
  const r = evaluateDetections(
    [dets([0, 0.9, [0, 0, 100, 92]], [0, 0.8, [400, 0, 500, 100]], [0, 0.7, [200, 0, 300, 62]])],
    [truth([0, [0, 0, 100, 100]], [0, [200, 0, 300, 100]])],
  );

  it('AP50, AP75, AP@[.5:.95] and AR differ as worked out', () => {
    expect(r.cocoAp50).toBeCloseTo(253 / 303, 14);
    expect(r.cocoAp75).toBeCloseTo(51 / 101, 14);
    expect(r.cocoAp).toBeCloseTo(559 / 1010, 14);
    expect(r.cocoAr).toBeCloseTo(0.6, 15);
    expect(r.perClass[0].cocoAp50).toBeCloseTo(253 / 303, 14);
    expect(r.map).toBeCloseTo(5 / 6, 15);
    expect(r.cocoApSmall).toBeNaN(); // areaRanges off
  });

  it('a duplicate is a false positive in COCO too', () => {
    // d1 and d2 on g1, d3 on g2: TP FP TP → the same curve as above at IoU .5: 253/303 (all TP would give 1)
    const d = evaluateDetections(
      [dets([0, 0.9, [0, 0, 100, 100]], [0, 0.8, [0, 0, 100, 100]], [0, 0.7, [200, 0, 300, 100]])],
      [truth([0, [0, 0, 100, 100]], [0, [200, 0, 300, 100]])],
    );
    expect(d.cocoAp50).toBeCloseTo(253 / 303, 14);
    expect(d.cocoAr).toBe(1);
  });

  it('thresholds are numpy linspace values', () => {
    expect(COCO_IOU_THRESHOLDS.length).toBe(10);
    expect(COCO_IOU_THRESHOLDS[0]).toBe(0.5);
    expect(COCO_IOU_THRESHOLDS[9]).toBe(0.95);
    expect(COCO_RECALL_THRESHOLDS.length).toBe(101);
    expect(COCO_RECALL_THRESHOLDS[100]).toBe(1);
    // 57 · 0.01 is just above 0.57, as in pycocotools: a recall of exactly .57 does not reach it
    expect(COCO_RECALL_THRESHOLDS[57]).toBeGreaterThan(0.57);
  });

  it('small / medium / large by box area in pixels', () => {
    // a 20×20 object (400 < 32²) found, a 50×50 one (2500: medium) missed, nothing large
    const a = evaluateDetections([dets([0, 0.9, [0, 0, 20, 20]])], [truth([0, [0, 0, 20, 20]], [0, [100, 100, 150, 150]])], {
      areaRanges: true,
    });
    expect(a.cocoApSmall).toBe(1);
    expect(a.cocoApMedium).toBe(0);
    expect(a.cocoApLarge).toBeNaN();
  });

  it('maxDetections keeps the highest-scored detections per image and class', () => {
    // the low-scored detection is the hit: with one detection kept it is dropped
    const d = [dets([0, 0.9, [50, 50, 60, 60]], [0, 0.1, [0, 0, 10, 10]])];
    const g = [truth([0, [0, 0, 10, 10]])];
    expect(evaluateDetections(d, g).cocoAp50).toBeCloseTo(0.5, 15);
    expect(evaluateDetections(d, g, { maxDetections: 1 }).cocoAp50).toBe(0);
  });
});

describe('where VOC and COCO match differently', () => {
  it('VOC keeps a duplicate a false positive even when another object fits; COCO takes the other object', () => {
    // objects A [0,0,10,10] and B [0,0,10,8]; two detections equal to A. VOC: both pick A (IoU 1 > .8), the
    // second is a duplicate → TP FP: recall .5 .5 → AP .5. COCO: the second takes B (IoU .8 ≥ .5) → AP50 1.
    const r = evaluateDetections([dets([0, 0.9, [0, 0, 10, 10]], [0, 0.8, [0, 0, 10, 10]])], [truth([0, [0, 0, 10, 10]], [0, [0, 0, 10, 8]])]);
    expect(r.map).toBe(0.5);
    expect(r.cocoAp50).toBe(1);
  });

  it('difficult objects: VOC leaves the detection out; COCO ignores it the same way', () => {
    const r = evaluateDetections([dets([0, 0.9, [0, 0, 10, 10]], [0, 0.8, [20, 0, 30, 10]])], [truth([0, [0, 0, 10, 10], 1], [0, [20, 0, 30, 10]])]);
    expect(r.perClass[0].groundTruth).toBe(1);
    expect(r.perClass[0].precision.length).toBe(1);
    expect(r.map).toBe(1);
    expect(r.cocoAp).toBe(1);
  });

  it('COCO keeps a counted match over a better-overlapping ignored object; VOC takes the best overlap', () => {
    // A [0,0,10,10] counts, B [0,0,10,9] is difficult; the detection [0,0,10,9] overlaps A by .9 and B by 1.
    // COCO matches A (ignored objects are only tried when no counted one fits) at IoU thresholds up to .9:
    // AP50 = AP75 = 1. VOC's best overlap is B: the detection is left out and A is never found: AP 0.
    const r = evaluateDetections([dets([0, 0.9, [0, 0, 10, 9]])], [truth([0, [0, 0, 10, 10]], [0, [0, 0, 10, 9], 1])]);
    expect([r.cocoAp50, r.cocoAp75]).toEqual([1, 1]);
    expect(r.map).toBe(0);
  });

  it('COCO matches the highest IoU among the free objects, not the first above the threshold', () => {
    // A [0,0,10,10] then B [0,0,10,6]; d1 .9 [0,0,10,7] overlaps A by .7 and B by 6/7 ≈ .857, d2 .8 [0,0,10,10]
    // overlaps A by 1. d1 takes B up to IoU threshold .85 and d2 takes A: AP 1 at 8 thresholds; at .9 and .95
    // d1 misses: FP then TP → precision .5 up to recall .5: 51·.5/101. (Taking the first object above the
    // threshold, d1 would take A from .5 to .7, and d2 would miss from .65 on.)
    // The objects' order does not matter (neither the first nor the last object above the threshold is taken).
    const d = [dets([0, 0.9, [0, 0, 10, 7]], [0, 0.8, [0, 0, 10, 10]])];
    for (const g of [truth([0, [0, 0, 10, 10]], [0, [0, 0, 10, 6]]), truth([0, [0, 0, 10, 6]], [0, [0, 0, 10, 10]])]) {
      const r = evaluateDetections(d, [g]);
      expect(r.cocoAp).toBeCloseTo((8 + 51 / 101) / 10, 14);
      expect(r.map).toBe(1);
    }
  });

  it('of equal overlaps VOC takes the first object (the devkit keeps ov > ovmax), even a difficult one', () => {
    // A (difficult) and B share a box: the detection's best is A, so it is left out and B is never found
    const r = evaluateDetections([dets([0, 0.9, [0, 0, 10, 10]])], [truth([0, [0, 0, 10, 10], 1], [0, [0, 0, 10, 10]])]);
    expect(r.map).toBe(0);
    // COCO tries the counted B first
    expect(r.cocoAp).toBe(1);
  });

  it('a crowd region absorbs several detections without false positives (COCO) and is difficult for VOC', () => {
    const g: CrowdGroundTruth = { ...truth([0, [0, 0, 100, 100]], [0, [200, 0, 210, 10]]), iscrowd: Uint8Array.from([1, 0]) };
    // three detections inside the crowd (intersection over their own area 1), then the hit
    const d = dets([0, 0.9, [0, 0, 10, 10]], [0, 0.8, [20, 20, 30, 30]], [0, 0.7, [50, 50, 90, 90]], [0, 0.6, [200, 0, 210, 10]]);
    const r = evaluateDetections([d], [g]);
    expect(r.cocoAp).toBe(1);
    // VOC: the crowd box's IoU with the small detections is below .5 (plain IoU): they are false positives,
    // only the 40×40 one (IoU .16) too; the hit comes fourth: precision 1/4 at recall 1
    expect(r.perClass[0].groundTruth).toBe(1);
    expect(r.map).toBe(0.25);
  });
});

describe('edge cases', () => {
  it('equal scores rank by image, then by index in the image (a stable sort, as the references)', () => {
    // one object, in image 1; a miss in image 0 and the hit in image 1, both scored .5
    const d = [dets([0, 0.5, [50, 50, 60, 60]]), dets([0, 0.5, [0, 0, 10, 10]])];
    const g = [truth(), truth([0, [0, 0, 10, 10]])];
    const missFirst = evaluateDetections(d, g);
    expect([missFirst.map, missFirst.cocoAp50]).toEqual([0.5, 0.5]);
    const hitFirst = evaluateDetections([d[1], d[0]], [g[1], g[0]]);
    expect([hitFirst.map, hitFirst.cocoAp50]).toEqual([1, 1]);
  });

  it('no detections: AP 0 for every class with ground truth', () => {
    const r = evaluateDetections([dets(), dets()], [truth([0, [0, 0, 1, 1]]), truth([1, [0, 0, 1, 1]])]);
    expect([r.map, r.map11, r.cocoAp, r.cocoAp50, r.cocoAr]).toEqual([0, 0, 0, 0, 0]);
    expect(r.classes).toBe(2);
  });

  it('a class without ground truth is left out of the means (NaN), its detections count nowhere', () => {
    const r = evaluateDetections([dets([0, 0.9, [0, 0, 1, 1]], [1, 0.95, [0, 0, 1, 1]])], [truth([0, [0, 0, 1, 1]])]);
    expect(r.perClass.map((c) => c.classId)).toEqual([0, 1]);
    expect(r.perClass[1].ap).toBeNaN();
    expect(r.perClass[1].cocoAp).toBeNaN();
    expect(r.classes).toBe(1);
    expect(r.map).toBe(1);
    expect(r.cocoAp).toBe(1);
  });

  it('a class whose objects are all difficult has no AP', () => {
    const r = evaluateDetections([dets([0, 0.9, [0, 0, 1, 1]])], [truth([0, [0, 0, 1, 1], 1])]);
    expect(r.perClass[0].ap).toBeNaN();
    expect(r.map).toBeNaN();
  });

  it('numClasses lists every class, seen or not', () => {
    const r = evaluateDetections([dets()], [truth([1, [0, 0, 1, 1]])], { numClasses: 3 });
    expect(r.perClass.map((c) => [c.classId, c.groundTruth])).toEqual([
      [0, 0],
      [1, 1],
      [2, 0],
    ]);
    expect(r.map).toBe(0);
  });

  it('no images: NaN means', () => {
    const r = evaluateDetections([], []);
    expect(r.perClass).toEqual([]);
    expect(r.map).toBeNaN();
    expect(r.cocoAp).toBeNaN();
  });

  it('coco: false skips the COCO figures', () => {
    const r = evaluateDetections([dets([0, 0.9, [0, 0, 1, 1]])], [truth([0, [0, 0, 1, 1]])], { coco: false });
    expect(r.map).toBe(1);
    expect(r.cocoAp).toBeNaN();
    expect(r.cocoAr).toBeNaN();
  });
});

describe('errors name the function, the argument and what was expected', () => {
  const g = truth([0, [0, 0, 1, 1]]);
  it.each([
    ['mismatched image counts', () => evaluateDetections([dets(), dets()], [g]), /DetectionEvaluator.add: argument 'groundTruth' has 1 images/],
    ['score count', () => evaluateDetections([{ ...dets([0, 1, [0, 0, 1, 1]]), scores: new Float32Array(2) }], [g]), /'detections' has 2 scores/],
    ['box count', () => evaluateDetections([dets()], [{ labels: Int32Array.of(0), boxes: new Float32Array(3) }]), /'groundTruth' has 3 box values/],
    ['negative class', () => evaluateDetections([dets([-1, 1, [0, 0, 1, 1]])], [g]), /has class -1 at 0 in image 0/],
    ['class ≥ numClasses', () => evaluateDetections([dets()], [g], { numClasses: 0 }), /class ids in \[0, 0\)/],
    ['inverted box', () => evaluateDetections([dets([0, 1, [1, 0, 0, 1]])], [g]), /box \[1, 0, 0, 1\] at 0 in image 0/],
    ['NaN score', () => evaluateDetections([dets([0, Number.NaN, [0, 0, 1, 1]])], [g]), /score NaN/],
    ['difficult flags', () => evaluateDetections([dets()], [{ ...g, difficult: new Uint8Array(2) }]), /2 difficult flags for 1 labels/],
    ['iouThreshold', () => new DetectionEvaluator({ iouThreshold: 0 }), /argument 'iouThreshold' is 0; expected a number in \(0, 1\]/],
    ['maxDetections', () => new DetectionEvaluator({ maxDetections: 0 }), /argument 'maxDetections' is 0/],
  ])('%s', (_, f, message) => {
    expect(f).toThrow(message);
  });
});

describe('average precision from a curve', () => {
  it('all-point: the area under the envelope; 11-point: tenths, recall exactly .3 counts at .3', () => {
    // 10 objects, the first 3 detections hits, then misses: precision 1 up to recall .3
    const recall = [0.1, 0.2, 0.3, 0.3];
    const precision = [1, 1, 1, 0.75];
    expect(averagePrecisionAllPoint(recall, precision)).toBeCloseTo(0.3, 15);
    // t = 0 … .3 (4 points) find precision 1 — with np.arange's 0.30000000000000004 only 3 would
    expect(averagePrecision11Point([1 / 10, 2 / 10, 3 / 10], [1, 1, 1])).toBeCloseTo(4 / 11, 15);
    expect(averagePrecisionAllPoint([], [])).toBe(0);
    expect(averagePrecision11Point([], [])).toBe(0);
  });

  it('101-point: envelope read at the first rank reaching each threshold, 0 past the last recall', () => {
    const q = interpolatedPrecision101([0.5, 0.5, 1], [1, 0.5, 2 / 3]);
    expect(q[0]).toBe(1);
    expect(q[50]).toBe(1);
    expect(q[51]).toBe(2 / 3);
    expect(q[100]).toBe(2 / 3);
    const short = interpolatedPrecision101([0.25], [1]);
    expect(short[25]).toBe(1);
    expect(short[26]).toBe(0);
  });

  it('all-point reads the envelope, not the precision at the recall step', () => {
    // FP then two hits: the step to recall .5 has precision .5, but 2/3 is reached later at a higher recall
    expect(averagePrecisionAllPoint([0, 0.5, 1], [0, 0.5, 2 / 3])).toBeCloseTo(2 / 3, 15);
    expect(averagePrecision11Point([0, 0.5, 1], [0, 0.5, 2 / 3])).toBeCloseTo(2 / 3, 15);
  });

  it('rejects a decreasing recall', () => {
    expect(() => averagePrecisionAllPoint([0.5, 0.2], [1, 1])).toThrow(/averagePrecisionAllPoint: recall\[1\] = 0.2 after 0.5/);
  });
});

describe('random cases from an independent transcription of pycocotools and the VOC devkit', () => {
  interface FixtureImage {
    gb: Box[];
    gl: number[];
    diff: number[];
    crowd: number[];
    db: Box[];
    dl: number[];
    ds: number[];
  }
  interface FixtureCase {
    C: number;
    thr: number;
    maxDet: number;
    images: FixtureImage[];
    expected: ({ ap: number; ap11: number; cocoAp: number; ap50: number; ap75: number; ar: number } | null)[];
  }
  // see test/fixtures/detection-metrics/README.md
  const cases: FixtureCase[] = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/detection-metrics/random-cases.json'), 'utf8'));

  it.each(cases.map((c, k) => [k, c] as const))('case %i', (_, c) => {
    const r = evaluateDetections(
      c.images.map((im) => ({ boxes: Float32Array.from(im.db.flat()), labels: Int32Array.from(im.dl), scores: Float32Array.from(im.ds) })),
      c.images.map((im) => ({
        boxes: Float32Array.from(im.gb.flat()),
        labels: Int32Array.from(im.gl),
        difficult: Uint8Array.from(im.diff),
        iscrowd: Uint8Array.from(im.crowd),
      })),
      { iouThreshold: c.thr, maxDetections: c.maxDet, numClasses: c.C },
    );
    const got = r.perClass.map((p) => (p.groundTruth === 0 ? null : [p.ap, p.ap11, p.cocoAp, p.cocoAp50, p.cocoAp75]));
    const want = c.expected.map((e) => (e === null ? null : [e.ap, e.ap11, e.cocoAp, e.ap50, e.ap75]));
    expect(got.length).toBe(want.length);
    got.forEach((g, k) => {
      const w = want[k];
      if (g === null || w === null) expect(g).toEqual(w);
      else g.forEach((v, i) => expect(v).toBeCloseTo(w[i], 12));
    });
    const ars = c.expected.flatMap((e) => (e === null ? [] : [e.ar]));
    if (ars.length > 0) expect(r.cocoAr).toBeCloseTo(ars.reduce((s, v) => s + v, 0) / ars.length, 12);
    else expect(r.cocoAr).toBeNaN();
  });
});

// ---- properties ----------------------------------------------------------------------------------------

/** Random images: objects in disjoint 10×10 grid cells (so no two objects overlap), detections anywhere. */
const sceneArb = fc
  .array(
    fc.record({
      objects: fc.uniqueArray(fc.record({ cell: fc.integer({ min: 0, max: 15 }), label: fc.integer({ min: 0, max: 2 }), difficult: fc.boolean() }), {
        selector: (o) => o.cell,
        maxLength: 6,
      }),
      detections: fc.array(
        fc.record({
          label: fc.integer({ min: 0, max: 2 }),
          x: fc.integer({ min: 0, max: 36 }),
          y: fc.integer({ min: 0, max: 36 }),
          w: fc.integer({ min: 1, max: 10 }),
          h: fc.integer({ min: 1, max: 10 }),
        }),
        { maxLength: 8 },
      ),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .chain((images) => {
    const n = images.reduce((s, im) => s + im.detections.length, 0);
    // distinct scores, so the ranking does not depend on input order
    return fc.tuple(fc.constant(images), fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: n, maxLength: n }));
  });

type Scene = typeof sceneArb extends fc.Arbitrary<infer T> ? T : never;

function cellBox(cell: number): Box {
  const x = (cell % 4) * 10;
  const y = Math.floor(cell / 4) * 10;
  return [x, y, x + 10, y + 10];
}

function build([images, scores]: Scene): { detections: ImageDetections[]; groundTruth: ImageGroundTruth[] } {
  let k = 0;
  return {
    groundTruth: images.map((im) => truth(...im.objects.map((o): [number, Box, number] => [o.label, cellBox(o.cell), o.difficult ? 1 : 0]))),
    detections: images.map((im) => dets(...im.detections.map((d): [number, number, Box] => [d.label, scores[k++] / 1e6, [d.x, d.y, d.x + d.w, d.y + d.h]]))),
  };
}

function summary(r: ReturnType<typeof evaluateDetections>): number[] {
  return [r.map, r.map11, r.cocoAp, r.cocoAp50, r.cocoAp75, r.cocoAr, ...r.perClass.flatMap((c) => [c.ap, c.ap11, c.cocoAp])];
}

describe('properties', () => {
  it('perfect detections give AP 1 everywhere (VOC all-point and 11-point, COCO)', () => {
    fc.assert(
      fc.property(sceneArb, (scene) => {
        const { groundTruth } = build(scene);
        // one detection per object (difficult ones too: they are left out), scores in any order
        const detections = groundTruth.map((g, i) => ({
          boxes: g.boxes,
          labels: g.labels,
          scores: Float32Array.from(g.labels, (_, j) => ((i * 7 + j * 3) % 5) / 5),
        }));
        const r = evaluateDetections(detections, groundTruth);
        for (const c of r.perClass) {
          if (c.groundTruth === 0) continue;
          expect([c.ap, c.ap11, c.cocoAp, c.cocoAp50, c.cocoAp75]).toEqual([1, 1, 1, 1, 1]);
        }
        if (r.classes > 0) expect([r.map, r.map11, r.cocoAp, r.cocoAr]).toEqual([1, 1, 1, 1]);
      }),
      { numRuns: 100 },
    );
  });

  it('every AP is in [0, 1], NaN exactly for the classes without ground truth', () => {
    fc.assert(
      fc.property(sceneArb, (scene) => {
        const { detections, groundTruth } = build(scene);
        const r = evaluateDetections(detections, groundTruth, { areaRanges: true });
        for (const c of r.perClass) {
          for (const v of [c.ap, c.ap11, c.cocoAp, c.cocoAp50, c.cocoAp75]) {
            if (c.groundTruth === 0) expect(v).toBeNaN();
            else expect(v >= 0 && v <= 1).toBe(true);
          }
          expect(c.truePositives).toBeLessThanOrEqual(c.groundTruth);
          expect(c.truePositives + c.falsePositives).toBe(c.precision.length);
        }
        for (const v of [r.map, r.map11, r.cocoAp, r.cocoAp50, r.cocoAp75, r.cocoAr, r.cocoApSmall])
          expect(r.classes === 0 ? Number.isNaN(v) : v >= 0 && v <= 1).toBe(true);
        // AP at the loosest COCO threshold bounds the mean over thresholds
        if (r.classes > 0) expect(r.cocoAp50).toBeGreaterThanOrEqual(r.cocoAp - 1e-12);
      }),
      { numRuns: 150 },
    );
  });

  it('with distinct scores, the order of the images and of the detections in each image changes nothing', () => {
    fc.assert(
      fc.property(sceneArb, fc.integer(), (scene, seed) => {
        const { detections, groundTruth } = build(scene);
        const rng = mulberry32(seed);
        const order = shuffle([...detections.keys()], rng);
        const shuffled = order.map((i) => {
          const d = detections[i];
          const p = shuffle([...d.labels.keys()], rng);
          return {
            labels: Int32Array.from(p, (j) => d.labels[j]),
            scores: Float32Array.from(p, (j) => d.scores[j]),
            boxes: Float32Array.from(p.flatMap((j) => [...d.boxes.subarray(4 * j, 4 * j + 4)])),
          };
        });
        const a = summary(evaluateDetections(detections, groundTruth));
        const b = summary(
          evaluateDetections(
            shuffled,
            order.map((i) => groundTruth[i]),
          ),
        );
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });

  it('a false positive scored below every detection changes no AP', () => {
    fc.assert(
      fc.property(sceneArb, fc.nat(), fc.integer({ min: 0, max: 2 }), (scene, at, label) => {
        const { detections, groundTruth } = build(scene);
        const before = summary(evaluateDetections(detections, groundTruth, { numClasses: 3 }));
        const i = at % detections.length;
        const d = detections[i];
        // far from every object, score below all (scores are ≥ 1e-6)
        const extra = {
          labels: Int32Array.from([...d.labels, label]),
          scores: Float32Array.from([...d.scores, 0]),
          boxes: Float32Array.from([...d.boxes, 500, 500, 510, 510]),
        };
        const after = summary(evaluateDetections(replaced(detections, i, extra), groundTruth, { numClasses: 3 }));
        expect(after.length).toBe(before.length);
        after.forEach((v, k) => (Number.isNaN(before[k]) ? expect(v).toBeNaN() : expect(v).toBeCloseTo(before[k], 14)));
      }),
      { numRuns: 100 },
    );
  });

  it('a hit, scored above every detection, on an object no detection of its class was near, never lowers AP', () => {
    fc.assert(
      fc.property(sceneArb, (scene) => {
        const { detections, groundTruth } = build(scene);
        const before = evaluateDetections(detections, groundTruth);
        // an object that counts, in an image without detections of its class (a found object would turn its
        // detection into a duplicate, which may lower AP)
        for (let i = 0; i < groundTruth.length; i++) {
          const g = groundTruth[i];
          const d = detections[i];
          const j = g.labels.findIndex((c, k) => g.difficult?.[k] === 0 && !d.labels.includes(c));
          if (j < 0) continue;
          const extra = {
            labels: Int32Array.from([g.labels[j], ...d.labels]),
            scores: Float32Array.from([2, ...d.scores]),
            boxes: Float32Array.from([...g.boxes.subarray(4 * j, 4 * j + 4), ...d.boxes]),
          };
          const after = evaluateDetections(replaced(detections, i, extra), groundTruth);
          const pb = before.perClass.find((p) => p.classId === g.labels[j]);
          const pa = after.perClass.find((p) => p.classId === g.labels[j]);
          if (!pa || !pb) throw new Error('class missing');
          expect(pa.ap).toBeGreaterThanOrEqual(pb.ap - 1e-12);
          expect(pa.ap11).toBeGreaterThanOrEqual(pb.ap11 - 1e-12);
          expect(pa.cocoAp).toBeGreaterThanOrEqual(pb.cocoAp - 1e-12);
          return;
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a streaming evaluator over any split equals the one-shot evaluation', () => {
    fc.assert(
      fc.property(sceneArb, fc.nat(), (scene, cut) => {
        const { detections, groundTruth } = build(scene);
        const k = cut % (detections.length + 1);
        const ev = new DetectionEvaluator();
        ev.add(detections.slice(0, k), groundTruth.slice(0, k));
        ev.add(detections.slice(k), groundTruth.slice(k));
        expect(summary(ev.compute())).toEqual(summary(evaluateDetections(detections, groundTruth)));
      }),
      { numRuns: 50 },
    );
  });
});

function replaced<T>(xs: readonly T[], i: number, x: T): T[] {
  return xs.map((v, k) => (k === i ? x : v));
}

function shuffle<T>(xs: T[], rng: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
