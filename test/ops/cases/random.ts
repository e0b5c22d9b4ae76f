import fc from 'fast-check';
import { shape, refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const key = fc.tuple(u32, u32);
const shp = shape({ maxRank: 3, maxDim: 7, allowEmpty: true });
const f32 = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map(Math.fround);
const exact = { rtol: 0, atol: 0 };

/** Random ops: GPU vs the float64 reference of the same Threefry stream. */
export const randomCases: CaseTable = {
  rand: { arb: fc.record({ key, shape: shp }).map((attrs) => ({ inputs: [], attrs })), tol: exact, grad: false },
  uniform: {
    arb: fc
      .tuple(key, shp, f32(-3, 3), f32(0, 4))
      .map(([k, s, low, span]) => ({ inputs: [], attrs: { key: k, shape: s, low, high: Math.fround(low + span) } })),
    tol: { rtol: 1e-6, atol: 1e-6 },
    grad: false,
  },
  randn: {
    arb: fc
      .tuple(key, shp, fc.oneof(fc.constant([0, 1]), fc.tuple(f32(-2, 2), f32(0, 2))))
      .map(([k, s, [mean, std]]) => ({ inputs: [], attrs: { key: k, shape: s, mean, std } })),
    tol: { rtol: 1e-5, atol: 1e-6 },
    grad: false,
  },
  randint: {
    arb: fc
      .tuple(key, shp, fc.integer({ min: -2147483648, max: 2147483647 }), fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 0xffffffff })))
      .map(([k, s, low, range]) => {
        const high = Math.min(low + range, 2147483648);
        return { inputs: [], attrs: { key: k, shape: s, low: high === low ? low - 1 : low, high } };
      }),
    tol: exact,
    grad: false,
  },
  bernoulli: {
    arb: fc
      .tuple(key, shp, fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 0.5)), fc.integer({ min: 0, max: 2 }))
      .chain(([k, s, p, mode]) =>
        mode === 0
          ? fc.constant({ inputs: [], attrs: { key: k, shape: s, p } })
          : // a tensor of probabilities, of the output's shape (mode 1) or broadcast along leading/size-1 dims (mode 2)
            refTensor(mode === 1 ? s : s.slice(1).map((d, i) => (i % 2 ? 1 : d)), { min: -0.1, max: 1.1 }).map((pt) => ({
              inputs: [pt],
              attrs: { key: k, shape: s },
            })),
      ),
    tol: exact,
    grad: false,
  },
};
