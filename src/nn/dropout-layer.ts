/** nn.Dropout as a module: draws its mask from `ctx.key` in training mode. */
import { dropout as dropoutFn } from './dropout';
import type { Module } from './module';

export function dropoutLayer({ p = 0.5 }: { p?: number } = {}): Module<{}, {}> {
  return {
    init: () => ({ params: {}, state: {} }),
    apply(_p, state, x, ctx) {
      if (!ctx.training || p === 0) return { y: x, state };
      if (!ctx.key) throw new Error('nn.dropout: training mode needs ctx.key (a random key)');
      return { y: dropoutFn(x, p, ctx.key, { training: true }), state };
    },
  };
}
