/**
 * Segmentation metrics (src/segmentation/metrics.ts, confusion-matrix.ts): the confusion matrix and
 * the stream scores on cases worked by hand (the working is in the comments), NumPy's NaN semantics
 * of the DeepLabV3+ code, a large input that spans many workgroups, input errors, no GPU leak, and
 * fast-check properties against a host float64 reference written here from the formulas.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { memory, tensor, tidy, type Tensor } from '../../src/node';
import { confusionMatrix } from '../../src/segmentation/confusion-matrix';
import { StreamSegMetrics, segmentationScores, type SegmentationScores } from '../../src/segmentation/metrics';
import { mulberry32 } from '../../src/base/mulberry32';

const ints = (data: number[], shape: number[]) => tensor(data, { shape, dtype: 'int32' });

/** Host reference: counts, then the scores written from the DeepLabV3+ formulas in NumPy's terms. */
function reference(pairs: [number[], number[]][], C: number, ignore: number): { hist: number[][]; scores: SegmentationScores } {
  const hist = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  for (const [pred, target] of pairs)
    target.forEach((t, j) => {
      if (t >= 0 && t < C && t !== ignore && pred[j] >= 0 && pred[j] < C) hist[t][pred[j]]++;
    });
  const diag = hist.map((r, c) => r[c]);
  const rowSum = hist.map((r) => r.reduce((a, b) => a + b, 0));
  const colSum = hist[0].map((_, q) => hist.reduce((a, r) => a + r[q], 0));
  const total = rowSum.reduce((a, b) => a + b, 0);
  const nanmean = (v: number[]) => {
    const f = v.filter((x) => !Number.isNaN(x));
    return f.length ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN;
  };
  const iu = diag.map((d, c) => d / (rowSum[c] + colSum[c] - d));
  const freq = rowSum.map((r) => r / total);
  return {
    hist,
    scores: {
      overallAcc: diag.reduce((a, b) => a + b, 0) / total,
      meanAcc: nanmean(diag.map((d, c) => d / rowSum[c])),
      freqWAcc: freq.reduce((a, f, c) => (f > 0 ? a + f * iu[c] : a), 0),
      meanIoU: nanmean(iu),
      classIoU: iu,
    },
  };
}

/** Equal to 1e-12, NaN only where NaN. */
function expectScores(got: SegmentationScores, want: SegmentationScores) {
  const close = (a: number, b: number, what: string) => {
    if (Number.isNaN(b)) expect(a, what).toBeNaN();
    else expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThan(1e-12);
  };
  for (const k of ['overallAcc', 'meanAcc', 'freqWAcc', 'meanIoU'] as const) close(got[k], want[k], k);
  expect(got.classIoU.length).toBe(want.classIoU.length);
  got.classIoU.forEach((v, c) => close(v, want.classIoU[c], `classIoU[${c}]`));
}

