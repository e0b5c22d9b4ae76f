/** nn.Linear: y = x·Wᵀ + b with W [out, in], PyTorch's default initialisation. */
import { split } from '../tensor/random';
import { linear as linearOp } from '../tensor/ops/matmul';
import type { Tensor } from '../tensor/tensor';
import { defaultBias, defaultWeight } from './init';
import type { Module } from './module';
import { checkConfig, positiveInt, optionalBoolean } from './config';

export interface LinearConfig {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
}
export type LinearParams = { weight: Tensor; bias?: Tensor };

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
