/** nn.Conv2d and nn.ConvTranspose2d with PyTorch's parameter shapes and default initialisation. */
import { split, type Key } from '../base/random';
import type { Device } from '../kernels/webgpu/device';
import { conv2d as conv2dOp, convTranspose2d as convTranspose2dOp } from '../tensor/ops/conv';
import type { Tensor } from '../tensor/tensor';
import { defaultBias, defaultWeight } from './init';
import type { Module } from './module';
import { ArgumentError } from '../base/shape';
import { checkConfig, positiveInt, optionalBoolean, optionalPair, checkPadding } from './config';

const CONV_KEYS = ['stride', 'padding', 'dilation', 'groups', 'bias'];

/** Shared checks of both conv layers; returns groups. */
function checkConv(fn: string, c: Conv2dConfig | ConvTranspose2dConfig, transposed: boolean): number {
  checkConfig(
    fn,
    c,
    ['inChannels', 'outChannels', 'kernelSize'],
    transposed ? [...CONV_KEYS, 'outputPadding'] : CONV_KEYS,
    '{ inChannels: 3, outChannels: 8, kernelSize: 3 }',
  );
  positiveInt(fn, 'inChannels', c.inChannels);
  positiveInt(fn, 'outChannels', c.outChannels);
  optionalPair(fn, 'kernelSize', c.kernelSize, 1);
  optionalPair(fn, 'stride', c.stride, 1);
  optionalPair(fn, 'dilation', c.dilation, 1);
  checkPadding(fn, c.padding, !transposed);
  if (transposed) optionalPair(fn, 'outputPadding', (c as ConvTranspose2dConfig).outputPadding, 0);
  optionalBoolean(fn, 'bias', c.bias);
  const groups = c.groups === undefined ? 1 : positiveInt(fn, 'groups', c.groups);
  if (c.inChannels % groups || c.outChannels % groups) {
    throw new ArgumentError(fn, 'groups', `is ${groups}`, `a divisor of inChannels (${c.inChannels}) and outChannels (${c.outChannels})`);
  }
  return groups;
}

type Pair = number | [number, number];
/** Configuration of {@link conv2d}, as torch.nn.Conv2d's arguments. */
export interface Conv2dConfig {
  /** Channels of the input. */
  inChannels: number;
  /** Channels of the output. */
  outChannels: number;
  /** Kernel height and width (one number for both). */
  kernelSize: Pair;
  /** Step of the kernel (default 1). */
  stride?: Pair;
  /** Zero padding on each side, or 'same' / 'valid' (default 0). */
  padding?: Pair | 'same' | 'valid';
  /** Spacing between kernel elements (default 1). */
  dilation?: Pair;
  /** Channel groups convolved separately (default 1; inChannels for a depthwise conv). */
  groups?: number;
  /** Learn a bias (default true). */
  bias?: boolean;
}
export type ConvParams = { weight: Tensor; bias?: Tensor };

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** PyTorch's default conv initialisation for a weight of `shape` (and a bias of `size`). */
function initConv(key: Key, shape: number[], size: number, bias: boolean, o: { device?: Device }): ConvParams {
  const [k1, k2] = split(key);
  const params: ConvParams = { weight: defaultWeight(k1, shape, o) };
  if (bias) params.bias = defaultBias(k2, shape, size, o);
  return params;
}

/**
 * A 2-D convolution layer, as torch.nn.Conv2d: parameters `weight` [out, in/groups, kH, kW] and `bias`,
 * initialised as PyTorch does.
 *
 * @example
 * ```ts
 * import { init, nn, random, zeros } from '@webgrad/core/node';
 * await init();
 * const conv = nn.conv2d({ inChannels: 3, outChannels: 16, kernelSize: 3, padding: 1 });
 * const { params, state } = conv.init(random.key(0));
 * console.log(conv.apply(params, state, zeros([1, 3, 32, 32]), { training: false }).y.shape); // [1, 16, 32, 32]
 * ```
 */
export function conv2d(c: Conv2dConfig): Module<ConvParams, {}> {
  const groups = checkConv('nn.conv2d', c, false);
  const [kh, kw] = pair(c.kernelSize);
  const shape = [c.outChannels, c.inChannels / groups, kh, kw];
  return {
    init: (key, o = {}) => ({ params: initConv(key, shape, c.outChannels, c.bias ?? true, o), state: {} }),
    apply: (p, state, x) => ({
      y: conv2dOp(x, p.weight, { bias: p.bias, stride: c.stride, padding: c.padding, dilation: c.dilation, groups }),
      state,
    }),
  };
}

/** Configuration of {@link convTranspose2d}, as torch.nn.ConvTranspose2d's arguments. */
export interface ConvTranspose2dConfig extends Omit<Conv2dConfig, 'padding'> {
  /** Rows and columns removed from each side of the full output (default 0). */
  padding?: Pair;
  /** Extra rows and columns on one side of the output (default 0). */
  outputPadding?: Pair;
}

/** A transposed 2-D convolution layer, as torch.nn.ConvTranspose2d. */
export function convTranspose2d(c: ConvTranspose2dConfig): Module<ConvParams, {}> {
  const groups = checkConv('nn.convTranspose2d', c, true);
  const [kh, kw] = pair(c.kernelSize);
  // PyTorch stores transposed weights as [in, out/groups, kH, kW]; its fan-in is therefore out/groups·k²
  const shape = [c.inChannels, c.outChannels / groups, kh, kw];
  return {
    init: (key, o = {}) => ({ params: initConv(key, shape, c.outChannels, c.bias ?? true, o), state: {} }),
    apply: (p, state, x) => ({
      y: convTranspose2dOp(x, p.weight, { bias: p.bias, stride: c.stride, padding: c.padding, outputPadding: c.outputPadding, dilation: c.dilation, groups }),
      state,
    }),
  };
}
