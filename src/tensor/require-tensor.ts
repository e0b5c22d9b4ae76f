/** The argument check every public function starts with: a Tensor, or a one-line ArgumentError. */
import { ArgumentError } from '../base/shape';
import { Tensor } from './tensor';

/** Throws `ArgumentError(fn, arg, 'is <type>', expected)` unless `x` is a Tensor. */
export function requireTensor(fn: string, arg: string, x: unknown, expected = 'a Tensor'): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${x === null ? 'null' : typeof x}`, expected);
}