describe('confusionMatrix, by hand', () => {
  it('rows are targets, columns predictions; 255, out-of-range targets and predictions are skipped', async () => {
    // pixels (target → pred): 0→0, 0→1, 1→1, 2→1, 2→2, 2→2, 255→0 (void), 3→0 (target out of range), 1→−1, 1→3 (pred out of range)
    const target = ints([0, 0, 1, 2, 2, 2, 255, 3, 1, 1], [2, 5]);
    const pred = ints([0, 1, 1, 1, 2, 2, 0, 0, -1, 3], [2, 5]);
    const cm = confusionMatrix(pred, target, 3);
    expect(cm.shape).toEqual([3, 3]);
    expect(cm.dtype).toBe('int32');
    expect([...(await cm.data())]).toEqual([1, 1, 0, 0, 1, 0, 0, 1, 2]);
    // an ignore index inside [0, C): class 0's pixels drop out
    const cm0 = confusionMatrix(pred, target, 3, 0);
    expect([...(await cm0.data())]).toEqual([0, 0, 0, 0, 1, 0, 0, 1, 2]);
    for (const t of [target, pred, cm, cm0]) t.dispose();
  });

  it('an empty input gives zeros (the output is cleared, not left as pool garbage)', async () => {
    const e = ints([], [0, 4]);
    const cm = confusionMatrix(e, e, 2);
    expect([...(await cm.data())]).toEqual([0, 0, 0, 0]);
    e.dispose();
    cm.dispose();
  });

  it('many workgroups and strided threads: 4×300×301 pixels, 19 classes (workgroup histograms) and 70 (global atomics)', async () => {
    const n = 4 * 300 * 301;
    const rnd = mulberry32(7);
    for (const C of [19, 70]) {
      const t = Array.from({ length: n }, () => (rnd() < 0.1 ? 255 : Math.floor(rnd() * C)));
      // mostly right, as a trained net: the diagonal gets large counts, so lost atomic adds would show
      const p = t.map((v) => (rnd() < 0.7 && v !== 255 ? v : Math.floor(rnd() * C)));
      const [pt, tt] = [ints(p, [4, 300, 301]), ints(t, [4, 300, 301])];
      const cm = confusionMatrix(pt, tt, C);
      expect([...(await cm.data())]).toEqual(reference([[p, t]], C, 255).hist.flat());
      for (const x of [pt, tt, cm]) x.dispose();
    }
  });

  it('bad input: one-line errors naming the argument', () => {
    const a = ints([0, 1], [2]);
    const b = ints([0, 1, 1], [3]);
    const f = tensor([0, 1]);
    expect(() => confusionMatrix(a, b, 2)).toThrow(/confusionMatrix: argument 'pred' has shape \[2\].*\[3\]/);
    expect(() => confusionMatrix(f, a, 2)).toThrow(/confusionMatrix: argument 'pred' has dtype float32/);
    expect(() => confusionMatrix(a, f, 2)).toThrow(/confusionMatrix: argument 'target' has dtype float32/);
    expect(() => confusionMatrix(a, a, 0)).toThrow(/confusionMatrix: argument 'numClasses' is 0/);
    expect(() => confusionMatrix(a, a, 2.5)).toThrow(/'numClasses' is 2.5/);
    expect(() => confusionMatrix(a, null as unknown as Tensor, 2)).toThrow(/confusionMatrix: argument 'target' is null/);
    for (const t of [a, b, f]) t.dispose();
  });
});

