/**
 * conv2dFused: shapes that reach every path of the row kernel (vec4 input rows when W % 4 = 0 and the
 * left padding fits, vec4-packed weights when Og % 4 = 0, scalar otherwise; dilation along W 1–3; one or two
 * inputs; groups), the unfused fallback (stride 2 along W), and each epilogue (bias; none, ReLU, sigmoid;
 * residual before or after).
 */
import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';
import type { FusedConvAttrs } from '../../../src/tensor/ops/conv-fused';
import { conv2dFusedOp } from '../../../src/tensor/ops/conv-fused';

const t = (s: number[]) => refTensor(s, { min: -1, max: 1 });
const ext = (i: number, p0: number, p1: number, k: number, s: number, d: number) => Math.floor((i + p0 + p1 - d * (k - 1) - 1) / s) + 1;

const geometry = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    G: fc.constantFrom(1, 1, 2),
    C1: fc.integer({ min: 1, max: 6 }),
    C2: fc.integer({ min: 0, max: 5 }),
    Og: fc.constantFrom(1, 3, 4, 8),
    H: fc.integer({ min: 1, max: 6 }),
    W: fc.constantFrom(3, 4, 8, 9, 12),
    k: fc.constantFrom(1, 3),
    d: fc.integer({ min: 1, max: 3 }),
    sW: fc.constantFrom(1, 1, 1, 2),
    act: fc.constantFrom('none', 'relu', 'sigmoid'),
    res: fc.constantFrom('none', 'before', 'after'),
  })
  .map((g) => {
    const p = g.k === 1 ? 0 : g.d;
    const a: FusedConvAttrs = {
      stride: [1, g.sW],
      padding: [p, p, p, p],
      dilation: [g.d, g.d],
      groups: g.G,
      two: g.C2 > 0,
      act: g.act as FusedConvAttrs['act'],
      res: g.res as FusedConvAttrs['res'],
    };
    // channels: C1 (+ C2) must split into G groups
    const C = g.C1 + g.C2;
    return { ...g, a, C: C - (C % g.G), OH: ext(g.H, p, p, g.k, 1, g.d), OW: ext(g.W, p, p, g.k, g.sW, g.d) };
  })
  .filter((g) => g.C >= g.G && g.C1 <= g.C && g.OH >= 1 && g.OW >= 1 && g.N * g.G * g.Og * g.OH * g.OW * g.C * g.k * g.k <= 60000);

const arb = geometry.chain((g) => {
  const C2 = g.C - g.C1;
  const a = { ...g.a, two: C2 > 0 };
  const O = g.G * g.Og;
  return fc
    .tuple(
      t([g.N, g.C1, g.H, g.W]),
      t([O, g.C / g.G, g.k, g.k]),
      t([O]),
      C2 > 0 ? t([g.N, C2, g.H, g.W]) : fc.constant(undefined),
      a.res !== 'none' ? t([g.N, O, g.OH, g.OW]) : fc.constant(undefined),
    )
    .map(([x, w, b, x2, r]) => ({ inputs: [x, w, b, ...(x2 ? [x2] : []), ...(r ? [r] : [])], attrs: a }));
});

/** Cases small enough for the gradient check, with pre-activations away from ReLU's kink. */
const away = (c: { inputs: any[]; attrs: FusedConvAttrs }) => {
  if (c.attrs.act !== 'relu') return true;
  const pre = conv2dFusedOp.reference(c.inputs, { ...c.attrs, act: 'none', res: c.attrs.res === 'before' ? 'before' : 'none' }) as { data: Float64Array };
  return pre.data.every((v) => Math.abs(v) > 0.05);
};

export const convFusedCases: CaseTable = {
  conv2dFused: {
    arb: arb.filter(away),
    tol: { rtol: 1e-3, atol: 1e-4 },
    // each case compiles its own pipelines (lavapipe: seconds each); the 16-pixel tile is covered by test/models/u2net-fused.test.ts
    runs: 4,
    gradRuns: 4,
  },
};
