/**
 * Cases for the box ops. Boxes for gradient checks take their coordinates from distinct points of a
 * 1/40 grid (shifted off it by 1/128), so no two coordinates tie and no intersection edge sits
 * within a finite-difference step of a min/max kink. Boxes for the matching ops are continuous
 * random values, so IoUs other than 0 and −1 never tie (the greedy pass breaks ties by index and
 * float32 rounding could otherwise order near-ties differently from the float64 reference).
 */
import fc from 'fast-check';
import { refTensor, shape } from '../../helpers/arbitraries';
import type { CaseTable, OpCase } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';
import '../../../src/tensor/ops/boxes';

const ref = (s: number[], data: number[], dtype: RefTensor['dtype'] = 'float32'): RefTensor => ({ shape: s, dtype, data: Float64Array.from(data) });
const format = fc.constantFrom('xyxy', 'xywh', 'cxcywh');

/** Box sets of the given row counts, every coordinate distinct (see above). */
export const distinctBoxes = (counts: number[]) => {
  const total = counts.reduce((a, b) => a + b, 0);
  return fc.shuffledSubarray([...Array(401).keys()], { minLength: 4 * total, maxLength: 4 * total }).map((ks) => {
    const v = ks.map((k) => Math.fround(k / 40 + 1 / 128));
    const boxes: number[][] = [];
    for (let r = 0; r < total; r++) {
      const [a, b, c, d] = v.slice(4 * r, 4 * r + 4);
      boxes.push([Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)]);
    }
    let at = 0;
    return counts.map((n) => {
      const rows = boxes.slice(at, at + n);
      at += n;
      return rows;
    });
  });
};

/** A continuous random corner box in [0, 1]² with sides of at least 0.02. */
const unitBox = fc
  .tuple(fc.integer({ min: 0, max: 1 << 24 }), fc.integer({ min: 0, max: 1 << 24 }), fc.integer({ min: 0, max: 1 << 24 }), fc.integer({ min: 0, max: 1 << 24 }))
  .map((ks) => ks.map((k) => k / (1 << 24)))
  .map(([a, b, c, d]) => {
    const x1 = a * 0.9;
    const y1 = b * 0.9;
    return [x1, y1, x1 + 0.02 + c * (1 - x1 - 0.02), y1 + 0.02 + d * (1 - y1 - 0.02)].map(Math.fround);
  });

const convertCase = fc
  .tuple(shape({ minRank: 0, maxRank: 2, maxDim: 4 }), format, format)
  .chain(([s, i, o]) => refTensor([...s, 4]).map((x): OpCase => ({ inputs: [x], attrs: { inFmt: i, outFmt: o } })));

const areaCase = shape({ minRank: 0, maxRank: 2, maxDim: 4 }).chain((s) => refTensor([...s, 4]).map((x): OpCase => ({ inputs: [x], attrs: {} })));

const clipCase = fc
  .constantFrom<[number, number]>([5, 7], [2.5, 3.5])
  .chain((size) =>
    shape({ minRank: 0, maxRank: 2, maxDim: 4 }).chain((s) =>
      refTensor([...s, 4], { min: -3, max: 10, avoid: (v) => Math.abs(v) < 0.01 || size.some((b) => Math.abs(v - b) < 0.01) }).map(
        (x): OpCase => ({ inputs: [x], attrs: { size } }),
      ),
    ),
  );

const scaleCase = fc
  .record({ sx: fc.constantFrom(728, 0.5, 1 / 561), sy: fc.constantFrom(561, 2, 1 / 728), s: shape({ minRank: 0, maxRank: 2, maxDim: 4 }) })
  .chain(({ sx, sy, s }) => refTensor([...s, 4]).map((x): OpCase => ({ inputs: [x], attrs: { sx, sy } })));

const iouAttrs = fc.record({ giou: fc.boolean(), pairwise: fc.boolean(), eps: fc.constantFrom(0, 1e-7) });

const iouCase = fc
  .record({ N: fc.integer({ min: 1, max: 5 }), M: fc.integer({ min: 1, max: 5 }), a: iouAttrs })
  .chain(({ N, M, a }) =>
    distinctBoxes([N, a.pairwise ? M : N]).map(([b1, b2]): OpCase => ({ inputs: [ref([b1.length, 4], b1.flat()), ref([b2.length, 4], b2.flat())], attrs: a })),
  );

const iouBackwardCase = iouCase.chain((c) => {
  const [b1, b2] = c.inputs as RefTensor[];
  const dyShape = c.attrs.pairwise ? [b1.shape[0], b2.shape[0]] : [b1.shape[0]];
  return refTensor(dyShape, { min: -2, max: 2 }).map((dy): OpCase => ({ inputs: [dy, b1, b2], attrs: c.attrs }));
});

const lossCase = fc
  .record({
    lead: shape({ minRank: 1, maxRank: 2, maxDim: 4 }),
    giou: fc.boolean(),
    eps: fc.constantFrom(0, 1e-7, 1e-3),
    reduction: fc.constantFrom('none', 'mean', 'sum'),
  })
  .chain(({ lead, giou, eps, reduction }) => {
    const n = lead.reduce((a, b) => a * b, 1);
    return distinctBoxes([n, n]).map(
      ([b1, b2]): OpCase => ({ inputs: [ref([...lead, 4], b1.flat()), ref([...lead, 4], b2.flat())], attrs: { giou, eps, reduction } }),
    );
  });

