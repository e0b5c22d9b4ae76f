/** nn.Dropout as a module: draws its mask from `ctx.key` in training mode. */
import { dropout as dropoutFn } from './dropout';
import type { Module } from './module';
import { ArgumentError } from '../base/shape';
import { checkConfig } from './config';

/**
 * A dropout layer, as torch.nn.Dropout: zeroes elements with probability `p` in training mode (drawing from
 * `ctx.key`) and scales the rest by 1 / (1 - p); the identity in evaluation. Exported as `nn.dropout`.
 */
export function dropoutLayer(config: { p?: number } = {}): Module<{}, {}> {
  checkConfig('nn.dropout', config, [], ['p'], '{ p: 0.5 }');
  const { p = 0.5 } = config;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ArgumentError('nn.dropout', 'p', `is ${p}`, 'a probability in [0, 1]');
  return {
    init: () => ({ params: {}, state: {} }),
    apply(_p, state, x, ctx) {
      if (!ctx.training || p === 0) return { y: x, state };
      if (!ctx.key) throw new Error('nn.dropout: training mode needs ctx.key (a random key)');
      return { y: dropoutFn(x, p, ctx.key, { training: true }), state };
    },
  };
}
