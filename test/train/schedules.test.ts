import { describe, it, expect } from 'vitest';
import { schedules } from '../../src/node';

describe('schedules (PyTorch values, stepped once per update)', () => {
  it('stepLR and multiStepLR', () => {
    const s = schedules.stepLR(0.1, { stepSize: 7, gamma: 0.1 });
    expect([0, 6, 7, 13, 14].map(s)).toEqual([0.1, 0.1, expect.closeTo(0.01, 12), expect.closeTo(0.01, 12), expect.closeTo(0.001, 12)]);
    const m = schedules.multiStepLR(1, { milestones: [2, 5], gamma: 0.5 });
    expect([0, 1, 2, 4, 5, 9].map(m)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
  });
  it('cosine, with warm restarts, exponential', () => {
    const c = schedules.cosineAnnealingLR(1, { tMax: 10, etaMin: 0.1 });
    expect(c(0)).toBeCloseTo(1);
    expect(c(5)).toBeCloseTo(0.55);
    expect(c(10)).toBeCloseTo(0.1);
    expect(c(20)).toBeCloseTo(0.1);
    const w = schedules.cosineWarmRestarts(1, { t0: 4, tMult: 2 });
    expect(w(0)).toBeCloseTo(1);
    expect(w(2)).toBeCloseTo(0.5);
    expect(w(4)).toBeCloseTo(1);
    expect(w(8)).toBeCloseTo(0.5);
    expect(w(12)).toBeCloseTo(1);
    expect(schedules.exponentialLR(2, { gamma: 0.5 })(3)).toBeCloseTo(0.25);
  });
  it('linear warm-up then another schedule; sequential', () => {
    const s = schedules.linearWarmup(1, { steps: 4, startFactor: 0.2, after: schedules.stepLR(1, { stepSize: 2, gamma: 0.1 }) });
    expect([0, 2, 4, 5, 6].map(s)).toEqual([0.2, expect.closeTo(0.6, 12), 1, 1, expect.closeTo(0.1, 12)]);
    const q = schedules.sequential([
      { schedule: schedules.constant(0.5), steps: 3 },
      { schedule: schedules.exponentialLR(1, { gamma: 0.5 }), steps: 10 },
    ]);
    expect([0, 2, 3, 4].map(q)).toEqual([0.5, 0.5, 1, 0.5]);
  });
});
