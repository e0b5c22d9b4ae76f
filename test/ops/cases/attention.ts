import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';

/** q [...batch, Lq, D], k [...batch, Lk, D], v [...batch, Lk, Dv] with small sizes; no bias (the fused kernel's cases add both bias forms). */
const plain = fc
  .tuple(
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 1, max: 4 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 1, max: 4 }),
    fc.integer({ min: 1, max: 3 }),
  )
  .chain(([lead, lq, lk, d, dv]) => {
    const b = new Array(lead).fill(2);
    return fc
      .tuple(refTensor([...b, lq, d]), refTensor([...b, lk, d]), refTensor([...b, lk, dv]))
      .map(([q, k, v]) => ({ inputs: [q, k, v], attrs: { scale: 1 / Math.sqrt(d), kh: 0, kw: 0 } }));
  });

export const attentionCases: CaseTable = {
  scaledDotProductAttention: { arb: plain },
};
