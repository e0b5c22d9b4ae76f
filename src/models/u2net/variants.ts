/**
 * Initialising a compact U²-Net from a standard one, the way the write-up that shrank U²-Net
 * below 100 MB did: grouped (2 groups) — average adjacent input-channel pairs of each 3×3 weight;
 * separable — depthwise weight = mean over output channels, laid out (in, 1, k, k), zero bias;
 * pointwise weight = mean over the kernel window, bias = the original bias. BatchNorms, side
 * convs and the fuse conv are copied; a conv the variant cannot take (odd channel counts for 2
 * groups) stays standard, as in the model itself.
 */
import type { Tensor } from '../../tensor/tensor';
import { mean } from '../../tensor/ops/stats';
import { reshape } from '../../tensor/ops/shape-ops';
import { zeros } from '../../tensor/ops/creation';
import * as tree from '../../tensor/tree';
import type { U2NetVariant } from './graph';
import type { Params } from '../../nn/module';
import { internal } from '../../tensor/ops/define';

function convertConv(conv: Params, variant: U2NetVariant): Params {
  const w = conv.weight as Tensor,
    b = conv.bias as Tensor;
  const [cout, cin, kh, kw] = w.shape;
  if (variant === 'grouped' && cin % 2 === 0 && cout % 2 === 0) {
    return { weight: internal(() => mean(reshape(w, [cout, cin / 2, 2, kh, kw]), { dim: 2 })), bias: b };
  }
  if (variant === 'separable') {
    return {
      depthwise: { weight: internal(() => reshape(mean(w, { dim: 0 }), [cin, 1, kh, kw])), bias: zeros([cin], { device: w.device }) },
      pointwise: { weight: mean(w, { dim: [2, 3], keepdim: true }), bias: b },
    };
  }
  return { weight: w, bias: b };
}

/** New params for `variant` from a standard model's params (the input is left untouched). */
export function convertU2netVariant(params: Params, variant: U2NetVariant): Params {
  if (variant === 'standard') return params;
  const walk = (node: Params): Params => {
    const out: Params = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'conv_s1') out[k] = convertConv(v as Params, variant);
      else out[k] = (v as Tensor).shape !== undefined && !(v as Params).weight ? v : walk(v as Params);
    }
    return out;
  };
  return walk(params);
}

/** Tensors of `converted` that are not shared with `original` (to dispose the original safely). */
export const sharedLeaves = (original: Params, converted: Params): Set<Tensor> => {
  const keep = new Set(tree.tensors(converted));
  return new Set(tree.tensors(original).filter((t) => keep.has(t)));
};
