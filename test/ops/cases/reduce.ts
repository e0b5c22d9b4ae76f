import fc from 'fast-check';
import { shape, refTensor } from '../../helpers/arbitraries';
import type { CaseSpec, CaseTable } from '../../helpers/cases';
import type { DType } from '../../../src/base/dtype';
import type { RefTensor } from '../../../src/tensor/ops/define';

/** A tensor plus a random subset of its axes and keepdim. */
export const withAxes = (min: number, max: number, dtypes: DType[] = ['float32'], o: { allowEmpty?: boolean; distinct?: boolean } = {}) =>
  fc
    .tuple(shape({ maxRank: 4, maxDim: 6, allowEmpty: o.allowEmpty }), fc.constantFrom(...dtypes), fc.boolean())
    .chain(([s, dtype, keepdim]) =>
      fc
        .tuple(refTensor(s, { min, max, dtype, distinct: o.distinct && dtype === 'float32' }), fc.subarray(s.map((_, i) => i)))
        .map(([x, axes]) => ({ inputs: [x], attrs: { axes, keepdim } })),
    );

const reduce = (min: number, max: number, dtypes?: DType[], more: Partial<CaseSpec> = {}): CaseSpec => ({ arb: withAxes(min, max, dtypes), ...more });

export const reduceCases: CaseTable = {
  sum: { arb: withAxes(-3, 3, ['float32', 'int32'], { allowEmpty: true }) },
  prod: reduce(0.5, 1.5),
  amax: { arb: withAxes(-3, 3, ['float32', 'int32'], { distinct: true }) },
  amin: { arb: withAxes(-3, 3, ['float32', 'int32'], { distinct: true }) },
  argmax: {
    arb: withAxes(-3, 3, ['float32', 'int32'])
      .map((c) => ({ ...c, attrs: { ...c.attrs, axes: c.attrs.axes.slice(0, 1) } }))
      .filter((c) => c.attrs.axes.length === 1),
    grad: false,
  },
  argmin: {
    arb: withAxes(-3, 3, ['float32', 'int32'])
      .map((c) => ({ ...c, attrs: { ...c.attrs, axes: c.attrs.axes.slice(0, 1) } }))
      .filter((c) => c.attrs.axes.length === 1),
    grad: false,
  },
};

/** Number of elements each output of a reduction over `axes` combines. */
const extent = (s: readonly number[], axes: readonly number[]) => axes.reduce((n, a) => n * s[a], 1);

/** Rounds float data so exact zeros are common (for all/any). */
const withZeros = withAxes(-2, 2, ['float32', 'int32', 'bool']).map((c) => {
  const [x] = c.inputs as RefTensor[];
  return { ...c, inputs: [{ ...x, data: x.data.map((v) => (x.dtype === 'float32' ? Math.round(v) * 0.5 : v)) }] };
});

const withCorrection = (o: { distinct?: boolean } = {}) =>
  fc
    .tuple(withAxes(-3, 3, ['float32'], o), fc.constantFrom(0, 1))
    .map(([c, correction]) => ({ ...c, attrs: { ...c.attrs, correction } }))
    .filter((c) => extent((c.inputs[0] as RefTensor).shape, c.attrs.axes) > c.attrs.correction + (o.distinct ? 1 : 0));

/** A float tensor of rank ≥ 1 and one of its dims. */
const withDim = (min: number, max: number) =>
  shape({ minRank: 1, maxRank: 4, maxDim: 6 })
    .chain((s) => fc.tuple(refTensor(s, { min, max }), fc.integer({ min: 0, max: s.length - 1 })))
    .map(([x, dim]) => ({ inputs: [x], attrs: { dim } }));

Object.assign(reduceCases, {
  mean: { arb: withAxes(-3, 3) },
  variance: { arb: withCorrection() },
  std: { arb: withCorrection({ distinct: true }) },
  logsumexp: { arb: withAxes(-6, 6) },
  all: { arb: withZeros, grad: false },
  any: { arb: withZeros, grad: false },
  softmax: { arb: withDim(-5, 5) },
  logSoftmax: { arb: withDim(-5, 5) },
} satisfies CaseTable);
