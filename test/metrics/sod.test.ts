/** SOD metrics on small cases computed by hand (working in the comments). */
import { describe, it, expect } from 'vitest';
import { mae, fMeasure, iou, dice, sMeasure, eMeasure } from '../../src/sod/metrics';

// 2×2 case: prediction vs ground truth
const pred = [0.95, 0.21, 0.61, 0.11]; // off the k/255 grid, so threshold counts are exact
const gt = [1, 0, 1, 1];

describe('SOD metrics', () => {
  it('MAE, IoU, Dice', () => {
    expect(mae(pred, gt)).toBeCloseTo((0.05 + 0.21 + 0.39 + 0.89) / 4, 12);
    // at 0.5: predicted {0, 2}; truth {0, 2, 3} → IoU 2/3, Dice 2·2/(2+3)
    expect(iou(pred, gt)).toBeCloseTo(2 / 3, 12);
    expect(dice(pred, gt)).toBeCloseTo(0.8, 12);
    // both empty: 0 as PySODMetrics, or 1 when asked
    expect(iou([0, 0], [0, 0])).toBe(0);
    expect(iou([0, 0], [0, 0], 0.5, { empty: 1 })).toBe(1);
    expect(dice([0, 0], [0, 0])).toBe(0);
  });

  it('F-beta (β² = 0.3): max, mean, adaptive', () => {
    const F = (p: number, r: number) => (1.3 * p * r) / (0.3 * p + r);
    const f = fMeasure(pred, gt);
    // best threshold in (0.21, 0.61]: P = 1, R = 2/3
    expect(f.max).toBeCloseTo(F(1, 2 / 3), 6);
    // adaptive threshold 2·mean = 0.94: only pixel 0 → P = 1, R = 1/3
    expect(f.adaptive).toBeCloseTo(F(1, 1 / 3), 6);
    // mean over t = k/255: t ≤ .11 (k 0–28): P=.75,R=1; (.11,.21] (k 29–53): 2/3,2/3; (.21,.61] (k 54–155): 1,2/3; (.61,.95] (k 156–242): 1,1/3; above (k 243–255): 0
    const counts = [29, 25, 102, 87, 13];
    const values = [F(0.75, 1), F(2 / 3, 2 / 3), F(1, 2 / 3), F(1, 1 / 3), 0];
    expect(counts.reduce((a, b) => a + b, 0)).toBe(256);
    expect(f.mean).toBeCloseTo(counts.reduce((s, c, i) => s + c * values[i], 0) / 256, 5);
  });

  it('S-measure: perfect = 1, empty truth = 1 − mean(pred), and a hand-worked case', () => {
    expect(sMeasure([1, 0, 1, 1], gt, 2, 2)).toBeCloseTo(1, 6);
    expect(sMeasure([0.2, 0.4, 0, 0], [0, 0, 0, 0], 2, 2)).toBeCloseTo(0.85, 12);
    // truth {0}, prediction all 0: object term = 0.25·0 + 0.75·2/(1+1+0) = 0.75; each 1-pixel region has
    // zero variance in both, so SSIM = 1 there → region term 1; S = (0.75 + 1)/2
    expect(sMeasure([0, 0, 0, 0], [1, 0, 0, 0], 2, 2)).toBeCloseTo(0.875, 6);
  });

  it('E-measure: adaptive on the 2×2 case', () => {
    // threshold 0.94 → FM = [1,0,0,0] (mean .25); GT mean .75; alignment per pixel .6, .6, −1, −1
    // enhanced (1+φ)²/4 = .64, .64, 0, 0 → sum 1.28 / (4 − 1)
    expect(eMeasure(pred, gt).adaptive).toBeCloseTo(1.28 / 3, 6);
    // empty truth: the count predicted background over N − 1 as the reference; threshold 2·0.3 = 0.6 leaves FM empty
    expect(eMeasure([0.2, 0.4], [0, 0]).adaptive).toBeCloseTo(2 / 1, 12);
    expect(eMeasure([0.2, 0.4, 0.1, 0.3], [0, 0, 0, 0]).adaptive).toBeCloseTo(4 / 3, 12);
  });

  it('mismatched sizes are a clear error', () => {
    expect(() => mae([1, 2], [1])).toThrow(/mae: prediction has 2 values, ground truth 1/);
  });
});
