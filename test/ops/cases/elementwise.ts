import fc from 'fast-check';
import { shape, broadcastPair, refTensor } from '../../helpers/arbitraries';
import type { CaseSpec, CaseTable } from '../../helpers/cases';
import type { DType } from '../../../src/base/dtype';

/** Unary op on one float tensor drawn from [min, max], avoiding kinks given by `avoid`. */
const unary = (min: number, max: number, extra: number[] = [], avoid?: (v: number) => boolean, more: Partial<CaseSpec> = {}): CaseSpec => ({
  arb: shape({ allowEmpty: true })
    .chain((s) => refTensor(s, { min, max, avoid }))
    .map((x) => ({ inputs: [x, ...extra], attrs: {} })),
  ...more,
});
const nearZero = (v: number) => Math.abs(v) < 0.05;

/** Binary op on broadcast pairs; sometimes one side is a plain number. */
const binary = (min: number, max: number, avoidB?: (v: number) => boolean, dtypes: DType[] = ['float32'], more: Partial<CaseSpec> = {}): CaseSpec => ({
  arb: fc.tuple(broadcastPair({ allowEmpty: true }), fc.constantFrom(...dtypes), fc.integer({ min: 0, max: 4 })).chain(([[sa, sb], dtype, scalarSide]) =>
    fc
      .tuple(
        refTensor(sa, { min, max, dtype }),
        refTensor(sb, { min, max, dtype, avoid: dtype === 'float32' ? avoidB : undefined }),
        fc
          .double({ min, max, noNaN: true })
          .map(Math.fround)
          .filter((v) => !avoidB?.(v))
          .map((v) => (dtype === 'float32' ? v : Math.round(v))),
      )
      .map(([a, b, s]) => ({ inputs: scalarSide === 1 ? [a, dtype === 'float32' || !avoidB?.(s) ? s : 1] : [a, b], attrs: {} })),
  ),
  ...more,
});

const intsToo: DType[] = ['float32', 'int32'];

/** maximum/minimum away from ties (a kink): a on the half-integer grid, b off it. */
function noTies(): CaseSpec {
  const offGrid = (v: number) => Math.abs(v * 2 - Math.round(v * 2)) < 0.1;
  const base = binary(-3, 3, offGrid, intsToo);
  return {
    ...base,
    arb: base.arb.map((c) => {
      const [a, b] = c.inputs;
      if (typeof a === 'number' || a.dtype !== 'float32') return c;
      return { ...c, inputs: [{ ...a, data: a.data.map((v) => Math.round(v * 2) / 2) }, b] };
    }),
  };
}

export const elementwiseCases: CaseTable = {
  neg: unary(-3, 3),
  abs: unary(-3, 3, [], nearZero),
  sign: unary(-3, 3, [], nearZero),
  exp: unary(-5, 5),
  log: unary(0.1, 5),
  log1p: unary(-0.9, 5),
  expm1: unary(-3, 3),
  sqrt: unary(0.1, 5),
  rsqrt: unary(0.1, 5),
  square: unary(-3, 3),
  reciprocal: unary(0.2, 3),
  sin: unary(-4, 4),
  cos: unary(-4, 4),
  tanh: unary(-4, 4),
  sigmoid: unary(-8, 8),
  relu: unary(-3, 3, [], nearZero),
  leakyRelu: unary(-3, 3, [0.1], nearZero),
  elu: unary(-3, 3, [0.7], nearZero),
  gelu: unary(-4, 4, [], undefined, { tol: { rtol: 1e-4, atol: 2e-6 } }),
  geluTanh: unary(-4, 4),
  erf: unary(-3, 3, [], undefined, { tol: { rtol: 1e-4, atol: 2e-6 } }),
  softplus: unary(-5, 5, [1.5, 4], (v) => Math.abs(v * 1.5 - 4) < 0.05),
  clamp: unary(-3, 3, [-1, 1.5], (v) => Math.abs(v + 1) < 0.05 || Math.abs(v - 1.5) < 0.05),
  add: binary(-3, 3, undefined, intsToo),
  sub: binary(-3, 3, undefined, intsToo),
  mul: binary(-3, 3, undefined, intsToo),
  div: binary(-3, 3, (v) => Math.abs(v) < 0.3),
  pow: {
    arb: broadcastPair()
      .chain(([sa, sb]) => fc.tuple(refTensor(sa, { min: 0.2, max: 3 }), refTensor(sb, { min: -2, max: 2 }), fc.boolean()))
      .map(([a, b, scalar]) => ({ inputs: [a, scalar ? 2 : b], attrs: {} })),
  },
  maximum: noTies(),
  minimum: noTies(),
  eq: binary(-2, 2, undefined, ['int32', 'float32'], { grad: false }),
  ne: binary(-2, 2, undefined, ['int32'], { grad: false }),
  lt: binary(-2, 2, undefined, ['int32', 'float32'], { grad: false }),
  le: binary(-2, 2, undefined, ['int32'], { grad: false }),
  gt: binary(-2, 2, undefined, ['int32', 'float32'], { grad: false }),
  ge: binary(-2, 2, undefined, ['float32'], { grad: false }),
  logicalAnd: binary(0, 1, undefined, ['bool'], { grad: false }),
  logicalOr: binary(0, 1, undefined, ['bool'], { grad: false }),
  logicalXor: binary(0, 1, undefined, ['bool'], { grad: false }),
  logicalNot: {
    arb: shape()
      .chain((s) => refTensor(s, { dtype: 'bool' }))
      .map((x) => ({ inputs: [x], attrs: {} })),
    grad: false,
  },
  isnan: {
    arb: shape()
      .chain((s) => refTensor(s))
      .map((x) => ({ inputs: [x], attrs: {} })),
    grad: false,
  },
  where: {
    arb: broadcastPair()
      .chain(([sa, sb]) => fc.tuple(refTensor(sa, { dtype: 'bool' }), refTensor(sb), refTensor(sa), fc.boolean()))
      .map(([c, a, b, scalar]) => ({ inputs: [c, a, scalar ? 0.5 : b], attrs: {} })),
  },
  cast: {
    arb: fc
      .tuple(shape(), fc.constantFrom<DType>('float32', 'int32', 'uint32', 'bool'), fc.constantFrom<DType>('float32', 'int32', 'uint32', 'bool'))
      .chain(([s, from, to]) => refTensor(s, { dtype: from, min: from === 'uint32' ? 0 : -5, max: 5 }).map((x) => ({ inputs: [x], attrs: { dtype: to } }))),
  },
};
