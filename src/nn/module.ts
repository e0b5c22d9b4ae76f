/**
 * Layers as plain values: `init(key) → { params, state }` and `apply(params, state, x, ctx) → { y, state }`.
 * `params` are trained; `state` holds buffers such as BatchNorm's running statistics, returned anew
 * by every apply (never mutated). Flattened, params and state together give PyTorch's state_dict keys.
 */
import type { Key } from '../base/random';
import { split } from '../base/random';
import type { Tensor } from '../tensor/tensor';
import type { Device } from '../kernels/webgpu/device';
import { ArgumentError } from '../base/shape';
import { checkModule } from './config';

/** What a layer's apply receives besides its input: training mode and a random key. */
export interface Ctx {
  /** Training mode (BatchNorm uses batch statistics, Dropout drops). */
  training: boolean;
  /** Randomness for dropout and similar; layers split it as they go. */
  key?: Key;
}

/** A tree of parameter tensors, keyed by PyTorch's parameter names. */
export type Params = { [name: string]: Tensor | Params };
/** A tree of non-trainable tensors (buffers such as BatchNorm's running statistics). */
export type State = { [name: string]: Tensor | State };

/** A layer as a pair of pure functions: `init` makes parameters and state, `apply` runs the layer on them. */
export interface Module<P extends Params = Params, S extends State = State> {
  /** New parameters and state, drawn with `key`, on the default device or `options.device`. */
  init(key: Key, options?: { device?: Device }): { params: P; state: S };
  /** Runs the layer: the output and the new state (BatchNorm updates its running statistics in training). */
  apply(params: P, state: S, x: Tensor, ctx: Ctx): { y: Tensor; state: S };
}

/** A stateless function as a module (e.g. relu). */
export function lambda(fn: (x: Tensor) => Tensor): Module<Params, State> {
  if (typeof fn !== 'function') throw new ArgumentError('nn.lambda', 'fn', `is ${fn === null ? 'null' : typeof fn}`, 'a function (x) => Tensor');
  return { init: () => ({ params: {}, state: {} }), apply: (_p, state, x) => ({ y: fn(x), state }) };
}

/**
 * nn.Sequential: children named '0', '1', … so paths match PyTorch (e.g. `0.weight`).
 *
 * @example
 * ```ts
 * import { init, nn, relu, random, zeros } from '@webgrad/core/node';
 * await init();
 * const net = nn.sequential(
 *   nn.conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3 }),
 *   nn.batchNorm2d({ numFeatures: 8 }),
 *   nn.lambda(relu),
 * );
 * const { params, state } = net.init(random.key(0)); // params['0'].weight, state['1'].running_mean, …
 * const out = net.apply(params, state, zeros([2, 1, 28, 28]), { training: true });
 * console.log(out.y.shape); // [2, 8, 26, 26]; out.state holds the updated BatchNorm statistics
 * ```
 */
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
