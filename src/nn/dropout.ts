/** Dropout as PyTorch's F.dropout, with an explicit key. */
import type { Key } from '../base/random';
import { checkKey } from '../base/random';
import { ArgumentError } from '../base/shape';
import type { Tensor } from '../tensor/tensor';
import { checkOperands } from '../tensor/ops/define';
import { mul } from '../tensor/ops/elementwise';
import { bernoulli } from '../tensor/ops/random';

/**
 * Zeroes each element with probability `p` and scales the kept ones by 1/(1 − p), so E[output] = x.
 * Element i is kept when `bernoulli(key, 1 − p, x.shape)[i]` is 1. Returns `x` itself when not
 * training or p = 0; p = 1 gives zeros. The gradient flows through the mask (dy · mask / (1 − p)).
 */
export function dropout(x: Tensor, p: number, k: Key, { training = true }: { training?: boolean } = {}): Tensor {
  checkOperands('dropout', [x], ['input']);
  if (x.dtype !== 'float32') throw new ArgumentError('dropout', 'input', `has dtype ${x.dtype}`, 'float32');
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ArgumentError('dropout', 'p', `is ${p}`, 'a probability in [0, 1]');
  checkKey('dropout', k);
  if (!training || p === 0) return x;
  if (p === 1) return mul(x, 0);
  const mask = bernoulli(k, 1 - p, x.shape, { device: x.device });
  const y = mul(x, mul(mask, 1 / (1 - p)));
  mask.dispose();
  return y;
}
