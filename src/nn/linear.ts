/** nn.Linear: y = x·Wᵀ + b with W [out, in], PyTorch's default initialisation. */
import { split } from '../tensor/random';
import { linear as linearOp } from '../tensor/ops/matmul';
import type { Tensor } from '../tensor/tensor';
import { defaultBias, defaultWeight } from './init';
import type { Module } from './module';

export interface LinearConfig { inFeatures: number; outFeatures: number; bias?: boolean; }
export type LinearParams = { weight: Tensor; bias?: Tensor };

export function linear({ inFeatures, outFeatures, bias = true }: LinearConfig): Module<LinearParams, {}> {
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
