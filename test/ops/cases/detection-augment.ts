/**
 * Cases for the box side of detection augmentation. Coordinates sit on a 1/64 grid (or a 1/4 one) and minVisible
 * on a 1/8 grid, so the keep tests (centres against window edges, visible area against a fraction of
 * the area) are exact in f32: boxes whose centre lands exactly on an edge are drawn on purpose and
 * must be dropped on both sides. Rows include padding (class −1) and windows include empty ones.
 */
import fc from 'fast-check';
import type { CaseTable, OpCase } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';
// registers the op (src/detection is not part of the core entry point)
import '../../../src/detection/augment';

const ref = (shape: number[], data: number[]): RefTensor => ({ shape, dtype: 'float32', data: Float64Array.from(data) });
const onGrid = (lo: number, hi: number, step: number) => fc.integer({ min: lo * step, max: hi * step }).map((k) => k / step);
/** A fine 1/64 grid, or a coarse 1/4 one, where centres and edges coincide often. */
const coord = (lo: number, hi: number) => fc.oneof(onGrid(lo, hi, 64), onGrid(lo, hi, 4));
/** An ordered pair (lo ≤ hi). */
const span = (lo: number, hi: number) => fc.tuple(coord(lo, hi), coord(lo, hi)).map(([a, b]) => [Math.min(a, b), Math.max(a, b)]);

const row = fc.tuple(fc.integer({ min: -1, max: 3 }), span(-0.25, 1.25), span(-0.25, 1.25)).map(([cls, [x1, x2], [y1, y2]]) => [cls, x1, y1, x2, y2]);
const windowRow = fc
  .tuple(span(0, 1), span(0, 1), fc.constantFrom(0, 1), fc.boolean())
  .map(([[x1, x2], [y1, y2], flip, full]) => (full ? [0, 0, 1, 1, flip] : [x1, y1, x2, y2, flip]));

const targetsCase = fc
  .record({ B: fc.integer({ min: 1, max: 3 }), G: fc.integer({ min: 1, max: 6 }), minVisible: fc.integer({ min: 0, max: 8 }).map((k) => k / 8) })
  .chain(({ B, G, minVisible }) =>
    fc
      .tuple(fc.array(row, { minLength: B * G, maxLength: B * G }), fc.array(windowRow, { minLength: B, maxLength: B }))
      .map(([rows, wins]): OpCase => ({ inputs: [ref([B, G, 5], rows.flat()), ref([B, 5], wins.flat())], attrs: { minVisible } })),
  );

export const detectionAugmentCases: CaseTable = {
  detectionTargets: { arb: targetsCase, grad: false, runs: 150, tol: { rtol: 1e-6, atol: 1e-6 } },
};
