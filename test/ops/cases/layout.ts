import fc from 'fast-check';
import { shape, refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';

const RUNS = { runs: 20, gradRuns: 10 };

/** A float tensor of a random shape (empty dims allowed unless told). */
const anyTensor = (o: Parameters<typeof shape>[0] = {}) => shape({ allowEmpty: true, ...o }).chain((s) => refTensor(s));

/** Per-dim Python-slice parameters already resolved: start in [0, n], step 1..3, length up to what fits. */
const sliceAttrs = (s: readonly number[]) =>
  fc
    .tuple(
      ...s.map((n) =>
        fc
          .tuple(fc.integer({ min: 0, max: n }), fc.integer({ min: 1, max: 3 }))
          .chain(([start, step]) => fc.integer({ min: 0, max: Math.ceil((n - start) / step) }).map((len) => [start, step, len] as const)),
      ),
    )
    .map((dims) => ({ start: dims.map((d) => d[0]), step: dims.map((d) => d[1]), shape: dims.map((d) => d[2]) }));

/** Int32 index values in [0, n), sometimes one out of range (−1 or n) to exercise the documented behaviour. */
const indexValues = (s: readonly number[], n: number, oob: boolean): fc.Arbitrary<RefTensor> =>
  refTensor(s, { dtype: 'int32', min: oob ? -1 : 0, max: oob ? n : Math.max(n - 1, 0) });

/** Pad amounts per dim for a mode (dim order), respecting each mode's rules. */
const padAttrs = (s: readonly number[]) =>
  fc.constantFrom('constant', 'reflect', 'replicate').chain((mode) =>
    fc
      .tuple(
        fc.tuple(
          ...s.map((n) => {
            if (mode === 'reflect') return fc.tuple(fc.integer({ min: 0, max: Math.max(n - 1, 0) }), fc.integer({ min: 0, max: Math.max(n - 1, 0) }));
            if (mode === 'replicate') return fc.tuple(fc.integer({ min: 0, max: n ? 3 : 0 }), fc.integer({ min: 0, max: n ? 3 : 0 })); // an empty dim has no edge
            return fc.tuple(fc.integer({ min: -n, max: 3 }), fc.integer({ min: -n, max: 3 })).filter(([a, b]) => n + a + b >= 0);
          }),
        ) as fc.Arbitrary<[number, number][]>,
        fc.double({ min: -2, max: 2, noNaN: true }).map(Math.fround),
      )
      .map(([pads, value]) => ({ before: pads.map((p) => p[0]), after: pads.map((p) => p[1]), mode, value: mode === 'constant' ? value : 0 })),
  );

/** Shapes for gather/scatter: x's shape, a dim, and an index shape ≤ x's on the other dims. */
const gatherShapes = fc.tuple(shape({ minRank: 1, maxRank: 3, maxDim: 4 }), fc.nat()).chain(([xs, k]) => {
  const dim = k % xs.length;
  return fc.tuple(...xs.map((n, d) => fc.integer({ min: d === dim ? 0 : Math.min(1, n), max: d === dim ? 5 : n }))).map((is) => ({ xs, dim, is }));
});

export const layoutCases: CaseTable = {
  permute: {
    arb: anyTensor().chain((x) =>
      fc
        .shuffledSubarray(
          x.shape.map((_, i) => i),
          { minLength: x.shape.length, maxLength: x.shape.length },
        )
        .map((dims) => ({ inputs: [x], attrs: { dims } })),
    ),
    ...RUNS,
  },
  transpose: {
    arb: anyTensor({ minRank: 1 }).chain((x) =>
      fc
        .tuple(fc.integer({ min: -x.shape.length, max: x.shape.length - 1 }), fc.integer({ min: -x.shape.length, max: x.shape.length - 1 }))
        .map(([dim0, dim1]) => ({ inputs: [x], attrs: { dim0, dim1 } })),
    ),
    ...RUNS,
  },
  slice: { arb: anyTensor().chain((x) => sliceAttrs(x.shape).map((attrs) => ({ inputs: [x], attrs }))), ...RUNS },
  sliceBackward: {
    arb: shape({ allowEmpty: true }).chain((s) =>
      sliceAttrs(s).chain((a) => refTensor(a.shape).map((dy) => ({ inputs: [dy], attrs: { shape: s, start: a.start, step: a.step } }))),
    ),
    ...RUNS,
  },
  flip: { arb: anyTensor().chain((x) => fc.subarray(x.shape.map((_, i) => i)).map((dims) => ({ inputs: [x], attrs: { dims } }))), ...RUNS },
  roll: {
    arb: anyTensor({ minRank: 1 }).chain((x) =>
      fc
        .array(fc.integer({ min: 0, max: x.shape.length - 1 }), { minLength: 1, maxLength: 3 })
        .chain((dims) =>
          fc
            .array(fc.integer({ min: -7, max: 7 }), { minLength: dims.length, maxLength: dims.length })
            .map((shifts) => ({ inputs: [x], attrs: { shifts, dims } })),
        ),
    ),
    ...RUNS,
  },
  tile: {
    arb: anyTensor({ maxRank: 3, maxDim: 3 }).chain((x) =>
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: x.shape.length, maxLength: x.shape.length }).map((reps) => ({ inputs: [x], attrs: { reps } })),
    ),
    ...RUNS,
  },
  concat: {
    arb: fc.tuple(shape({ minRank: 1, maxRank: 3, allowEmpty: true }), fc.nat(), fc.integer({ min: 1, max: 4 })).chain(([s, k, count]) => {
      const dim = k % s.length;
      return fc
        .tuple(...Array.from({ length: count }, () => fc.integer({ min: 0, max: 4 }).chain((n) => refTensor(s.map((d, i) => (i === dim ? n : d))))))
        .map((xs) => ({ inputs: xs, attrs: { dim } }));
    }),
    ...RUNS,
  },
  stack: {
    arb: fc
      .tuple(shape({ maxRank: 3, allowEmpty: true }), fc.nat(), fc.integer({ min: 1, max: 4 }))
      .chain(([s, k, count]) =>
        fc.tuple(...Array.from({ length: count }, () => refTensor(s))).map((xs) => ({ inputs: xs, attrs: { dim: (k % (2 * s.length + 2)) - s.length - 1 } })),
      ),
    ...RUNS,
  },
  split: {
    arb: fc.tuple(shape({ minRank: 1, maxRank: 3, maxDim: 6 }), fc.nat()).chain(([s, k]) => {
      const dim = k % s.length;
      return fc.tuple(refTensor(s), fc.array(fc.integer({ min: 1, max: Math.max(s[dim] - 1, 1) }), { minLength: 1, maxLength: s[dim] })).map(([x, cuts]) => {
        const sizes: number[] = [];
        let left = s[dim];
        for (const c of cuts) {
          if (left === 0) break;
          const take = Math.min(c, left);
          sizes.push(take);
          left -= take;
        }
        if (left > 0) sizes.push(left);
        // at least two pieces (a zero-size one if need be): the gradient harness reads a one-element array as a single output
        if (sizes.length === 1) sizes.push(0);
        return { inputs: [x], attrs: { sizes, dim } };
      });
    }),
    ...RUNS,
  },
  pad: { arb: anyTensor({ minRank: 1, maxDim: 4 }).chain((x) => padAttrs(x.shape).map((attrs) => ({ inputs: [x], attrs }))), ...RUNS },
  padBackward: {
    arb: shape({ minRank: 1, maxDim: 4, allowEmpty: true }).chain((s) =>
      padAttrs(s).chain((a) =>
        refTensor(s.map((n, d) => n + a.before[d] + a.after[d])).map((dy) => ({ inputs: [dy], attrs: { inShape: s, before: a.before, mode: a.mode } })),
      ),
    ),
    ...RUNS,
  },
  gather: {
    arb: fc
      .tuple(gatherShapes, fc.boolean())
      .chain(([{ xs, dim, is }, oob]) => fc.tuple(refTensor(xs), indexValues(is, xs[dim], oob)).map(([x, index]) => ({ inputs: [x, index], attrs: { dim } }))),
    ...RUNS,
  },
  scatterAdd: {
    arb: fc
      .tuple(gatherShapes, fc.boolean(), fc.boolean())
      .chain(([{ xs, dim, is }, oob, bigger]) =>
        fc
          .tuple(refTensor(xs), indexValues(is, xs[dim], oob), refTensor(is.map((n, d) => n + (bigger && d === 0 ? 1 : 0))))
          .map(([x, index, src]) => ({ inputs: [x, index, src], attrs: { dim } })),
      ),
    ...RUNS,
  },
  indexSelect: {
    arb: fc.tuple(shape({ minRank: 1, maxRank: 3, maxDim: 4 }), fc.nat(), fc.integer({ min: 0, max: 5 }), fc.boolean()).chain(([s, k, len, oob]) => {
      const dim = k % s.length;
      return fc.tuple(refTensor(s), indexValues([len], s[dim], oob)).map(([x, index]) => ({ inputs: [x, index], attrs: { dim } }));
    }),
    ...RUNS,
  },
  indexAdd: {
    arb: fc.tuple(shape({ minRank: 1, maxRank: 3, maxDim: 4 }), fc.nat(), fc.integer({ min: 0, max: 5 }), fc.boolean()).chain(([s, k, len, oob]) => {
      const dim = k % s.length;
      return fc
        .tuple(refTensor(s), indexValues([len], s[dim], oob), refTensor(s.map((n, d) => (d === dim ? len : n))))
        .map(([x, index, src]) => ({ inputs: [x, index, src], attrs: { dim } }));
    }),
    ...RUNS,
  },
  oneHot: {
    arb: fc
      .tuple(shape({ maxRank: 3, allowEmpty: true }), fc.integer({ min: 1, max: 5 }))
      .chain(([s, c]) => refTensor(s, { dtype: 'int32', min: -1, max: c }).map((index) => ({ inputs: [index], attrs: { numClasses: c } }))),
    grad: false,
    runs: 15,
  },
};
