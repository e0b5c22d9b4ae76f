/**
 * Cases for the augmentation kernels. Affine matrices use entries on a 1/8 grid plus an offset of
 * 1/32, so the sampled coordinates are exact in f32 and never land on a pixel edge or the image
 * border (where nearest sampling and the fill test would flip between neighbours).
 */
import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable, OpCase } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';

const ref = (shape: number[], data: number[]): RefTensor => ({ shape, dtype: 'float32', data: Float64Array.from(data) });
/** Uniform in [lo, hi] on a fine grid (fc.double favours extremes and tiny values). */
const uni = (lo: number, hi: number) => fc.integer({ min: 0, max: 1 << 20 }).map((k) => lo + ((hi - lo) * k) / (1 << 20));
const pixels = (shape: number[]) =>
  fc.array(uni(0, 1), { minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }).map((d) => ref(shape, d));
const eighth = (lo: number, hi: number) => fc.integer({ min: lo * 8, max: hi * 8 }).map((k) => k / 8);

const theta = (N: number) =>
  fc.array(fc.tuple(eighth(-2, 2), eighth(-1, 1), eighth(-2, 6), eighth(-1, 1), eighth(-2, 2), eighth(-2, 6)), { minLength: N, maxLength: N }).map((ms) =>
    ref(
      [N, 6],
      ms.flatMap(([a, b, c, d, e, f]) => [a, b, c + 1 / 32, d, e, f + 1 / 32]),
    ),
  );

const affineCase = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 6 }),
    W: fc.integer({ min: 1, max: 6 }),
    OH: fc.integer({ min: 1, max: 6 }),
    OW: fc.integer({ min: 1, max: 6 }),
    mode: fc.constantFrom<'bilinear' | 'nearest'>('bilinear', 'nearest'),
    fill: fc.constantFrom(0, 0.5, -1),
  })
  .chain((r) =>
    fc.tuple(refTensor([r.N, r.C, r.H, r.W]), theta(r.N)).map(
      ([x, t]): OpCase => ({
        inputs: [x, t],
        attrs: { mode: r.mode, outSize: [r.OH, r.OW], fill: r.fill },
      }),
    ),
  );

/** Parameters: factors in the ranges ColorJitter draws from, a random order with skipped steps, grayscale on/off. */
const jitterParams = (N: number) =>
  fc
    .array(
      fc.record({
        b: uni(0.3, 1.7),
        c: uni(0.3, 1.7),
        s: uni(0, 2),
        h: uni(-0.5, 0.5),
        order: fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }),
        skip: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        gray: fc.boolean(),
      }),
      { minLength: N, maxLength: N },
    )
    .map((ps) =>
      ref(
        [N, 12],
        ps.flatMap((p) => [p.b, p.c, p.s, p.h, ...p.order.map((o, k) => (p.skip[k] ? -1 : o)), p.gray ? 1 : 0, 0, 0, 0]),
      ),
    );

const jitterCase = fc
  .record({ N: fc.integer({ min: 1, max: 3 }), H: fc.integer({ min: 1, max: 7 }), W: fc.integer({ min: 1, max: 19 }) })
  .chain((r) => fc.tuple(pixels([r.N, 3, r.H, r.W]), jitterParams(r.N)).map(([x, p]): OpCase => ({ inputs: [x, p], attrs: {} })));

const normalizeCase = fc
  .record({ N: fc.integer({ min: 1, max: 2 }), C: fc.integer({ min: 1, max: 4 }), H: fc.integer({ min: 1, max: 5 }), W: fc.integer({ min: 1, max: 5 }) })
  .chain((r) =>
    fc
      .tuple(refTensor([r.N, r.C, r.H, r.W]), refTensor([r.C]), refTensor([r.C], { min: 0.2, max: 2 }))
      .map(([x, m, s]): OpCase => ({ inputs: [x, m, s], attrs: {} })),
  );

export const augmentCases: CaseTable = {
  normalizeChannels: { arb: normalizeCase, grad: [0], runs: 15, gradRuns: 10 },
  affineResample: { arb: affineCase, grad: false, runs: 25 },
  colorJitter: { arb: jitterCase, grad: false, runs: 20, tol: { rtol: 1e-4, atol: 2e-5 } },
};
