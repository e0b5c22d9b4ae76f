/**
 * The single-shot detector's training loss and evaluation figures, as d2l's SSD chapter defines them
 * (`calc_loss`, `cls_eval`, `bbox_eval`), and TinySSD's anchors for an image size.
 *
 * - {@link ssdLoss}: per image, the cross-entropy of every anchor's class (background 0 included) averaged
 *   over the anchors, plus the L1 distance of the masked box offsets averaged over the A·4 offsets
 *   (masked-out offsets count as 0 in the mean, as d2l's `bbox_loss(preds * masks, labels * masks).mean(1)`).
 *   d2l trains on the batch mean of this (B) vector.
 * - {@link clsEval} / {@link bboxEval}: anchors whose arg-max class is the label, and the summed absolute
 *   offset error over the positive anchors (scalars on the GPU; d2l reads them back as floats).
 * - {@link tinySsdAnchors}: d2l's `multibox_prior` anchors of the five scales, concatenated in the model's
 *   order: (1, A, 4) normalised corners (`multiboxPriorPyramid`, cached per device and size).
 */
import { ArgumentError, fmtShape } from '../base/shape';
import type { Tensor } from '../tensor/tensor';
import { defineComposite, type RefTensor } from '../tensor/ops/define';
import { crossEntropy, l1Loss } from '../tensor/ops/losses';
import { add, mul, abs, sub, eq, cast } from '../tensor/ops/elementwise';
import { argmax, sum } from '../tensor/ops/reduce';
import { mean } from '../tensor/ops/stats';
import { reshape } from '../tensor/ops/shape-ops';
import { zeros } from '../tensor/ops/creation';
import type { Device } from '../kernels/webgpu/device';
import type { TinySsdModel } from '../models/tiny-ssd';
import { multiboxPriorPyramid } from './anchors';
import { requireTensor } from '../tensor/require-tensor';

const ssdLossOp = defineComposite({
  name: 'ssdLoss',
  inputs: { clsPreds: 'tensor', clsLabels: 'tensor', bboxPreds: 'tensor', bboxLabels: 'tensor', bboxMasks: 'tensor' },
  shape: ({ clsPreds }) => ({ shape: [clsPreds.shape[0]], dtype: 'float32' }),
  impl: ({ clsPreds, clsLabels, bboxPreds, bboxLabels, bboxMasks }) => {
    const [B, A, C] = clsPreds.shape;
    const ce = crossEntropy(reshape(clsPreds, [B * A, C]), reshape(clsLabels, [B * A]), { reduction: 'none' });
    const cls = mean(reshape(ce, [B, A]), 1);
    const l1 = l1Loss(mul(bboxPreds, bboxMasks), mul(bboxLabels, bboxMasks), { reduction: 'none' });
    return add(cls, mean(l1, 1));
  },
  reference: ({ clsPreds, clsLabels, bboxPreds, bboxLabels, bboxMasks }) => {
    const [B, A, C] = clsPreds.shape;
    const K = bboxPreds.shape[1];
    const out = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      let cls = 0;
      for (let a = 0; a < A; a++) {
        const row = clsPreds.data.subarray((b * A + a) * C, (b * A + a + 1) * C);
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
        const label = clsLabels.data[b * A + a];
        // a label outside [0, C) matches no class and adds 0, as crossEntropy's one-hot rule
        cls += label >= 0 && label < C ? lse - row[label] : 0;
      }
      let box = 0;
      for (let k = 0; k < K; k++) {
        const i = b * K + k;
        box += Math.abs(bboxPreds.data[i] * bboxMasks.data[i] - bboxLabels.data[i] * bboxMasks.data[i]);
      }
      out[b] = cls / A + box / K;
    }
    return { shape: [B], dtype: 'float32', data: out } satisfies RefTensor;
  },
});

function checkTensor(fn: string, arg: string, t: unknown, want: string): Tensor {
  requireTensor(fn, arg, t, `a Tensor ${want}`);
  return t;
}

/** Checks the shapes shared by the loss and the evaluation figures; returns [B, A]. */
function checkPreds(fn: string, clsPreds: Tensor, clsLabels: Tensor | null, bboxPreds: Tensor | null, rest: [string, Tensor][]): [number, number] {
  checkTensor(fn, 'clsPreds', clsPreds, '(B, A, C+1)');
  if (clsPreds.ndim !== 3 || clsPreds.dtype !== 'float32')
    throw new ArgumentError(fn, 'clsPreds', `has shape ${fmtShape(clsPreds.shape)} ${clsPreds.dtype}`, 'float32 (B, A, C+1)');
  const [B, A] = clsPreds.shape;
  if (clsLabels) {
    checkTensor(fn, 'clsLabels', clsLabels, `(${B}, ${A}) int32`);
    if (clsLabels.dtype !== 'int32' || clsLabels.ndim !== 2 || clsLabels.shape[0] !== B || clsLabels.shape[1] !== A)
      throw new ArgumentError(fn, 'clsLabels', `has shape ${fmtShape(clsLabels.shape)} ${clsLabels.dtype}`, `int32 (${B}, ${A}), one class per anchor`);
  }
  for (const [name, t] of bboxPreds ? ([['bboxPreds', bboxPreds], ...rest] as [string, Tensor][]) : rest) {
    checkTensor(fn, name, t, `(${B}, ${A * 4})`);
    if (t.dtype !== 'float32' || t.ndim !== 2 || t.shape[0] !== B || t.shape[1] !== A * 4)
      throw new ArgumentError(fn, name, `has shape ${fmtShape(t.shape)} ${t.dtype}`, `float32 (${B}, ${A * 4}), four offsets per anchor of clsPreds`);
  }
  return [B, A];
}

