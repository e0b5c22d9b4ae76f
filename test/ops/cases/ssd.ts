/** The SSD loss (d2l's calc_loss): logits, anchor classes, offsets and masks of a small batch. */
import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';
// registers the op
import '../../../src/detection/ssd';

const ssdLossCase = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 4 })).chain(([B, A, C]) =>
  fc
    .tuple(
      refTensor([B, A, C], { min: -4, max: 4 }),
      fc.array(fc.integer({ min: 0, max: C - 1 }), { minLength: B * A, maxLength: B * A }),
      refTensor([B, A * 4], { min: -3, max: 3 }),
      refTensor([B, A * 4], { min: -3, max: 3 }),
      // d2l's masks: all four offsets of an anchor together, about half the anchors positive
      fc.array(fc.boolean(), { minLength: B * A, maxLength: B * A }),
    )
    .map(([cls, labels, preds, targets, positive]) => {
      const masks = Float64Array.from({ length: B * A * 4 }, (_, k) => (positive[Math.floor(k / 4)] ? 1 : 0));
      // keep masked differences away from the kink of |·| at 0
      const p = preds.data.map((v, k) => {
        const d = v - targets.data[k];
        return Math.fround(Math.abs(d) < 0.05 ? targets.data[k] + 0.3 * (d < 0 ? -1 : 1) : v);
      });
      const inputs: RefTensor[] = [
        cls,
        { shape: [B, A], dtype: 'int32', data: Float64Array.from(labels) },
        { ...preds, data: p },
        targets,
        { shape: [B, A * 4], dtype: 'float32', data: masks },
      ];
      return { inputs, attrs: {} };
    }),
);

export const ssdCases: CaseTable = {
  // gradients of the predictions (targets and masks are data)
  ssdLoss: { arb: ssdLossCase, grad: [0, 2] },
};