const grid8 = (lo: number, hi: number) => fc.integer({ min: lo * 8, max: hi * 8 }).map((k) => k / 8);

const priorCase = fc
  .record({
    H: fc.integer({ min: 1, max: 6 }),
    W: fc.integer({ min: 1, max: 7 }),
    sizes: fc.array(grid8(0.125, 1), { minLength: 1, maxLength: 3 }),
    ratios: fc.array(grid8(0.25, 4), { minLength: 1, maxLength: 3 }),
  })
  .map((a): OpCase => ({ inputs: [], attrs: a }));

/** Anchors (A, 4) and boxes (A, 4) or (B, A, 4). */
const anchorPairs = (second: (s: number[]) => fc.Arbitrary<RefTensor>) =>
  fc.record({ A: fc.integer({ min: 1, max: 5 }), B: fc.integer({ min: 0, max: 2 }) }).chain(({ A, B }) => {
    const s = B === 0 ? [A, 4] : [B, A, 4];
    return fc.tuple(distinctBoxes([A]), second(s)).map(([[an], x]) => [ref([A, 4], an.flat()), x] as const);
  });

const offsetBoxesCase = anchorPairs((s) => distinctBoxes([s.slice(0, -1).reduce((a, b) => a * b, 1)]).map(([bs]) => ref(s, bs.flat()))).chain(([an, x]) =>
  fc.constantFrom(1e-6, 0.01).map((eps): OpCase => ({ inputs: [an, x], attrs: { eps } })),
);

const offsetInverseCase = anchorPairs((s) => refTensor(s, { min: -2, max: 2 })).map(([an, x]): OpCase => ({ inputs: [an, x], attrs: {} }));

const targetsCase = fc
  .record({ A: fc.integer({ min: 1, max: 14 }), B: fc.integer({ min: 1, max: 3 }), G: fc.integer({ min: 1, max: 4 }), thr: fc.constantFrom(0.5, 0.3, 0.1, 0) })
  .chain(({ A, B, G, thr }) =>
    fc
      .tuple(
        fc.array(unitBox, { minLength: A, maxLength: A }),
        fc.array(fc.tuple(fc.constantFrom(-1, 0, 1, 2, 3), unitBox), { minLength: B * G, maxLength: B * G }),
      )
      .map(
        ([an, ts]): OpCase => ({
          inputs: [
            ref([1, A, 4], an.flat()),
            ref(
              [B, G, 5],
              ts.flatMap(([c, b]) => [c, ...b]),
            ),
          ],
          attrs: { iouThreshold: thr, eps: 1e-6 },
        }),
      ),
  );

const assignCase = fc
  .record({ A: fc.integer({ min: 1, max: 14 }), G: fc.integer({ min: 1, max: 5 }), thr: fc.constantFrom(0.5, 0.3, 0) })
  .chain(({ A, G, thr }) =>
    fc
      .tuple(fc.array(unitBox, { minLength: G, maxLength: G }), fc.array(unitBox, { minLength: A, maxLength: A }))
      .map(([gt, an]): OpCase => ({ inputs: [ref([G, 4], gt.flat()), ref([A, 4], an.flat())], attrs: { iouThreshold: thr } })),
  );

export const boxesCases: CaseTable = {
  boxConvert: { arb: convertCase, runs: 15, gradRuns: 8 },
  boxConvertTranspose: { arb: convertCase, runs: 10, gradRuns: 5 },
  boxArea: { arb: areaCase, runs: 10, gradRuns: 6 },
  clipBoxesToImage: { arb: clipCase, runs: 10, gradRuns: 6 },
  scaleBoxes: { arb: scaleCase, runs: 10, gradRuns: 6 },
  boxIou: { arb: iouCase, runs: 25, gradRuns: 15, tol: { rtol: 2e-4, atol: 1e-5 }, gradTol: 2e-3 },
  boxIouBackward: { arb: iouBackwardCase, grad: false, runs: 20, tol: { rtol: 1e-3, atol: 1e-4 } },
  boxIouLoss: { arb: lossCase, runs: 20, gradRuns: 10, gradTol: 2e-3 },
  multiboxPrior: { arb: priorCase, grad: false, runs: 15, tol: { rtol: 1e-5, atol: 1e-6 } },
  offsetBoxes: { arb: offsetBoxesCase, runs: 15, gradRuns: 8, tol: { rtol: 2e-4, atol: 1e-4 }, gradTol: 2e-3 },
  offsetInverse: { arb: offsetInverseCase, runs: 15, gradRuns: 8, gradTol: 2e-3 },
  multiboxTarget: { arb: targetsCase, grad: false, runs: 30, tol: { rtol: 1e-4, atol: 1e-4 } },
  assignAnchorToBbox: { arb: assignCase, grad: false, runs: 25 },
};
