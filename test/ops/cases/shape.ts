import fc from 'fast-check';
import { shape, refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';

export const shapeCases: CaseTable = {
  reshape: {
    arb: shape({ maxRank: 4 })
      .chain((s) => fc.tuple(refTensor(s), fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length })))
      .map(([x, perm]) => ({ inputs: [x], attrs: { shape: [...perm].reverse() } })),
  },
  broadcastTo: {
    arb: shape({ maxRank: 3 })
      .chain((s) => fc.tuple(refTensor(s.map((d, i) => (i % 2 ? 1 : d))), fc.constant([2, ...s])))
      .map(([x, target]) => ({ inputs: [x], attrs: { shape: target } })),
  },
  alias: {
    arb: shape()
      .chain((s) => refTensor(s))
      .map((x) => ({ inputs: [x], attrs: {} })),
  },
};
