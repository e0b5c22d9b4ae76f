import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';

/** A feature map (C, H, W) or (B, C, H, W), small dims. */
const featureShape = fc
  .tuple(fc.boolean(), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
  .map(([batched, b, c, h, w]) => (batched ? [b, c, h, w] : [c, h, w]));
const gramOf = (s: number[]) => (s.length === 4 ? [s[0], s[1], s[1]] : [s[0], s[0]]);

/** Rank 2..4 with H, W ≥ 2 (the last two dims). */
const imageShape = fc
  .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 2, max: 5 }))
  .map(([lead, n, h, w]) => [...new Array(lead).fill(n), h, w]);

export const styleCases: CaseTable = {
  gramMatrix: { arb: featureShape.chain((s) => refTensor(s).map((x) => ({ inputs: [x], attrs: {} }))) },
  // the targets are constants (d2l detaches them): only the gradient w.r.t. the features exists
  contentLoss: {
    arb: featureShape.chain((s) => fc.tuple(refTensor(s), refTensor(s)).map(([x, t]) => ({ inputs: [x, t], attrs: {} }))),
    grad: [0],
  },
  styleLoss: {
    arb: featureShape.chain((s) => fc.tuple(refTensor(s), refTensor(gramOf(s))).map(([x, g]) => ({ inputs: [x, g], attrs: {} }))),
    grad: [0],
  },
  // distinct values (evenly spaced, ≥ 0.06 apart): no two neighbours tie, so |Δ| is differentiable everywhere
  totalVariationLoss: { arb: imageShape.chain((s) => refTensor(s, { distinct: true }).map((x) => ({ inputs: [x], attrs: {} }))) },
};
