/**
 * Cases for the segmentation confusion matrix: labels of any rank with targets and predictions drawn
 * partly out of range (−1, C, 255) and ignore indices inside and outside [0, C); class counts both
 * below and above the workgroup histogram's limit (C² ≤ 4096 counts in workgroup memory, 70² does not).
 */
import fc from 'fast-check';
import type { CaseTable, OpCase } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';
// registers the op (src/segmentation is not part of the core entry point)
import '../../../src/segmentation/confusion-matrix';

const ints = (shape: number[], data: number[]): RefTensor => ({ shape, dtype: 'int32', data: Float64Array.from(data) });

const confusionCase = fc
  .record({
    shape: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 }),
    C: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(70)),
    ignore: fc.oneof(fc.constant(255), fc.constant(-100), fc.integer({ min: 0, max: 7 })),
  })
  .chain(({ shape, C, ignore }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const label = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: C - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, C, 255, ignore) });
    return fc
      .tuple(fc.array(label, { minLength: n, maxLength: n }), fc.array(label, { minLength: n, maxLength: n }))
      .map(([p, t]): OpCase => ({ inputs: [ints(shape, p), ints(shape, t)], attrs: { numClasses: C, ignoreIndex: ignore } }));
  });

export const segmentationCases: CaseTable = {
  confusionMatrix: { arb: confusionCase, grad: false, runs: 100, tol: { rtol: 0, atol: 0 } },
};
