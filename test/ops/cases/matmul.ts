/**
 * matmul and linear cases: 1-D operands, broadcast batch dims, transposed-operand flags, odd sizes
 * 1..~40 (not multiples of the tiles) and sizes that allow the vec4 paths (multiples of 4).
 */
import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';

/** A matrix dim: mostly small, sometimes odd and past a tile (up to 40), sometimes a multiple of 4. */
const dim = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 9 }) },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 40 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 10 }).map((d) => 4 * d) },
);

/** Batch shapes of a and b that broadcast together (each may be shorter or have 1s). */
const batchPair = fc
  .array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 })
  .chain((full) =>
    fc
      .tuple(
        fc.integer({ min: 0, max: full.length }),
        fc.integer({ min: 0, max: full.length }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: full.length, maxLength: full.length }),
      )
      .map(
        ([dropA, dropB, ones]) =>
          [full.slice(dropA).map((d, i) => (ones[i + dropA] === 1 ? 1 : d)), full.slice(dropB).map((d, i) => (ones[i + dropB] === 2 ? 1 : d))] as const,
      ),
  );

/** Keeps the total work small: at most ~40k multiply-adds per case. */
const small = (batch: readonly number[], m: number, n: number, k: number) => batch.reduce((x, y) => x * y, 1) * m * n * k <= 40_000;

const matmulCase = fc
  .record({
    m: dim,
    n: dim,
    k: dim,
    batches: batchPair,
    // rank of each operand: 1 (vector) or ≥ 2 (matrix with the drawn batch dims)
    aVec: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
    bVec: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
    transA: fc.boolean(),
    transB: fc.boolean(),
  })
  .filter(({ m, n, k, batches }) => small([...batches[0], ...batches[1]], m, n, k))
  .chain(({ m, n, k, batches: [ba, bb], aVec, bVec, transA, transB }) => {
    const tA = transA && !aVec,
      tB = transB && !bVec;
    const aShape = aVec ? [k] : [...ba, ...(tA ? [k, m] : [m, k])];
    const bShape = bVec ? [k] : [...bb, ...(tB ? [n, k] : [k, n])];
    return fc
      .tuple(refTensor(aShape, { min: -2, max: 2 }), refTensor(bShape, { min: -2, max: 2 }))
      .map(([a, b]) => ({ inputs: [a, b], attrs: { transA: tA, transB: tB } }));
  });

const linearCase = fc
  .record({
    lead: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 2 }),
    inF: dim,
    outF: dim,
    bias: fc.boolean(),
  })
  .filter(({ lead, inF, outF }) => small(lead, 1, inF, outF))
  .chain(({ lead, inF, outF, bias }) =>
    fc
      .tuple(refTensor([...lead, inF], { min: -2, max: 2 }), refTensor([outF, inF], { min: -2, max: 2 }), refTensor([outF], { min: -2, max: 2 }))
      .map(([x, w, b]) => ({ inputs: bias ? [x, w, b] : [x, w], attrs: {} })),
  );

// sums of up to 40 products of values in [-2, 2]: float32 rounding grows with k
const tol = { rtol: 1e-4, atol: 1e-4 };

export const matmulCases: CaseTable = {
  matmul: { arb: matmulCase, tol, runs: 40, gradRuns: 15 },
  linear: { arb: linearCase, tol, gradRuns: 10 },
};

export { matmulCase, linearCase };
