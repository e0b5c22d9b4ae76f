/** nn.Linear: y = x·Wᵀ + b with W [out, in], PyTorch's default initialisation. */
import { split } from '../base/random';
import { linear as linearOp } from '../tensor/ops/matmul';
import type { Tensor } from '../tensor/tensor';
import { defaultBias, defaultWeight } from './init';
import type { Module } from './module';
import { checkConfig, positiveInt, optionalBoolean } from './config';

/** Configuration of {@link linear}, as torch.nn.Linear's arguments. */
export interface LinearConfig {
  /** Size of each input's last dimension. */
  inFeatures: number;
  /** Size of each output's last dimension. */
  outFeatures: number;
  /** Learn a bias (default true). */
  bias?: boolean;
}
export type LinearParams = { weight: Tensor; bias?: Tensor };

/**
 * A fully connected layer y = x W^T + b, as torch.nn.Linear: parameters `weight` [out, in] and `bias` [out],
 * initialised as PyTorch does.
 *
 * @example
 * ```ts
 * import { init, nn, random, randn } from '@webgrad/core/node';
 * await init();
 * const layer = nn.linear({ inFeatures: 4, outFeatures: 2 });
 * const { params, state } = layer.init(random.key(0)); // params.weight [2, 4], params.bias [2]
 * const { y } = layer.apply(params, state, randn(random.key(1), [8, 4]), { training: false });
 * console.log(y.shape); // [8, 2]
 * ```
 */
export function linear(config: LinearConfig): Module<LinearParams, {}> {
  checkConfig('nn.linear', config, ['inFeatures', 'outFeatures'], ['bias'], '{ inFeatures: 4, outFeatures: 2 }');
  const { inFeatures, outFeatures, bias = true } = config;
  positiveInt('nn.linear', 'inFeatures', inFeatures);
  positiveInt('nn.linear', 'outFeatures', outFeatures);
  optionalBoolean('nn.linear', 'bias', bias);
  return {
    init(key, o = {}) {
      const [kw, kb] = split(key);
      const shape = [outFeatures, inFeatures];
      const params: LinearParams = { weight: defaultWeight(kw, shape, o) };
      if (bias) params.bias = defaultBias(kb, shape, outFeatures, o);
      return { params, state: {} };
    },
    apply: (p, state, x) => ({ y: linearOp(x, p.weight, p.bias), state }),
  };
}
