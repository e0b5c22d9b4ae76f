/** nn.BatchNorm2d (running statistics as explicit state), nn.LayerNorm, nn.GroupNorm. */
import { batchNormAct, layerNorm as layerNormOp, groupNorm as groupNormOp } from '../tensor/ops/norm';
import { add } from '../tensor/ops/elementwise';
import { full } from '../tensor/ops/creation';
import type { Tensor } from '../tensor/tensor';
import type { Module } from './module';
import { ArgumentError } from '../base/shape';
import { describe } from '../base/options';
import { checkConfig, positiveInt, optionalBoolean, checkEps } from './config';

/** Configuration of {@link batchNorm2d}, as torch.nn.BatchNorm2d's arguments. */
export interface BatchNormConfig {
  /** Channels (dim 1 of the input). */
  numFeatures: number;
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** Running-average factor of the statistics (default 0.1); null for a cumulative average. */
  momentum?: number;
  /** Learn a per-channel `weight` and `bias` (default true). */
  affine?: boolean;
  /** Keep running statistics for evaluation (default true); without them evaluation uses batch statistics. */
  trackRunningStats?: boolean;
  /** 'relu' fuses the activation into the normalising kernel (one pass instead of two). */
  activation?: 'relu' | 'none';
}
export type BatchNormParams = { weight?: Tensor; bias?: Tensor };
export type BatchNormState = { running_mean?: Tensor; running_var?: Tensor; num_batches_tracked?: Tensor };

/**
 * Batch normalisation over N, H and W, as torch.nn.BatchNorm2d: batch statistics and running-average updates in
 * training, running statistics in evaluation.
 */
export function batchNorm2d(config: BatchNormConfig): Module<BatchNormParams, BatchNormState> {
  const fn = 'nn.batchNorm2d';
  checkConfig(fn, config, ['numFeatures'], ['eps', 'momentum', 'affine', 'trackRunningStats', 'activation'], '{ numFeatures: 16 }');
  const { numFeatures, eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, activation = 'none' } = config;
  positiveInt(fn, 'numFeatures', numFeatures);
  checkEps(fn, eps);
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))
    throw new ArgumentError(fn, 'momentum', `is ${describe(momentum)}`, 'a number in [0, 1]');
  optionalBoolean(fn, 'affine', affine);
  optionalBoolean(fn, 'trackRunningStats', trackRunningStats);
  if (activation !== 'none' && activation !== 'relu') throw new ArgumentError(fn, 'activation', `is ${describe(activation)}`, "'none' or 'relu'");
  return {
    init(_key, o = {}) {
      const params: BatchNormParams = affine ? { weight: full([numFeatures], 1, o), bias: full([numFeatures], 0, o) } : {};
      const state: BatchNormState = trackRunningStats
        ? { running_mean: full([numFeatures], 0, o), running_var: full([numFeatures], 1, o), num_batches_tracked: full([], 0, { ...o, dtype: 'int32' }) }
        : {};
      return { params, state };
    },
    apply(p, s, x, ctx) {
      // without running statistics PyTorch always normalises with batch statistics
      const training = ctx.training || !trackRunningStats;
      const r = batchNormAct(x, s.running_mean ?? null, s.running_var ?? null, p.weight ?? null, p.bias ?? null, { training, momentum, eps, activation });
      if (!trackRunningStats || !ctx.training) {
        r.runningMean?.dispose();
        r.runningVar?.dispose(); // eval mode: views of s's own statistics, unused
        return { y: r.y, state: s };
      }
      return { y: r.y, state: { running_mean: r.runningMean!, running_var: r.runningVar!, num_batches_tracked: add(s.num_batches_tracked!, 1) } };
    },
  };
}

/** Layer normalisation over the trailing `normalizedShape` dimensions, as torch.nn.LayerNorm. */
export function layerNorm(config: { normalizedShape: number | number[]; eps?: number; elementwiseAffine?: boolean }): Module<BatchNormParams, {}> {
  const fn = 'nn.layerNorm';
  checkConfig(fn, config, ['normalizedShape'], ['eps', 'elementwiseAffine'], '{ normalizedShape: [64] }');
  const { normalizedShape, eps = 1e-5, elementwiseAffine = true } = config;
  const okDim = (d: unknown) => typeof d === 'number' && Number.isInteger(d) && d >= 1;
  if (!(okDim(normalizedShape) || (Array.isArray(normalizedShape) && normalizedShape.length > 0 && normalizedShape.every(okDim)))) {
    throw new ArgumentError(fn, 'normalizedShape', `is ${describe(normalizedShape)}`, 'a positive integer or a non-empty array of them');
  }
  checkEps(fn, eps);
  optionalBoolean(fn, 'elementwiseAffine', elementwiseAffine);
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  return {
    init: (_k, o = {}) => ({ params: elementwiseAffine ? { weight: full(shape, 1, o), bias: full(shape, 0, o) } : {}, state: {} }),
    apply: (p, state, x) => ({ y: layerNormOp(x, shape, p.weight, p.bias, eps), state }),
  };
}

/** Group normalisation over channel groups, as torch.nn.GroupNorm. */
export function groupNorm(config: { numGroups: number; numChannels: number; eps?: number; affine?: boolean }): Module<BatchNormParams, {}> {
  const fn = 'nn.groupNorm';
  checkConfig(fn, config, ['numGroups', 'numChannels'], ['eps', 'affine'], '{ numGroups: 4, numChannels: 16 }');
  const { numGroups, numChannels, eps = 1e-5, affine = true } = config;
  positiveInt(fn, 'numGroups', numGroups);
  positiveInt(fn, 'numChannels', numChannels);
  if (numChannels % numGroups) throw new ArgumentError(fn, 'numGroups', `is ${numGroups}`, `a divisor of numChannels (${numChannels})`);
  checkEps(fn, eps);
  optionalBoolean(fn, 'affine', affine);
  return {
    init: (_k, o = {}) => ({ params: affine ? { weight: full([numChannels], 1, o), bias: full([numChannels], 0, o) } : {}, state: {} }),
    apply: (p, state, x) => ({ y: groupNormOp(x, numGroups, p.weight, p.bias, eps), state }),
  };
}
