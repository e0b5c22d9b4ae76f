/**
 * Layers as plain values: `init(key) → { params, state }` and `apply(params, state, x, ctx) → { y, state }`.
 * `params` are trained; `state` holds buffers such as BatchNorm's running statistics, returned anew
 * by every apply (never mutated). Flattened, params and state together give PyTorch's state_dict keys.
 */
import type { Key } from '../tensor/random';
import { split } from '../tensor/random';
import type { Tensor } from '../tensor/tensor';
import type { Device } from '../kernels/webgpu/device';
import { ArgumentError } from '../base/shape';
import { checkModule } from './config';

export interface Ctx {
  /** Training mode (BatchNorm uses batch statistics, Dropout drops). */
  training: boolean;
  /** Randomness for dropout and similar; layers split it as they go. */
  key?: Key;
}

export type Params = { [name: string]: Tensor | Params };
export type State = { [name: string]: Tensor | State };

export interface Module<P extends Params = Params, S extends State = State> {
  init(key: Key, options?: { device?: Device }): { params: P; state: S };
  apply(params: P, state: S, x: Tensor, ctx: Ctx): { y: Tensor; state: S };
}

/** A stateless function as a module (e.g. relu). */
export function lambda(fn: (x: Tensor) => Tensor): Module<Params, State> {
  if (typeof fn !== 'function') throw new ArgumentError('nn.lambda', 'fn', `is ${fn === null ? 'null' : typeof fn}`, 'a function (x) => Tensor');
  return { init: () => ({ params: {}, state: {} }), apply: (_p, state, x) => ({ y: fn(x), state }) };
}

/** nn.Sequential: children named '0', '1', … so paths match PyTorch (e.g. `0.weight`). */
export function sequential(...layers: Module<any, any>[]): Module<Params, State> {
  layers.forEach((l, i) => checkModule('nn.sequential', `layers[${i}]`, l));
  return {
    init(key, options) {
      const keys = split(key, Math.max(layers.length, 1));
      const params: Params = {},
        state: State = {};
      layers.forEach((l, i) => {
        const r = l.init(keys[i], options);
        if (Object.keys(r.params).length) params[i] = r.params;
        if (Object.keys(r.state).length) state[i] = r.state;
      });
      return { params, state };
    },
    apply(params, state, x, ctx) {
      const keys = ctx.key ? split(ctx.key, Math.max(layers.length, 1)) : [];
      const newState: State = {};
      let y = x;
      layers.forEach((l, i) => {
        const r = l.apply((params[i] ?? {}) as Params, (state[i] ?? {}) as State, y, { ...ctx, key: keys[i] });
        y = r.y;
        if (Object.keys(r.state).length) newState[i] = r.state;
      });
      return { y, state: newState };
    },
  };
}
