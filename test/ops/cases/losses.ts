import fc from 'fast-check';
import { shape, refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';

const reduction = fc.constantFrom('mean', 'sum', 'none');
/** `s` with some dims set to 1 and maybe leading dims dropped: broadcasts to `s`. */
const broadcastable = (s: number[]) =>
  fc
    .tuple(fc.integer({ min: 0, max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))
    .map(([drop, ones]) => s.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));

/** Input of shape [C], [N, C] or [N, C, d]; target shape drops the class dim. */
const classShapes = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }))
  .map(([rank, n, c, d]) => {
    const s = rank === 1 ? [c] : rank === 2 ? [n, c] : [n, c, d];
    return { s, C: c, t: s.filter((_, i) => i !== (rank === 1 ? 0 : 1)) };
  });

/** Index targets in [0, C) with some set to ignoreIndex; at least one kept so 'mean' is finite. */
const indexTarget = (t: number[], C: number, ignoreIndex: number) =>
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: C - 1 }), fc.integer({ min: 0, max: 4 })), {
      minLength: t.reduce((a, b) => a * b, 1),
      maxLength: t.reduce((a, b) => a * b, 1),
    })
    // element 0 always keeps a class other than ignoreIndex (so a 'mean' has a non-zero denominator)
    .map((xs) => xs.map(([c, r], i) => (i === 0 ? (c === ignoreIndex ? (c + 1) % C : c) : r === 0 ? ignoreIndex : c)))
    .map((xs): RefTensor => ({ shape: t, dtype: 'int32', data: Float64Array.from(xs) }));

const nllLike = (probsToo: boolean, min: number, max: number) =>
  fc
    .tuple(
      classShapes,
      reduction,
      fc.boolean(),
      fc.constantFrom(-100, 0, 1),
      probsToo ? fc.constantFrom(0, 0, 0.2) : fc.constant(0),
      probsToo ? fc.boolean() : fc.constant(false),
    )
    .chain(([{ s, C, t }, red, weighted, ignoreIndex0, labelSmoothing, probs]) => {
      const ignoreIndex = C === 1 ? -100 : ignoreIndex0;
      return fc
        .tuple(
          refTensor(s, { min, max }),
          probs ? refTensor(s, { min: 0, max: 1 }) : indexTarget(t, C, ignoreIndex),
          weighted ? refTensor([C], { min: 0.2, max: 2 }) : fc.constant(undefined),
        )
        .map(([x, target, w]) => ({
          inputs: w ? [x, target, w] : [x, target],
          attrs: { reduction: red, weighted, ignoreIndex, labelSmoothing, ...(probsToo ? { probs } : {}) },
        }));
    });

const pair = (name: 'mse' | 'l1' | 'smoothL1') =>
  fc.tuple(shape({ maxRank: 3 }), reduction, fc.constantFrom(1, 0.5, 0)).chain(([s, red, beta]) =>
    fc.tuple(refTensor(s), refTensor(s)).map(([x, t]) => {
      // keep the difference away from the kinks at 0 (l1) and ±beta (smoothL1)
      const data = x.data.map((v, k) => {
        const d = v - t.data[k];
        const bad = (name !== 'mse' && Math.abs(d) < 0.05) || (name === 'smoothL1' && Math.abs(Math.abs(d) - beta) < 0.05);
        return bad ? t.data[k] + 0.3 * (d < 0 ? -1 : 1) + (name === 'smoothL1' ? 0.11 : 0) : v;
      });
      return { inputs: [{ ...x, data: data.map(Math.fround) }, t], attrs: { reduction: red, beta: name === 'smoothL1' ? beta : 0 } };
    }),
  );

export const lossCases: CaseTable = {
  binaryCrossEntropy: {
    arb: fc
      .tuple(shape({ maxRank: 3 }), reduction, fc.boolean())
      .chain(([s, red, weighted]) =>
        fc
          .tuple(
            refTensor(s, { min: 0.05, max: 0.95 }),
            refTensor(s, { min: 0, max: 1 }),
            weighted ? broadcastable(s).chain((ws) => refTensor(ws, { min: 0.2, max: 2 })) : fc.constant(undefined),
          )
          .map(([p, t, w]) => ({ inputs: w ? [p, t, w] : [p, t], attrs: { reduction: red, weighted } })),
      ),
  },
  binaryCrossEntropyWithLogits: {
    arb: fc
      .tuple(shape({ maxRank: 3 }), reduction, fc.boolean(), fc.boolean())
      .chain(([s, red, weighted, posWeighted]) =>
        fc
          .tuple(
            refTensor(s, { min: -6, max: 6 }),
            refTensor(s, { min: 0, max: 1 }),
            weighted ? broadcastable(s).chain((ws) => refTensor(ws, { min: 0.2, max: 2 })) : fc.constant(undefined),
            posWeighted ? refTensor(s.slice(-1), { min: 0.2, max: 3 }) : fc.constant(undefined),
          )
          .map(([x, t, w, pw]) => ({ inputs: [x, t, ...(w ? [w] : []), ...(pw ? [pw] : [])], attrs: { reduction: red, weighted, posWeighted } })),
      ),
  },
  crossEntropy: { arb: nllLike(true, -4, 4) },
  nllLoss: { arb: nllLike(false, -4, 0) },
  mseLoss: { arb: pair('mse') },
  l1Loss: { arb: pair('l1') },
  smoothL1Loss: { arb: pair('smoothL1') },
};
