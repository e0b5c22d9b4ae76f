import fc from 'fast-check';
import { shape } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';

/** fill's four closed forms, with the scalars the public functions pass (full, arange, linspace, eye). */
const full = fc
  .tuple(
    shape({ maxRank: 3, allowEmpty: true }),
    fc.constantFrom('float32', 'int32', 'uint32', 'bool'),
    fc.integer({ min: -1000, max: 1000 }),
    fc.double({ min: -100, max: 100, noNaN: true }),
  )
  .map(([s, dtype, k, v]) => ({
    inputs: [],
    attrs: {
      shape: s,
      dtype,
      form: 'full',
      scalars: [dtype === 'float32' ? Math.fround(v) : dtype === 'bool' ? (k !== 0 ? 1 : 0) : dtype === 'uint32' ? Math.abs(k) : k],
    },
  }));
const arange = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: -50, max: 50 }),
      fc.integer({ min: -5, max: 5 }).filter((d) => d !== 0),
    )
    .map(([n, start, step]) => ({ inputs: [], attrs: { shape: [n], dtype: 'int32', form: 'arange', scalars: [start, step] } })),
  fc
    .tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: -40, max: 40 }), fc.constantFrom(0.25, 0.5, -1.5, 2))
    .map(([n, start, step]) => ({ inputs: [], attrs: { shape: [n], dtype: 'float32', form: 'arange', scalars: [start / 4, step] } })),
);
const linspace = fc
  .tuple(fc.integer({ min: 0, max: 12 }), fc.double({ min: -10, max: 10, noNaN: true }), fc.double({ min: -10, max: 10, noNaN: true }))
  .map(([steps, a, b]) => {
    const start = Math.fround(a),
      end = steps === 1 ? start : Math.fround(b);
    return {
      inputs: [],
      attrs: { shape: [steps], dtype: 'float32', form: 'linspace', scalars: [start, end, steps > 1 ? (end - start) / (steps - 1) : 0, steps] },
    };
  });
const eye = fc
  .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom('float32', 'int32', 'bool'))
  .map(([n, m, dtype]) => ({ inputs: [], attrs: { shape: [n, m], dtype, form: 'eye', scalars: [m] } }));

export const creationCases: CaseTable = {
  fill: { arb: fc.oneof(full, arange, linspace, eye), tol: { rtol: 1e-6, atol: 1e-5 } },
};
