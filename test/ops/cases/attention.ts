import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';
import { refAttention } from '../../../src/tensor/ops/ref/attention';

/**
 * Attention cases: q [...batch, Lq, D], k [...batch, Lk, D], v [...batch, Lk, Dv] with 0–2 batch axes, head sizes
 * on both sides of the kernels' padding to 16, and optionally a bias (each axis of [...batch, Lq, Lk] kept or
 * broadcast, leading axes sometimes dropped) and the decomposed relative position (Lk = kh·kw). A second, rarer
 * family has Lq and Lk past one 64-row tile (values from a seed, so fast-check stays quick).
 */
interface Geometry {
  lead: number[];
  Lq: number;
  Lk: number;
  D: number;
  Dv: number;
  /** kept (true) or broadcast (false) per axis of [...lead, Lq, Lk], and how many leading axes the bias drops */
  bias: { keep: boolean[]; drop: number } | null;
  rel: { kh: number; kw: number } | null;
}

/** Deterministic values in [−amp, amp] (xorshift), for the large cases. */
function seeded(shape: number[], seed: number, amp = 1.5): RefTensor {
  let s = seed >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.fround(((s / 4294967296) * 2 - 1) * amp);
  });
  return { shape, dtype: 'float32', data };
}

const biasShape = (g: Geometry) => {
  if (!g.bias) return [];
  const full = [...g.lead, g.Lq, g.Lk];
  return full.map((n, i) => (g.bias!.keep[i] ? n : 1)).slice(g.bias.drop);
};

const biasArb = (rank: number) =>
  fc.option(
    fc.array(fc.boolean(), { minLength: rank, maxLength: rank }).chain((keep) => {
      // only axes the bias broadcasts along may be dropped from its front
      let maxDrop = 0;
      while (maxDrop < rank && !keep[maxDrop]) maxDrop++;
      return fc.integer({ min: 0, max: maxDrop }).map((drop) => ({ keep, drop }));
    }),
    { nil: null },
  );

const small: fc.Arbitrary<Geometry> = fc
  .record({
    nLead: fc.integer({ min: 0, max: 2 }),
    Lq: fc.integer({ min: 1, max: 5 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    D: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 15, max: 18 })),
    Dv: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 16, max: 17 })),
    withRel: fc.boolean(),
    leadDims: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
  })
  .chain((r) => {
    const lead = r.leadDims.slice(0, r.nLead);
    const rank = lead.length + 2;
    return biasArb(rank).map((bias): Geometry => ({ lead, Lq: r.Lq, Lk: r.kh * r.kw, D: r.D, Dv: r.Dv, bias, rel: r.withRel ? { kh: r.kh, kw: r.kw } : null }));
  });

const large: fc.Arbitrary<Geometry> = fc
  .record({
    nLead: fc.integer({ min: 0, max: 1 }),
    Lq: fc.integer({ min: 60, max: 70 }),
    kh: fc.integer({ min: 7, max: 12 }),
    kw: fc.integer({ min: 9, max: 12 }),
    D: fc.integer({ min: 5, max: 20 }),
    withRel: fc.boolean(),
  })
  .chain((r) => {
    const lead = r.nLead ? [2] : [];
    return biasArb(lead.length + 2).map(
      (bias): Geometry => ({ lead, Lq: r.Lq, Lk: r.kh * r.kw, D: r.D, Dv: 3, bias, rel: r.withRel ? { kh: r.kh, kw: r.kw } : null }),
    );
  });

interface Drawn {
  g: Geometry;
  q: RefTensor;
  k: RefTensor;
  v: RefTensor;
  extra: RefTensor[];
  dO: RefTensor;
  delta: RefTensor;
}

/** Inputs of the shapes `g` names: small cases drawn by fast-check, large ones from a seed. */
function inputs(g: Geometry, isLarge: boolean): fc.Arbitrary<Drawn> {
  const { lead, Lq, Lk, D, Dv } = g;
  const shapes = [
    [...lead, Lq, D],
    [...lead, Lk, D],
    [...lead, Lk, Dv],
    ...(g.bias ? [biasShape(g)] : []),
    ...(g.rel
      ? [
          [...lead, Lq, g.rel.kh],
          [...lead, Lq, g.rel.kw],
        ]
      : []),
    [...lead, Lq, Dv],
    [...lead, Lq],
  ];
  const tensors: fc.Arbitrary<RefTensor[]> = isLarge
    ? fc.integer({ min: 1, max: 1 << 30 }).map((seed) => shapes.map((s, i) => seeded(s, seed * 31 + i)))
    : fc.tuple(...shapes.map((s) => refTensor(s, { min: -1.5, max: 1.5 })));
  return tensors.map((ts) => {
    const [q, k, v, ...rest] = ts;
    const [dO, delta] = rest.slice(-2);
    return { g, q, k, v, extra: rest.slice(0, -2), dO, delta };
  });
}

const drawn = fc.oneof({ arbitrary: small.chain((g) => inputs(g, false)), weight: 5 }, { arbitrary: large.chain((g) => inputs(g, true)), weight: 1 });

const attrsOf = (g: Geometry) => ({ scale: 1 / Math.sqrt(g.D), kh: g.rel?.kh ?? 0, kw: g.rel?.kw ?? 0 });

const forwardCase = drawn.map((d) => ({ inputs: [d.q, d.k, d.v, ...d.extra], attrs: attrsOf(d.g) }));

/** Backward ops' inputs: q, k, v, the forward's logsumexp, δ and dO drawn freely, then the optional inputs. */
const backwardCase = (needBias: boolean) =>
  (needBias ? drawn.filter((d) => d.g.bias !== null) : drawn).map((d) => {
    const a = attrsOf(d.g);
    const extras = { bias: d.g.bias ? d.extra[0] : undefined, relH: d.g.rel ? d.extra.at(-2) : undefined, relW: d.g.rel ? d.extra.at(-1) : undefined };
    const [, lse] = refAttention(d.q, d.k, d.v, extras, a);
    return { inputs: [d.q, d.k, d.v, lse, d.delta, d.dO, ...d.extra], attrs: a };
  });

const tol = { rtol: 1e-3, atol: 1e-4 };

export const attentionCases: CaseTable = {
  scaledDotProductAttention: { arb: forwardCase, tol, runs: 40, gradRuns: 25 },
  // the unfused path (backend 'unfused', and 'auto' below half the binding limit): same cases, fewer runs
  scaledDotProductAttentionUnfused: { arb: forwardCase, tol, runs: 20, gradRuns: 12 },
  scaledDotProductAttentionGradQ: { arb: backwardCase(false), tol, grad: false, runs: 30 },
  scaledDotProductAttentionGradKV: { arb: backwardCase(false), tol, grad: false, runs: 30 },
  scaledDotProductAttentionGradBias: { arb: backwardCase(true), tol, grad: false, runs: 30 },
};
