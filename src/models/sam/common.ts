/**
 * SAM's two shared layers (segment_anything/modeling/common.py): MLPBlock (Linear → activation → Linear, with
 * `lin1`/`lin2` parameter names) and LayerNorm2d (LayerNorm over the channels of an NCHW map, eps 1e-6), as
 * `{ init, apply }` modules and as plain functions on their parameter trees.
 */
import { split, type Key } from '../../base/random';
import type { Device } from '../../kernels/webgpu/device';
import { ArgumentError } from '../../base/shape';
import { checkConfig, positiveInt } from '../../nn/config';
import { disposeUnlessTraced } from '../../nn/dispose';
import { defaultBias, defaultWeight } from '../../nn/init';
import type { Module } from '../../nn/module';
import { full } from '../../tensor/ops/creation';
import { gelu, relu } from '../../tensor/ops/elementwise';
import { layerNorm2d as layerNorm2dOp } from '../../tensor/ops/layer-norm-2d';
import { linear } from '../../tensor/ops/matmul';
import type { Tensor } from '../../tensor/tensor';

/** A Linear layer's parameters (weight [out, in], bias [out]). */
export type LinearWeights = { weight: Tensor; bias: Tensor };
/** MLPBlock's parameters, by the official names. */
export type MlpBlockParams = { lin1: LinearWeights; lin2: LinearWeights };
/** LayerNorm2d's parameters: weight (ones) and bias (zeros), one per channel. */
export type LayerNorm2dParams = { weight: Tensor; bias: Tensor };
/** The activations SAM's MLPBlocks use: GELU (exact, erf) in the image encoder, ReLU in the two-way transformer. */
export type MlpActivation = 'gelu' | 'relu';

/** MLPBlock's forward: `lin2(act(lin1(x)))` over the last dim of `x`. */
export function applyMlpBlock(p: MlpBlockParams, x: Tensor, act: MlpActivation = 'gelu'): Tensor {
  const hidden = linear(x, p.lin1.weight, p.lin1.bias);
  const activated = act === 'relu' ? relu(hidden) : gelu(hidden);
  // in inference the wide hidden activations (vit_b: 4096 × 3072 floats, 50 MB) go as soon as they are read
  disposeUnlessTraced(hidden);
  const y = linear(activated, p.lin2.weight, p.lin2.bias);
  disposeUnlessTraced(activated);
  return y;
}

/** LayerNorm2d's forward on `[N, C, H, W]` (eps 1e-6 as SAM's). */
export const applyLayerNorm2d = (p: LayerNorm2dParams, x: Tensor, eps = 1e-6): Tensor => layerNorm2dOp(x, p.weight, p.bias, eps);

/** Configuration of {@link mlpBlock}: MLPBlock's arguments. */
export interface MlpBlockConfig {
  /** Input and output width. */
  embeddingDim: number;
  /** Hidden width. */
  mlpDim: number;
  /** Activation between the layers; default 'gelu' (nn.GELU, exact). */
  act?: MlpActivation;
}

/**
 * SAM's MLPBlock as a module: `lin1` (embeddingDim → mlpDim), the activation, `lin2` (mlpDim → embeddingDim), both
 * initialised as nn.Linear.
 *
 * @example
 * ```ts
 * import { init, random, randn } from '@webgrad/core/node';
 * import { mlpBlock } from '@webgrad/core/models';
 * await init();
 * const mlp = mlpBlock({ embeddingDim: 8, mlpDim: 32 });
 * const { params, state } = mlp.init(random.key(0)); // params.lin1.weight [32, 8], params.lin2.weight [8, 32]
 * console.log(mlp.apply(params, state, randn(random.key(1), [2, 8]), { training: false }).y.shape); // [2, 8]
 * ```
 */
export function mlpBlock(config: MlpBlockConfig): Module<MlpBlockParams, {}> {
  const fn = 'mlpBlock';
  checkConfig(fn, config, ['embeddingDim', 'mlpDim'], ['act'], '{ embeddingDim: 8, mlpDim: 32 }');
  const { embeddingDim, mlpDim, act = 'gelu' } = config;
  positiveInt(fn, 'embeddingDim', embeddingDim);
  positiveInt(fn, 'mlpDim', mlpDim);
  if (act !== 'gelu' && act !== 'relu') throw new ArgumentError(fn, 'act', `is ${JSON.stringify(act)}`, "'gelu' or 'relu'");
  const layer = (key: Key, inF: number, outF: number, o: { device?: Device }): LinearWeights => {
    const [kw, kb] = split(key);
    return { weight: defaultWeight(kw, [outF, inF], o), bias: defaultBias(kb, [outF, inF], outF, o) };
  };
  return {
    init(key, o = {}) {
      const [k1, k2] = split(key);
      return { params: { lin1: layer(k1, embeddingDim, mlpDim, o), lin2: layer(k2, mlpDim, embeddingDim, o) }, state: {} };
    },
    apply: (p, state, x) => ({ y: applyMlpBlock(p, x, act), state }),
  };
}

/**
 * SAM's LayerNorm2d as a module: per-channel `weight` (ones) and `bias` (zeros) over `numChannels`, eps 1e-6 unless
 * given; normalises each pixel of an `[N, C, H, W]` input over its channels.
 */
export function layerNorm2dLayer(config: { numChannels: number; eps?: number }): Module<LayerNorm2dParams, {}> {
  const fn = 'layerNorm2dLayer';
  checkConfig(fn, config, ['numChannels'], ['eps'], '{ numChannels: 256 }');
  const { numChannels, eps = 1e-6 } = config;
  positiveInt(fn, 'numChannels', numChannels);
  return {
    init: (_key, o = {}) => ({ params: { weight: full([numChannels], 1, o), bias: full([numChannels], 0, o) }, state: {} }),
    apply: (p, state, x) => ({ y: applyLayerNorm2d(p, x, eps), state }),
  };
}
