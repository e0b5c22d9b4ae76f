/**
 * The loss terms of neural style transfer (Gatys et al.), with the definitions of d2l's "Neural Style
 * Transfer" chapter: the Gram matrix of a feature map normalised by its element count, the content loss
 * (MSE of features), the style loss (MSE of Gram matrices) and the total variation loss. Composites of
 * public ops (differentiable through the tape), each with a float64 reference in ref/style.ts.
 * The targets of the content and style losses are constants, as d2l's `.detach()`: no gradient reaches them.
 */
import { ArgumentError, fmtShape, sameShape } from '../../base/shape';
import type { Tensor } from '../tensor';
import { requireTensor } from '../require-tensor';
import { defineComposite, checkOperands, detached, type TensorMeta } from './define';
import { abs, add, div, mul, square, sub } from './elementwise';
import { matmul } from './matmul';
import { reshape } from './shape-ops';
import { slice } from './layout';
import { mean } from './stats';
import { refContentLoss, refGramMatrix, refStyleLoss, refTotalVariationLoss } from './ref/style';

const FLOAT: ['float32'] = ['float32'];
const scalarRule = () => ({ shape: [], dtype: 'float32' as const });
const gramShape = (x: TensorMeta) => (x.shape.length === 4 ? [x.shape[0], x.shape[1], x.shape[1]] : [x.shape[0], x.shape[0]]);

/** (B, C, H, W) → (B, C, C), or (C, H, W) → (C, C): F·Fᵀ / (C·H·W) with F the features as (…, C, H·W). */
function gramImpl(x: Tensor): Tensor {
  const [C, H, W] = x.shape.slice(-3);
  const f = reshape(x, [...x.shape.slice(0, -3), C, H * W]);
  return div(matmul(f, f, { transB: true }), C * H * W);
}

const gramOp = defineComposite({
  name: 'gramMatrix',
  inputs: { x: 'tensor' },
  dtypes: FLOAT,
  shape: ({ x }) => ({ shape: gramShape(x), dtype: 'float32' }),
  impl: ({ x }) => gramImpl(x),
  reference: ({ x }) => refGramMatrix(x),
});

const contentOp = defineComposite({
  name: 'contentLoss',
  inputs: { x: 'tensor', target: 'tensor' },
  dtypes: FLOAT,
  shape: scalarRule,
  impl: ({ x, target }) => mean(square(sub(x, detached(target)))),
  reference: ({ x, target }) => refContentLoss(x, target),
});

const styleOp = defineComposite({
  name: 'styleLoss',
  inputs: { x: 'tensor', targetGram: 'tensor' },
  dtypes: FLOAT,
  shape: scalarRule,
  impl: ({ x, targetGram }) => mean(square(sub(gramImpl(x), detached(targetGram)))),
  reference: ({ x, targetGram }) => refStyleLoss(x, targetGram),
});

const tvOp = defineComposite({
  name: 'totalVariationLoss',
  inputs: { x: 'tensor' },
  dtypes: FLOAT,
  shape: scalarRule,
  impl: ({ x }) => {
    const h = x.ndim - 2,
      w = x.ndim - 1;
    const dh = mean(abs(sub(slice(x, h, 1), slice(x, h, 0, -1))));
    const dw = mean(abs(sub(slice(x, w, 1), slice(x, w, 0, -1))));
    return mul(add(dh, dw), 0.5);
  },
  reference: ({ x }) => refTotalVariationLoss(x),
});

// ---- argument checks ---------------------------------------------------------------------------

function checkFeatures(fn: string, arg: string, x: unknown): Tensor {
  requireTensor(fn, arg, x);
  if (x.dtype !== 'float32') throw new ArgumentError(fn, arg, `has dtype ${x.dtype}`, 'float32');
  if (x.ndim !== 3 && x.ndim !== 4) throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, 'a feature map (B, C, H, W) or (C, H, W)');
  if (x.size === 0) throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, 'a non-empty feature map');
  return x;
}

