import fc from 'fast-check';
import { shape, refTensor } from '../../helpers/arbitraries';
import type { CaseSpec, CaseTable } from '../../helpers/cases';
import type { DType } from '../../../src/tensor/dtype';

/** A tensor plus a random subset of its axes and keepdim. */
export const withAxes = (min: number, max: number, dtypes: DType[] = ['float32'], o: { allowEmpty?: boolean; distinct?: boolean } = {}) =>
  fc.tuple(shape({ maxRank: 4, maxDim: 6, allowEmpty: o.allowEmpty }), fc.constantFrom(...dtypes), fc.boolean()).chain(([s, dtype, keepdim]) =>
    fc.tuple(refTensor(s, { min, max, dtype, distinct: o.distinct && dtype === 'float32' }), fc.subarray(s.map((_, i) => i))).map(([x, axes]) => ({ inputs: [x], attrs: { axes, keepdim } })));

const reduce = (min: number, max: number, dtypes?: DType[], more: Partial<CaseSpec> = {}): CaseSpec => ({ arb: withAxes(min, max, dtypes), ...more });

export const reduceCases: CaseTable = {
  sum: { arb: withAxes(-3, 3, ['float32', 'int32'], { allowEmpty: true }) },
  prod: reduce(0.5, 1.5),
  amax: { arb: withAxes(-3, 3, ['float32', 'int32'], { distinct: true }) },
  amin: { arb: withAxes(-3, 3, ['float32', 'int32'], { distinct: true }) },
  argmax: { arb: withAxes(-3, 3, ['float32', 'int32']).map((c) => ({ ...c, attrs: { ...c.attrs, axes: c.attrs.axes.slice(0, 1) } })).filter((c) => c.attrs.axes.length === 1), grad: false },
  argmin: { arb: withAxes(-3, 3, ['float32', 'int32']).map((c) => ({ ...c, attrs: { ...c.attrs, axes: c.attrs.axes.slice(0, 1) } })).filter((c) => c.attrs.axes.length === 1), grad: false },
};