/**
 * d2l's `calc_loss`: for each image, the mean over anchors of the class cross-entropy plus the mean over the
 * A·4 offsets of |preds·masks − labels·masks|. The inputs are TinySSD's outputs and `multiboxTarget`'s
 * (bboxLabels, bboxMasks, clsLabels); the result is (B), one loss per image (take its mean to train).
 *
 * @param clsPreds - class logits (B, A, C+1), class 0 the background
 * @param clsLabels - int32 (B, A) target classes (0 = background)
 * @param bboxPreds - predicted offsets (B, A·4)
 * @param bboxLabels - target offsets (B, A·4)
 * @param bboxMasks - 1 for the offsets of anchors assigned to an object, else 0 (B, A·4)
 */
export function ssdLoss(clsPreds: Tensor, clsLabels: Tensor, bboxPreds: Tensor, bboxLabels: Tensor, bboxMasks: Tensor): Tensor {
  checkPreds('ssdLoss', clsPreds, clsLabels, bboxPreds, [
    ['bboxLabels', bboxLabels],
    ['bboxMasks', bboxMasks],
  ]);
  return ssdLossOp.call1([clsPreds, clsLabels, bboxPreds, bboxLabels, bboxMasks], {});
}

/**
 * d2l's `cls_eval`: how many anchors' arg-max class equals their label, as a float32 scalar on the GPU
 * (divide by B·A for the accuracy).
 */
export function clsEval(clsPreds: Tensor, clsLabels: Tensor): Tensor {
  checkPreds('clsEval', clsPreds, clsLabels, null, []);
  return sum(cast(eq(argmax(clsPreds, -1), clsLabels), 'float32'));
}

/** d2l's `bbox_eval`: Σ |(labels − preds)·masks| over the batch, a float32 scalar on the GPU (divide by the mask's sum for the mean absolute error). */
export function bboxEval(bboxPreds: Tensor, bboxLabels: Tensor, bboxMasks: Tensor): Tensor {
  checkTensor('bboxEval', 'bboxPreds', bboxPreds, '(B, A·4)');
  if (bboxPreds.ndim !== 2 || bboxPreds.dtype !== 'float32')
    throw new ArgumentError('bboxEval', 'bboxPreds', `has shape ${fmtShape(bboxPreds.shape)} ${bboxPreds.dtype}`, 'float32 (B, A·4)');
  for (const [name, t] of [
    ['bboxLabels', bboxLabels],
    ['bboxMasks', bboxMasks],
  ] as const) {
    checkTensor('bboxEval', name, t, fmtShape(bboxPreds.shape));
    if (t.dtype !== 'float32' || t.ndim !== 2 || t.shape[0] !== bboxPreds.shape[0] || t.shape[1] !== bboxPreds.shape[1])
      throw new ArgumentError('bboxEval', name, `has shape ${fmtShape(t.shape)} ${t.dtype}`, `float32 ${fmtShape(bboxPreds.shape)}, like bboxPreds`);
  }
  return sum(abs(mul(sub(bboxLabels, bboxPreds), bboxMasks)));
}

/**
 * TinySSD's anchors for H×W images: d2l's `multibox_prior` for each of the model's five feature maps with
 * that scale's sizes and ratios, concatenated (1, A, 4) in the order of the model's predictions
 * (`tinySsdAnchors(tinySsd({ numClasses: 1 }), 256, 256)` is d2l's (1, 5444, 4)). The anchors depend only on
 * the image size: make them once and keep them.
 */
export function tinySsdAnchors(model: TinySsdModel, height: number, width: number, options: { device?: Device } = {}): Tensor {
  const fn = 'tinySsdAnchors';
  if (!model || typeof model.featureSizes !== 'function') throw new ArgumentError(fn, 'model', `is ${typeof model}`, 'a TinySsdModel (tinySsd(...))');
  for (const [arg, v] of [
    ['height', height],
    ['width', width],
  ] as const)
    if (!Number.isInteger(v) || v < 64) throw new ArgumentError(fn, arg, `is ${v}`, 'an integer ≥ 64 (TinySSD halves the image six times)');
  // multiboxPriorPyramid reads only the feature maps' heights and widths (and caches the anchors)
  const maps = model.featureSizes(height, width).map(([h, w]) => zeros([1, 1, h, w], { device: options.device }));
  const anchors = multiboxPriorPyramid(maps, model.sizes, model.ratios);
  for (const m of maps) m.dispose();
  return anchors;
}