/**
 * The Gram matrix of a feature map, normalised as d2l's `gram`: with F the features of one sample
 * reshaped to (C, H·W), G = F·Fᵀ / (C·H·W), so its scale does not grow with the map's size.
 * (B, C, H, W) gives one Gram matrix per sample, (B, C, C); an unbatched (C, H, W) gives (C, C).
 *
 * @example
 * ```ts
 * import { init, tensor, gramMatrix } from '@webgrad/core/node';
 * await init();
 * // one sample, 2 channels of 2×1: F = [[1, 2], [3, 4]], F·Fᵀ = [[5, 11], [11, 25]], ÷ (2·2·1)
 * const g = gramMatrix(tensor([[[[1], [2]], [[3], [4]]]]));
 * console.log(g.shape, await g.data()); // [1, 2, 2] Float32Array [1.25, 2.75, 2.75, 6.25]
 * ```
 */
export function gramMatrix(features: Tensor): Tensor {
  checkFeatures('gramMatrix', 'features', features);
  return gramOp.call1([features], {});
}

/**
 * Content loss of style transfer: mean((features − target)²) over every element, as d2l's
 * `content_loss`. `target` (the content image's features, same shape) is a constant: no gradient
 * reaches it, even when it is traced.
 */
export function contentLoss(features: Tensor, target: Tensor): Tensor {
  const fn = 'contentLoss';
  requireTensor(fn, 'features', features);
  requireTensor(fn, 'target', target);
  if (features.dtype !== 'float32') throw new ArgumentError(fn, 'features', `has dtype ${features.dtype}`, 'float32');
  if (target.dtype !== 'float32') throw new ArgumentError(fn, 'target', `has dtype ${target.dtype}`, 'float32');
  if (!sameShape(features.shape, target.shape))
    throw new ArgumentError(fn, 'target', `has shape ${fmtShape(target.shape)}`, `the features' shape ${fmtShape(features.shape)}`);
  if (features.size === 0) throw new ArgumentError(fn, 'features', `has shape ${fmtShape(features.shape)}`, 'at least one element');
  checkOperands(fn, [features, target], ['features', 'target']);
  return contentOp.call1([features, target], {});
}

/**
 * Style loss of style transfer: mean((gramMatrix(features) − targetGram)²), as d2l's `style_loss`.
 * `targetGram` is the style image's Gram matrix, computed once with {@link gramMatrix} (shape (B, C, C)
 * for batched features, (C, C) for unbatched ones); it is a constant: no gradient reaches it.
 */
export function styleLoss(features: Tensor, targetGram: Tensor): Tensor {
  const fn = 'styleLoss';
  checkFeatures(fn, 'features', features);
  requireTensor(fn, 'targetGram', targetGram);
  if (targetGram.dtype !== 'float32') throw new ArgumentError(fn, 'targetGram', `has dtype ${targetGram.dtype}`, 'float32');
  const want = gramShape(features);
  if (!sameShape(targetGram.shape, want))
    throw new ArgumentError(
      fn,
      'targetGram',
      `has shape ${fmtShape(targetGram.shape)}`,
      `${fmtShape(want)}, the Gram shape of features ${fmtShape(features.shape)}`,
    );
  checkOperands(fn, [features, targetGram], ['features', 'targetGram']);
  return styleOp.call1([features, targetGram], {});
}

/**
 * Total variation loss, as d2l's `tv_loss`: 0.5·(mean |x[…, h+1, w] − x[…, h, w]| + mean |x[…, h, w+1] − x[…, h, w]|),
 * over the last two dims (H, W ≥ 2) of an image batch (B, C, H, W) or any leading dims. It penalises
 * differences between neighbouring pixels, i.e. high-frequency noise in a synthesised image.
 * The gradient at equal neighbours is 0 (abs's subgradient, as PyTorch).
 */
export function totalVariationLoss(image: Tensor): Tensor {
  const fn = 'totalVariationLoss';
  requireTensor(fn, 'image', image);
  if (image.dtype !== 'float32') throw new ArgumentError(fn, 'image', `has dtype ${image.dtype}`, 'float32');
  const [H, W] = image.shape.slice(-2);
  if (image.ndim < 2 || H < 2 || W < 2 || image.size === 0)
    throw new ArgumentError(fn, 'image', `has shape ${fmtShape(image.shape)}`, 'non-empty, rank ≥ 2, with height and width (the last two dims) ≥ 2');
  return tvOp.call1([image], {});
}