describe('segmentationScores, by hand (NumPy semantics of the DeepLabV3+ get_results)', () => {
  it('a class predicted but never a target has IoU 0 (it counts in the mean); one absent from both has NaN (skipped)', () => {
    // C = 4; rows = target. Class 0: 3 pixels, 2 right, 1 called class 2. Class 1: 1 pixel, right.
    // Class 2: no target pixel, predicted once. Class 3: neither.
    const hist = [2, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const s = segmentationScores(hist, 4);
    expect(s.overallAcc).toBeCloseTo(3 / 4, 15);
    // class accuracies [2/3, 1, NaN, NaN] → mean of the two
    expect(s.meanAcc).toBeCloseTo((2 / 3 + 1) / 2, 15);
    // IoU: class 0 2/(3+2−2) = 2/3, class 1 1/(1+1−1) = 1, class 2 0/(0+1−0) = 0, class 3 0/0 = NaN
    expect(s.classIoU.slice(0, 3)).toEqual([2 / 3, 1, 0]);
    expect(s.classIoU[3]).toBeNaN();
    expect(s.meanIoU).toBeCloseTo((2 / 3 + 1 + 0) / 3, 15);
    // frequencies [3/4, 1/4, 0, 0]: only classes with target pixels weigh in
    expect(s.freqWAcc).toBeCloseTo((3 / 4) * (2 / 3) + (1 / 4) * 1, 15);
  });

  it('an empty matrix: accuracies and means NaN, FreqW Acc 0 (an empty sum), every class IoU NaN', () => {
    const s = segmentationScores([0, 0, 0, 0], 2);
    expect(s.overallAcc).toBeNaN();
    expect(s.meanAcc).toBeNaN();
    expect(s.meanIoU).toBeNaN();
    expect(s.freqWAcc).toBe(0);
    expect(s.classIoU.every(Number.isNaN)).toBe(true);
  });

  it('a perfect prediction scores 1 everywhere it is defined', () => {
    const s = segmentationScores([5, 0, 0, 0, 0, 0, 0, 0, 7], 3);
    expect([s.overallAcc, s.meanAcc, s.freqWAcc, s.meanIoU]).toEqual([1, 1, 1, 1]);
    expect(s.classIoU[1]).toBeNaN();
  });

  it('bad input', () => {
    expect(() => segmentationScores([1, 2, 3], 2)).toThrow(/segmentationScores: argument 'matrix' has 3 values.*4/);
    expect(() => segmentationScores([1], 0)).toThrow(/segmentationScores: argument 'numClasses' is 0/);
  });
});

describe('StreamSegMetrics', () => {
  it('accumulates batches, reads logits (argmax over dim 1), resets, and leaks nothing', async () => {
    const before = memory().liveTensors;
    const m = new StreamSegMetrics(3);
    // batch 1: classes; target (1, 2, 2) with a void pixel. Pixels 0→0, 1→1, 1→2 (255 skipped)
    const p1 = ints([0, 1, 2, 2], [1, 2, 2]);
    const t1 = ints([0, 1, 1, 255], [1, 2, 2]);
    m.update(p1, t1);
    // batch 2: logits (1, 3, 1, 2) whose argmax per pixel is [2, 0]; targets [2, 0] → 2→2, 0→0
    const logits = tensor([0, 5, 1, 0, 9, 0], { shape: [1, 3, 1, 2] });
    const t2 = ints([2, 0], [1, 1, 2]);
    // as if 2³¹ − 2 pixels were pending: the int32 GPU total is read into the float64 host total first
    (m as unknown as { pending: number }).pending = 2 ** 31 - 2;
    tidy(() => m.update(logits, t2)); // inside a tidy too: the running total survives it
    expect([...(await m.matrix())]).toEqual([2, 0, 0, 0, 1, 1, 0, 0, 1]);
    const r = await m.results();
    expectScores(
      r,
      reference(
        [
          [
            [0, 1, 2, 2, 2, 0],
            [0, 1, 1, 255, 2, 0],
          ],
        ],
        3,
        255,
      ).scores,
    );
    expect(r.overallAcc).toBeCloseTo(4 / 5, 15);
    // results read back and go on accumulating
    m.update(p1, t1);
    expect([...(await m.matrix())]).toEqual([3, 0, 0, 0, 2, 2, 0, 0, 1]);
    m.reset();
    expect([...(await m.matrix())]).toEqual(new Array(9).fill(0));
    m.update(p1, t1);
    expect([...(await m.matrix())]).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 0]);
    m.dispose();
    for (const t of [p1, t1, logits, t2]) t.dispose();
    expect(memory().liveTensors).toBe(before);
  });

  it('bad input: one-line errors', () => {
    const m = new StreamSegMetrics(3);
    const t = ints([0, 1], [1, 1, 2]);
    const wrong = tensor([0, 1, 2, 3], { shape: [1, 2, 1, 2] }); // 2 classes, not 3
    expect(() => m.update(wrong, t)).toThrow(/StreamSegMetrics.update: argument 'pred' has shape \[1, 2, 1, 2\] \(float, so read as logits\)/);
    expect(() => m.update(t, 3 as unknown as Tensor)).toThrow(/StreamSegMetrics.update: argument 'target' is number/);
    expect(() => new StreamSegMetrics(0)).toThrow(/StreamSegMetrics: argument 'numClasses' is 0/);
    expect(() => new StreamSegMetrics(3, { ignoreIndex: 0.5 })).toThrow(/StreamSegMetrics: argument 'ignoreIndex' is 0.5/);
    m.dispose();
    t.dispose();
    wrong.dispose();
  });

  it('fast-check: GPU stream over several batches equals the host reference', async () => {
    const batch = (C: number, ignore: number, n: number) =>
      fc.tuple(
        fc.array(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: C - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, C) }), {
          minLength: n,
          maxLength: n,
        }),
        fc.array(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: C - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(255, ignore, C) }), {
          minLength: n,
          maxLength: n,
        }),
      );
    const arb = fc
      .record({
        C: fc.integer({ min: 1, max: 6 }),
        ignore: fc.oneof(fc.constant(255), fc.integer({ min: 0, max: 5 })),
        hw: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
      })
      .chain(({ C, ignore, hw }) =>
        fc.record({
          C: fc.constant(C),
          ignore: fc.constant(ignore),
          hw: fc.constant(hw),
          batches: fc.array(batch(C, ignore, 2 * hw[0] * hw[1]), { minLength: 1, maxLength: 3 }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(arb, async ({ C, ignore, hw, batches }) => {
        const m = new StreamSegMetrics(C, { ignoreIndex: ignore });
        for (const [p, t] of batches) {
          const [pt, tt] = [ints(p, [2, ...hw]), ints(t, [2, ...hw])];
          m.update(pt, tt);
          pt.dispose();
          tt.dispose();
        }
        const want = reference(batches, C, ignore);
        expect([...(await m.matrix())]).toEqual(want.hist.flat());
        expectScores(await m.results(), want.scores);
        m.dispose();
      }),
      { numRuns: 60 },
    );
  });
});
