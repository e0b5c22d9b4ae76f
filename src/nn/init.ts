/**
 * Weight initialisers with PyTorch's formulas (torch.nn.init). Fans follow
 * `_calculate_fan_in_and_fan_out`: fan_in = shape[1]·receptive field, fan_out = shape[0]·receptive field.
 */
import type { Key } from '../base/random';
import { uniform as uniformOp, normal as normalOp } from '../tensor/ops/random';
import { full } from '../tensor/ops/creation';
import type { Tensor } from '../tensor/tensor';
import type { Device } from '../kernels/webgpu/device';

/** Where an initialiser puts its tensor. */
export interface InitOptions {
  /** The device of the new tensor (default: the default device). */
  device?: Device;
}

/** Fan-in and fan-out of a weight shape, as torch.nn.init computes them. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in and fan out need at least 2 dims; got shape [${shape.join(', ')}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** The nonlinearities torch.nn.init.calculate_gain knows. */
export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const s = param ?? 0.01;
      return Math.sqrt(2 / (1 + s * s));
    }
    case 'selu':
      return 3 / 4;
  }
}

/** Values drawn uniformly from [low, high) (torch.nn.init.uniform_). */
export const uniform = (key: Key, shape: readonly number[], low = 0, high = 1, o: InitOptions = {}): Tensor =>
  uniformOp(key, shape, { low, high, device: o.device });
/** Values drawn from a normal distribution (torch.nn.init.normal_). */
export const normal = (key: Key, shape: readonly number[], mean = 0, std = 1, o: InitOptions = {}): Tensor =>
  normalOp(key, shape, { mean, std, device: o.device });
/** A tensor of zeros (torch.nn.init.zeros_). */
export const zeros = (shape: readonly number[], o: InitOptions = {}): Tensor => full(shape, 0, { device: o.device });
/** A tensor of ones (torch.nn.init.ones_). */
export const ones = (shape: readonly number[], o: InitOptions = {}): Tensor => full(shape, 1, { device: o.device });
/** A tensor filled with `value` (torch.nn.init.constant_). */
export const constant = (shape: readonly number[], value: number, o: InitOptions = {}): Tensor => full(shape, value, { device: o.device });

/** Options of the Kaiming (He) initialisers: fan mode, nonlinearity and its slope. */
export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  /** 'fanIn' (default) keeps the forward variance, 'fanOut' the backward one. */
  mode?: 'fanIn' | 'fanOut';
  /** The nonlinearity whose gain scales the values (default 'leaky_relu'). */
  nonlinearity?: Nonlinearity;
}

/** kaiming_uniform_: U(−b, b) with b = gain·√(3/fan). PyTorch's default for conv/linear weights uses a = √5. */
export function kaimingUniform(
  key: Key,
  shape: readonly number[],
  { a = 0, mode = 'fanIn', nonlinearity = 'leaky_relu', device }: KaimingOptions = {},
): Tensor {
  const f = fans(shape);
  const gain = calculateGain(nonlinearity, a);
  const bound = gain * Math.sqrt(3 / (mode === 'fanIn' ? f.fanIn : f.fanOut));
  return uniform(key, shape, -bound, bound, { device });
}

/** kaiming_normal_: N(0, (gain/√fan)²). */
export function kaimingNormal(key: Key, shape: readonly number[], { a = 0, mode = 'fanIn', nonlinearity = 'leaky_relu', device }: KaimingOptions = {}): Tensor {
  const f = fans(shape);
  const std = calculateGain(nonlinearity, a) / Math.sqrt(mode === 'fanIn' ? f.fanIn : f.fanOut);
  return normal(key, shape, 0, std, { device });
}

/** xavier_uniform_: U(−b, b), b = gain·√(6/(fan_in + fan_out)). */
export function xavierUniform(key: Key, shape: readonly number[], gain = 1, o: InitOptions = {}): Tensor {
  const f = fans(shape);
  const bound = gain * Math.sqrt(6 / (f.fanIn + f.fanOut));
  return uniform(key, shape, -bound, bound, o);
}

/** xavier_normal_: N(0, gain²·2/(fan_in + fan_out)). */
export function xavierNormal(key: Key, shape: readonly number[], gain = 1, o: InitOptions = {}): Tensor {
  const f = fans(shape);
  return normal(key, shape, 0, gain * Math.sqrt(2 / (f.fanIn + f.fanOut)), o);
}

/** PyTorch's default for Linear/Conv weights: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in). */
export const defaultWeight = (key: Key, shape: readonly number[], o: InitOptions = {}) => kaimingUniform(key, shape, { a: Math.sqrt(5), device: o.device });

/** PyTorch's default for Linear/Conv biases: U(±1/√fan_in) of the weight's fan-in. */
export function defaultBias(key: Key, weightShape: readonly number[], size: number, o: InitOptions = {}): Tensor {
  const { fanIn } = fans(weightShape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform(key, [size], -bound, bound, o);
}
