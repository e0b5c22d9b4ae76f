/**
 * Float64 CPU reference of the random streams (src/base/random.ts describes the counter scheme),
 * written from the definitions: Threefry block i of the key, 24-bit uniforms, Box–Muller with
 * float64 log/cos, randint by exact BigInt multiply-shift, Bernoulli by comparison with p.
 */
import type { RefTensor } from '../../../base/ref-tensor';
import { type Key, randomBits } from '../../../base/random';
import { refMap } from './elementwise';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
/** The uniform in [0, 1) of a 32-bit word: its top 24 bits over 2^24. */
const unit = (w: number) => Math.floor(w / 256) / 16777216;

/** Element i is f of the two words of block i of the key. */
function fill(k: Key, shape: readonly number[], dtype: RefTensor['dtype'], f: (y0: number, y1: number, i: number) => number): RefTensor {
  const n = size(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [y0, y1] = randomBits(k, i);
    data[i] = f(y0, y1, i);
  }
  return { shape: [...shape], dtype, data };
}

export const refUniform = (k: Key, shape: readonly number[], low: number, high: number): RefTensor =>
  fill(k, shape, 'float32', (y0) => low + (high - low) * unit(y0));

export const refNormal = (k: Key, shape: readonly number[], mean: number, std: number): RefTensor =>
  fill(k, shape, 'float32', (y0, y1) => mean + std * Math.sqrt(-2 * Math.log(1 - unit(y0))) * Math.cos(2 * Math.PI * unit(y1)));

export const refRandint = (k: Key, shape: readonly number[], low: number, high: number): RefTensor =>
  fill(k, shape, 'int32', (y0, y1) => {
    const x = (BigInt(y0) << 32n) | BigInt(y1);
    return low + Number((x * BigInt(high - low)) >> 64n);
  });

/** p: a number, or a tensor broadcast to `shape`. */
export function refBernoulli(k: Key, shape: readonly number[], p: number | RefTensor): RefTensor {
  const probs =
    typeof p === 'number' ? null : refMap([p, { shape: [...shape], dtype: 'float32', data: new Float64Array(size(shape)) }], (a) => a, 'float32').data;
  return fill(k, shape, 'float32', (y0, _, i) => (unit(y0) < (probs ? probs[i] : (p as number)) ? 1 : 0));
}
