/**
 * The dataset-level SOD evaluator on cases worked by hand (working in the comments), the reference's
 * edge cases, and properties: a one-image dataset gives the per-image functions' values.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SodEvaluator, evaluateSod, prepareSodPair, scoreSodImage, structureMeasure } from '../../src/sod/evaluate';
import { mae, fMeasure, eMeasure, sMeasure, iou, dice } from '../../src/sod/metrics';
import { weightedFmeasure, matlabGaussian } from '../../src/sod/weighted-fmeasure';

const F = (p: number, r: number) => (1.3 * p * r) / (0.3 * p + r);

describe('SodEvaluator (dataset level, as PySODMetrics)', () => {
  it('maxFm/meanFm are of the curve averaged over images, not the mean of per-image maxima', () => {
    // A: pred [0.9, 0.5] on truth [1, 0]: bins 229 and 127 → F(.5, 1) for t ≤ 127, 1 for 128…229, 0 above
    // B: pred [0.3, 0.2] on truth [1, 0]: bins 76 and 51 → F(.5, 1) for t ≤ 51, 1 for 52…76, 0 above
    const ev = new SodEvaluator();
    ev.add([0.9, 0.5], [1, 0], 1, 2);
    ev.add([0.3, 0.2], [1, 0], 1, 2);
    const r = ev.result();
    const f5 = F(0.5, 1);
    // the averaged curve peaks at t = 52…76 with (F(.5,1) + 1)/2; each image alone reaches 1
    expect(r.maxFm).toBeCloseTo((f5 + 1) / 2, 14);
    expect(fMeasure([0.9, 0.5], [1, 0]).max).toBe(1);
    expect(fMeasure([0.3, 0.2], [1, 0]).max).toBe(1);
    // t 0…51 (52): f5; 52…76 (25): (f5+1)/2; 77…127 (51): f5/2; 128…229 (102): 1/2; 230…255 (26): 0
    expect(r.meanFm).toBeCloseTo((52 * f5 + (25 * (f5 + 1)) / 2 + (51 * f5) / 2 + 102 / 2) / 256, 14);
    // adaptive thresholds 2·mean: A 1.4 → 1 (nothing ≥ 1: F 0); B 0.5 (nothing ≥ .5: F 0)
    expect(r.adpFm).toBe(0);
    expect(r.images).toBe(2);
    expect(r.curves.fmeasure).toHaveLength(256);
  });

  it('precision/recall curves are the per-threshold means; MAE, IoU and Dice the per-image means', () => {
    const r = evaluateSod([
      { pred: [0.9, 0.5], gt: [1, 0], height: 1, width: 2 },
      { pred: [0.3, 0.2], gt: [1, 0], height: 2, width: 1 },
    ]);
    // t = 100: A has both ≥ t (P .5, R 1); B none (P 0, R 0)
    expect(r.curves.precision[100]).toBeCloseTo(0.25, 15);
    expect(r.curves.recall[100]).toBeCloseTo(0.5, 15);
    expect(r.MAE).toBeCloseTo(((0.1 + 0.5) / 2 + (0.7 + 0.2) / 2) / 2, 15);
    // at > 0.5: A predicts {0} = truth → IoU 1; B predicts nothing → IoU 0
    expect(r.IoU).toBe(0.5);
    expect(r.Dice).toBe(0.5);
  });

  it('E-measure of an all-background or all-foreground truth divides by N − 1 as the reference', () => {
    // truth all background, pred [0, 0, 0, 1]: adaptive threshold 0.5 marks pixel 3; 3 pixels right → 3/(4 − 1) = 1
    expect(new SodEvaluator().add([0, 0, 0, 1], [0, 0, 0, 0], 2, 2).adpEm).toBeCloseTo(1, 14);
    expect(eMeasure([0, 0, 0, 1], [0, 0, 0, 0]).adaptive).toBeCloseTo(1, 14);
    // all foreground, pred [1, 1, 0, 0] → threshold 1: 2 marked → 2/3
    expect(eMeasure([1, 1, 0, 0], [1, 1, 1, 1]).adaptive).toBeCloseTo(2 / 3, 14);
    // the curve: at t = 0 all 4 marked → 4/3 (the reference exceeds 1 here too)
    expect(scoreSodImage(prepareSodPair([1, 1, 0, 0], [1, 1, 1, 1], 2, 2)).emeasure[0]).toBeCloseTo(4 / 3, 14);
  });

  it('IoU/Dice of an empty prediction on an empty truth: 0 as the reference, 1 on request', () => {
    const zero = new SodEvaluator();
    zero.add([0.1, 0.2], [0, 0], 1, 2);
    expect([zero.result().IoU, zero.result().Dice, zero.result().adpIoU]).toEqual([0, 0, 0]);
    const one = new SodEvaluator({ emptyIoU: 1 });
    one.add([0.1, 0.2], [0, 0], 1, 2);
    expect([one.result().IoU, one.result().Dice]).toEqual([1, 1]);
    expect(iou([0.1, 0.2], [0, 0], 0.5, { empty: 1 })).toBe(1);
    expect(dice([0.1, 0.2], [0, 0])).toBe(0);
  });

  it('0–255 inputs: truth > 128, prediction / 255 then min-max normalised unless constant', () => {
    const p = prepareSodPair([51, 102, 153, 255], [128, 129, 0, 255], 2, 2, 'uint8');
    expect(Array.from(p.gt)).toEqual([0, 1, 0, 1]);
    [0, 0.25, 0.5, 1].forEach((v, i) => expect(p.pred[i]).toBeCloseTo(v, 15));
    const c = prepareSodPair([100, 100], [0, 255], 1, 2, 'uint8');
    expect(Array.from(c.pred)).toEqual([100 / 255, 100 / 255]);
    // probabilities ('unit', the default) are used as they are
    expect(Array.from(prepareSodPair([0.2, 0.4], [0.4, 0.6], 1, 2).pred)).toEqual([0.2, 0.4]);
    expect(Array.from(prepareSodPair([0.2, 0.4], [0.4, 0.6], 1, 2).gt)).toEqual([0, 1]);
    expect(() => prepareSodPair([2, 0], [0, 1], 1, 2)).toThrow(/prediction value 2 at 0 is outside \[0, 1\]/);
  });

  it('S-measure rounds the centroid half to even (numpy), then splits at it + 1 (MATLAB)', () => {
    // 1×4, truth {0, 1}: centroid column 0.5 → round 0 → split after column 1 (a half-up round would split after 2)
    // object: fg [1, 0] mean .5 sd √.5 → 1/(1.25 + √.5); bg (1 − pred) [1, 1] → 2/2 = 1; → (.5·fg + .5·1)
    // region: left 1 pixel (pred 1, truth 1): SSIM 1 (no variance) weight 1/4; right (pred [0,0,0], truth [1,0,0]):
    //   mean x 0 → α = 0, β = (0 + 1/9)(0 + 1/3) ≠ 0 → 0; bottom rows are empty (weight 0) → region 1/4
    const object = 0.5 * (1 / (1.25 + Math.sqrt(0.5))) + 0.5;
    expect(sMeasure([1, 0, 0, 0], [1, 1, 0, 0], 1, 4)).toBeCloseTo(0.5 * object + 0.5 * 0.25, 12);
    expect(structureMeasure(prepareSodPair([0.2, 0.4, 0, 0], [0, 0, 0, 0], 2, 2))).toBeCloseTo(0.85, 14);
  });

  it('weighted F-measure: 1 when perfect, 0 without foreground, and a worked case', () => {
    expect(weightedFmeasure([1, 1, 0, 0], Uint8Array.from([1, 1, 0, 0]), 2, 2)).toBeCloseTo(1, 12);
    expect(weightedFmeasure([0.3, 0.1], Uint8Array.from([0, 0]), 1, 2)).toBe(0);
    // fspecial('gaussian', 7, 5): normalised, centre exp(0)/Σ
    const k = matlabGaussian(7, 5);
    let total = 0;
    for (let y = 0; y < 7; y++) for (let x = 0; x < 7; x++) total += Math.exp(-((x - 3) ** 2 + (y - 3) ** 2) / 50);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
    expect(k[24]).toBeCloseTo(1 / total, 15);
    expect(k[0]).toBeCloseTo(Math.exp(-18 / 50) / total, 15);
    // 6×7 case: truth a 3×3 block (rows 1–3, cols 2–4) and pixel (4, 4); pred (i/41)², raised to ≥ 0.6 on the truth.
    // Value from a direct numpy/scipy transcription of the reference formula (scipy's distance_transform_edt
    // with indices, convolve mode 'constant'): 0.4505067024180484
    const gt = new Uint8Array(42);
    for (let y = 1; y <= 3; y++) for (let x = 2; x <= 4; x++) gt[y * 7 + x] = 1;
    gt[4 * 7 + 4] = 1;
    const pred = Array.from({ length: 42 }, (_, i) => (gt[i] ? Math.max((i / 41) ** 2, 0.6) : (i / 41) ** 2));
    expect(weightedFmeasure(pred, gt, 6, 7)).toBeCloseTo(0.4505067024180484, 12);
  });

  it('bad input is a one-line error naming the function', () => {
    expect(() => new SodEvaluator().add([0.5], [1, 0], 1, 1)).toThrow(/prepareSodPair: prediction has 1 values, ground truth 2/);
    expect(() => new SodEvaluator().add([0.5, 0.5], [1, 0], 3, 1)).toThrow(/prepareSodPair: 2 values do not match 3×1/);
    expect(() => new SodEvaluator().result()).toThrow(/SodEvaluator.result: no images were added/);
    expect(() => new SodEvaluator({ emptyIoU: 2 as 0 })).toThrow(/emptyIoU must be 0 or 1; got 2/);
  });
});

describe('properties', () => {
  const image = fc.record({ h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 7 }) }).chain(({ h, w }) =>
    fc.record({
      h: fc.constant(h),
      w: fc.constant(w),
      pred: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: h * w, maxLength: h * w }),
      gt: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: h * w, maxLength: h * w }),
    }),
  );

  it('a one-image dataset gives the per-image values', () => {
    fc.assert(
      fc.property(image, ({ h, w, pred, gt }) => {
        const ev = new SodEvaluator();
        ev.add(pred, gt, h, w);
        const r = ev.result();
        const f = fMeasure(pred, gt),
          e = eMeasure(pred, gt);
        expect(r.MAE).toBeCloseTo(mae(pred, gt), 12);
        expect(r.maxFm).toBeCloseTo(f.max, 12);
        expect(r.meanFm).toBeCloseTo(f.mean, 12);
        expect(r.adpFm).toBeCloseTo(f.adaptive, 12);
        expect(r.maxEm).toBeCloseTo(e.max, 12);
        expect(r.meanEm).toBeCloseTo(e.mean, 12);
        expect(r.adpEm).toBeCloseTo(e.adaptive, 12);
        expect(r.Smeasure).toBeCloseTo(sMeasure(pred, gt, h, w), 12);
        expect(r.IoU).toBeCloseTo(iou(pred, gt), 12);
        expect(r.Dice).toBeCloseTo(dice(pred, gt), 12);
        expect(r.wFmeasure).toBeCloseTo(weightedFmeasure(pred, Uint8Array.from(gt), h, w), 12);
      }),
      { numRuns: 60 },
    );
  });

  it('the dataset numbers do not depend on the order of the images; a repeated image changes nothing', () => {
    type Img = { h: number; w: number; pred: number[]; gt: number[] };
    const run = (xs: Img[]) => {
      const ev = new SodEvaluator();
      for (const x of xs) ev.add(x.pred, x.gt, x.h, x.w);
      const { curves: _c, images: _n, ...m } = ev.result();
      return m;
    };
    fc.assert(
      fc.property(image, image, (a, b) => {
        const ab = run([a, b]),
          ba = run([b, a]);
        for (const k of Object.keys(ab) as (keyof typeof ab)[]) expect(ab[k]).toBeCloseTo(ba[k], 12);
        const one = run([a]),
          twice = run([a, a]);
        for (const k of Object.keys(one) as (keyof typeof one)[]) expect(twice[k]).toBeCloseTo(one[k], 12);
      }),
      { numRuns: 40 },
    );
  });
});
