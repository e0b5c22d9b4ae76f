/** fast-check building blocks for op tests: shapes, broadcast pairs, reference tensors. */
import fc from 'fast-check';
import type { DType } from '../../src/base/dtype';
import type { RefTensor } from '../../src/tensor/ops/define';

export const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Shapes of rank minRank..maxRank with dims in 1..maxDim (0 allowed with `allowEmpty`). */
export const shape = ({ minRank = 0, maxRank = 4, maxDim = 5, allowEmpty = false } = {}) =>
  fc.array(fc.integer({ min: allowEmpty ? 0 : 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast together: the second drops leading dims and sets some dims to 1. */
export const broadcastPair = (o: Parameters<typeof shape>[0] = {}) =>
  shape(o)
    .chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc
          .integer({ min: 0, max: s.length })
          .chain((drop) =>
            fc.array(fc.boolean(), { minLength: s.length - drop, maxLength: s.length - drop }).map((ones) => s.slice(drop).map((d, i) => (ones[i] ? 1 : d))),
          ),
      ),
    )
    .chain(([a, b]) => fc.boolean().map((swap) => (swap ? [b, a] : [a, b]) as [number[], number[]]));

/** Values for a tensor of `shape`, drawn from [min, max] (floats) or integers for int dtypes. */
export function refTensor(
  s: readonly number[],
  {
    min = -3,
    max = 3,
    dtype = 'float32' as DType,
    avoid,
    distinct = false,
  }: { min?: number; max?: number; dtype?: DType; avoid?: (v: number) => boolean; distinct?: boolean } = {},
): fc.Arbitrary<RefTensor> {
  const n = size(s);
  const value =
    dtype === 'float32'
      ? fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map(Math.fround)
      : dtype === 'bool'
        ? fc.integer({ min: 0, max: 1 })
        : fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
  const v = avoid ? value.filter((x) => !avoid(x)) : value;
  return fc.array(v, { minLength: n, maxLength: n }).map((xs) => ({ shape: [...s], dtype, data: Float64Array.from(distinct ? ranks(xs, min, max) : xs) }));
}

/** Replaces values by evenly spaced ones in the same order: no ties, so max/min/sort are differentiable. */
function ranks(xs: number[], min: number, max: number): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const step = (max - min) / Math.max(xs.length, 1);
  const out = new Array<number>(xs.length);
  order.forEach(([, i], r) => {
    out[i] = Math.fround(min + (r + 0.5) * step);
  });
  return out;
}

export const dtypeOf = (...choices: DType[]) => fc.constantFrom(...choices);
