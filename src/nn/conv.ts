/** nn.Conv2d and nn.ConvTranspose2d with PyTorch's parameter shapes and default initialisation. */
import { split, type Key } from '../tensor/random';
import type { Device } from '../kernels/webgpu/device';
import { conv2d as conv2dOp, convTranspose2d as convTranspose2dOp } from '../tensor/ops/conv';
import type { Tensor } from '../tensor/tensor';
import { defaultBias, defaultWeight } from './init';
import type { Module } from './module';

type Pair = number | [number, number];
export interface Conv2dConfig {
  inChannels: number; outChannels: number; kernelSize: Pair;
  stride?: Pair; padding?: Pair | 'same' | 'valid'; dilation?: Pair; groups?: number; bias?: boolean;
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

export function conv2d(c: Conv2dConfig): Module<ConvParams, {}> {
  const groups = c.groups ?? 1;
  if (c.inChannels % groups || c.outChannels % groups) {
    throw new Error(`nn.conv2d: groups=${groups} must divide inChannels (${c.inChannels}) and outChannels (${c.outChannels})`);
  }
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

export interface ConvTranspose2dConfig extends Omit<Conv2dConfig, 'padding'> { padding?: Pair; outputPadding?: Pair; }

export function convTranspose2d(c: ConvTranspose2dConfig): Module<ConvParams, {}> {
  const groups = c.groups ?? 1;
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
