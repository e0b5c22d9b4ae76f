/**
 * layerNorm2d: LayerNorm over the channel axis of an [N, C, H, W] tensor (SAM's LayerNorm2d, from ConvNeXt), i.e.
 * nn.LayerNorm(C) applied to every pixel without permuting to channels-last. A composite of reductions over dim 1.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import { requireTensor } from '../require-tensor';
import type { Tensor } from '../tensor';
import { defineComposite, type TensorMeta } from './define';
import { add, div, mul, rsqrt, square, sub } from './elementwise';
import { refLayerNorm2d } from './ref/layer-norm-2d';
import { sum } from './reduce';
import { reshape } from './shape-ops';

interface Ln2dAttrs {
  eps: number;
}

const layerNorm2dOp = defineComposite({
  name: 'layerNorm2d',
  inputs: { x: 'tensor', weight: 'tensor', bias: 'tensor' },
  dtypes: ['float32'],
  shape: ({ x }: { x: TensorMeta }, _: Ln2dAttrs) => ({ shape: x.shape, dtype: 'float32' as const }),
  impl({ x, weight, bias }, { eps }) {
    const C = x.shape[1];
    const xc = sub(x, div(sum(x, { dim: 1, keepdim: true }), C));
    const y = mul(xc, rsqrt(add(div(sum(square(xc), { dim: 1, keepdim: true }), C), eps)));
    const perChannel = (v: Tensor) => reshape(v, x.shape.map((d, i) => (i === 1 ? d : 1)).slice(1));
    return add(mul(y, perChannel(weight)), perChannel(bias));
  },
  reference: ({ x, weight, bias }, a) => refLayerNorm2d(x, weight, bias, a.eps),
});

/**
 * SAM's LayerNorm2d: normalises each pixel of `x` `[N, C, H, W]` over its C channels (mean and biased variance),
 * then applies the per-channel `weight` and `bias` `[C]`: `weight·(x − mean)/sqrt(var + eps) + bias`. Default
 * eps 1e-6, as SAM's.
 *
 * @example
 * ```ts
 * import { init, layerNorm2d, ones, randn, random, zeros } from '@webgrad/core/node';
 * await init();
 * const x = randn(random.key(0), [1, 8, 4, 4]);
 * console.log(layerNorm2d(x, ones([8]), zeros([8])).shape); // [1, 8, 4, 4]
 * ```
 */
export function layerNorm2d(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-6): Tensor {
  const fn = 'layerNorm2d';
  requireTensor(fn, 'x', x);
  if (x.ndim !== 4) throw new ArgumentError(fn, 'x', `has shape ${fmtShape(x.shape)}`, 'a 4-d [N, C, H, W] tensor');
  const C = x.shape[1];
  requireTensor(fn, 'weight', weight);
  requireTensor(fn, 'bias', bias);
  if (weight.ndim !== 1 || weight.shape[0] !== C) throw new ArgumentError(fn, 'weight', `has shape ${fmtShape(weight.shape)}`, `[${C}] (the channels of x)`);
  if (bias.ndim !== 1 || bias.shape[0] !== C) throw new ArgumentError(fn, 'bias', `has shape ${fmtShape(bias.shape)}`, `[${C}] (the channels of x)`);
  if (!(typeof eps === 'number' && eps >= 0 && Number.isFinite(eps))) throw new ArgumentError(fn, 'eps', `is ${String(eps)}`, 'a finite number ≥ 0');
  return layerNorm2dOp.call1([x, weight, bias], { eps });
}
