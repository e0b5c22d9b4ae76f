/**
 * The Euclidean distance transform with nearest-feature indices against scipy's
 * distance_transform_edt(input, return_indices=True), tie-breaks included. The fixture holds 40 random
 * masks (2–9 × 2–9) and scipy 1.17's outputs, made with:
 *   d, idx = distance_transform_edt(m, return_indices=True); nearest = idx[0]·w + idx[1]
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../cli/run-cli';
import { distanceTransformEdt } from '../../src/sod/distance';

interface Case {
  h: number;
  w: number;
  input: number[];
  distance: number[];
  nearest: number[];
}
const cases: Case[] = JSON.parse(readFileSync(join(root, 'test/fixtures/sod/scipy-edt.json'), 'utf8'));

describe('distanceTransformEdt', () => {
  it('matches scipy on 40 random masks: distances and the chosen nearest feature', () => {
    expect(cases).toHaveLength(40);
    for (const c of cases) {
      const r = distanceTransformEdt(c.input, c.h, c.w);
      expect(Array.from(r.nearest)).toEqual(c.nearest);
      r.distance.forEach((d, i) => expect(d).toBeCloseTo(c.distance[i], 10));
    }
  });

  it('hand cases: a single feature, a tie, no feature', () => {
    // 1×5 with the feature at 2: distances 2 1 0 1 2
    expect(Array.from(distanceTransformEdt([1, 1, 0, 1, 1], 1, 5).distance)).toEqual([2, 1, 0, 1, 2]);
    // features at 0 and 2: pixel 1 is 1 from both; the earlier one wins
    expect(Array.from(distanceTransformEdt([0, 1, 0], 1, 3).nearest)).toEqual([0, 0, 2]);
    // 3×3 with the feature in the centre: corners √2
    expect(distanceTransformEdt([1, 1, 1, 1, 0, 1, 1, 1, 1], 3, 3).distance[0]).toBeCloseTo(Math.SQRT2, 15);
    const none = distanceTransformEdt([1, 1], 1, 2);
    expect(Array.from(none.nearest)).toEqual([-1, -1]);
    expect(() => distanceTransformEdt([0, 1, 1], 2, 2)).toThrow(/distanceTransformEdt: input has 3 values; expected 2×2 = 4/);
  });
});
