/**
 * Segment Anything's training loss, as the SAM paper describes it: a linear combination of focal loss and
 * dice loss (20:1) on the predicted mask logits, plus the mean-squared error between the IoU head's
 * prediction and the IoU of the thresholded predicted mask with the ground truth. When the decoder returns
 * several masks for one prompt, only the one with the lowest mask loss is trained (the paper's rule for
 * ambiguous prompts); the IoU head learns the IoU of every mask. Built from public ops (so the tape
 * differentiates them); the float64 references are in ./losses-ref.ts.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import { add, cast, div, gt, logicalAnd, logicalOr, maximum, mul, pow, sigmoid, sub, where } from '../../tensor/ops/elementwise';
import { binaryCrossEntropyWithLogits, mseLoss } from '../../tensor/ops/losses';
import { argmin, sum } from '../../tensor/ops/reduce';
import { oneHot } from '../../tensor/ops/indexing';
import { mean } from '../../tensor/ops/stats';
import { broadcastTo, reshape } from '../../tensor/ops/shape-ops';
import { stopGradient } from '../../tensor/autograd';
import { Tensor } from '../../tensor/tensor';

/** How a loss is reduced: PyTorch's `reduction`. */
export type LossReduction = 'mean' | 'sum' | 'none';

/** Options of {@link sigmoidFocalLoss} (torchvision.ops.sigmoid_focal_loss's arguments). */
export interface SigmoidFocalLossOptions {
  /** Weight of the positive class in [0, 1], (1 − alpha) for the negatives; a negative value turns the weighting off. Default 0.25. */
  alpha?: number;
  /** Focusing exponent on (1 − p_t); default 2. */
  gamma?: number;
  /** Default 'mean' (over every element). */
  reduction?: LossReduction;
}

function checkPair(fn: string, logits: Tensor, targets: Tensor): void {
  if (!(logits instanceof Tensor) || logits.dtype !== 'float32')
    throw new ArgumentError(fn, 'inputs', logits instanceof Tensor ? `has dtype ${logits.dtype}` : `is ${typeof logits}`, 'a float32 Tensor of logits');
  if (!(targets instanceof Tensor) || targets.dtype !== 'float32')
    throw new ArgumentError(fn, 'targets', targets instanceof Tensor ? `has dtype ${targets.dtype}` : `is ${typeof targets}`, 'a float32 Tensor of 0/1 values');
  if (logits.shape.length !== targets.shape.length || logits.shape.some((n, d) => n !== targets.shape[d]))
    throw new ArgumentError(fn, 'targets', `has shape ${fmtShape(targets.shape)}`, `the inputs' shape ${fmtShape(logits.shape)}`);
}

function reduce(fn: string, x: Tensor, reduction: LossReduction): Tensor {
  if (reduction === 'mean') return mean(x);
  if (reduction === 'sum') return sum(x);
  if (reduction === 'none') return x;
  throw new ArgumentError(fn, 'reduction', `is ${JSON.stringify(reduction)}`, "'mean', 'sum' or 'none'");
}

/**
 * The focal loss of RetinaNet on logits, as torchvision.ops.sigmoid_focal_loss:
 * BCE-with-logits · (1 − p_t)^gamma, weighted by alpha for positives and (1 − alpha) for negatives, where
 * p_t = p·t + (1 − p)·(1 − t) and p = sigmoid(inputs).
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { sigmoidFocalLoss } from '@webgrad/core/sam';
 * await init();
 * const loss = sigmoidFocalLoss(tensor([2, -1, 0.5]), tensor([1, 0, 0]));
 * console.log(await loss.data()); // ≈ [0.1002]
 * ```
 */
export function sigmoidFocalLoss(inputs: Tensor, targets: Tensor, options: SigmoidFocalLossOptions = {}): Tensor {
  const fn = 'sigmoidFocalLoss';
  checkPair(fn, inputs, targets);
  const { alpha = 0.25, gamma = 2, reduction = 'mean' } = options;
  if (!(typeof alpha === 'number' && alpha <= 1 && Number.isFinite(alpha)))
    throw new ArgumentError(fn, 'alpha', `is ${alpha}`, 'a number ≤ 1 (negative: no weighting)');
  if (!(typeof gamma === 'number' && gamma >= 0 && Number.isFinite(gamma))) throw new ArgumentError(fn, 'gamma', `is ${gamma}`, 'a number ≥ 0');
  const p = sigmoid(inputs);
  const ce = binaryCrossEntropyWithLogits(inputs, targets, { reduction: 'none' });
  // 1 − p_t = p + t − 2·p·t
  const oneMinusPt = sub(add(p, targets), mul(2, mul(p, targets)));
  let loss = mul(ce, gamma === 0 ? 1 : gamma === 1 ? oneMinusPt : gamma === 2 ? mul(oneMinusPt, oneMinusPt) : pow(oneMinusPt, gamma));
  if (alpha >= 0) loss = mul(loss, add(mul(alpha, targets), mul(1 - alpha, sub(1, targets))));
  return reduce(fn, loss, reduction);
}

/** Options of {@link diceLoss}. */
export interface DiceLossOptions {
  /** Added to the numerator and the denominator (the loss of two empty masks is 0); default 1. */
  smooth?: number;
  /** 'mean' (default) over the masks, 'sum', or 'none' (one value per mask). */
  reduction?: LossReduction;
}

/**
 * The dice loss on sigmoid probabilities, per mask (the last two dimensions): 1 − (2·Σ p·t + smooth) /
 * (Σ p + Σ t + smooth), then reduced over the masks.
 */
export function diceLoss(inputs: Tensor, targets: Tensor, options: DiceLossOptions = {}): Tensor {
  const fn = 'diceLoss';
  checkPair(fn, inputs, targets);
  if (inputs.ndim < 2) throw new ArgumentError(fn, 'inputs', `has shape ${fmtShape(inputs.shape)}`, 'masks (…, H, W)');
  const { smooth = 1, reduction = 'mean' } = options;
  if (!(typeof smooth === 'number' && smooth >= 0 && Number.isFinite(smooth))) throw new ArgumentError(fn, 'smooth', `is ${smooth}`, 'a number ≥ 0');
  const p = sigmoid(inputs);
  const dims = [inputs.ndim - 2, inputs.ndim - 1];
  const num = add(mul(2, sum(mul(p, targets), dims)), smooth);
  const den = add(add(sum(p, dims), sum(targets, dims)), smooth);
  return reduce(fn, sub(1, div(num, den)), reduction);
}

/**
 * The IoU of masks thresholded at `threshold` (logits > threshold) with 0/1 targets, per mask (last two
 * dimensions); two empty masks have IoU 1. Never differentiated (a step function of the logits).
 */
export function maskIou(logits: Tensor, targets: Tensor, threshold = 0): Tensor {
  const fn = 'maskIou';
  checkPair(fn, logits, targets);
  if (logits.ndim < 2) throw new ArgumentError(fn, 'logits', `has shape ${fmtShape(logits.shape)}`, 'masks (…, H, W)');
  const dims = [logits.ndim - 2, logits.ndim - 1];
  const pred = gt(stopGradient(logits), threshold);
  const truth = gt(targets, 0.5);
  const inter = sum(cast(logicalAnd(pred, truth), 'float32'), dims);
  const union = sum(cast(logicalOr(pred, truth), 'float32'), dims);
  return where(gt(union, 0), div(inter, maximum(union, 1)), 1);
}

/** Options of {@link samLoss}. */
export interface SamLossOptions {
  /** Weight of the focal loss; default 20. */
  focalWeight?: number;
  /** Weight of the dice loss; default 1. */
  diceWeight?: number;
  /** Weight of the IoU head's MSE; default 1. */
  iouWeight?: number;
  /** Logit threshold of the predicted masks whose IoU the head learns; default 0 (SAM's mask_threshold). */
  maskThreshold?: number;
}

/** The parts of {@link samLoss}, each a scalar. */
export interface SamLossParts {
  /** The total: mean over prompts of (focalWeight·focal + diceWeight·dice) of the chosen mask, plus iouWeight·iou. */
  loss: Tensor;
  /** The focal loss of the chosen masks (mean). */
  focal: Tensor;
  /** The dice loss of the chosen masks (mean). */
  dice: Tensor;
  /** The IoU head's MSE over every mask. */
  iou: Tensor;
  /** The actual IoU of every predicted mask with its target, [B, M] (no gradient). */
  actualIou: Tensor;
}

/**
 * SAM's loss for a batch of prompts: `masks` logits [B, M, H, W] (M masks per prompt, e.g. the decoder's
 * low-resolution output upscaled to the targets' size), `iouPred` [B, M], `targets` 0/1 float [B, H, W] or
 * [B, 1, H, W]. Per mask: focalWeight · mean focal loss + diceWeight · dice loss; per prompt the mask with
 * the lowest such loss is trained (the only one when M = 1). The IoU head's target is the IoU of each
 * thresholded mask with the target, a constant (no gradient flows through it).
 */
export function samLoss(masks: Tensor, iouPred: Tensor, targets: Tensor, options: SamLossOptions = {}): SamLossParts {
  const fn = 'samLoss';
  if (!(masks instanceof Tensor) || masks.ndim !== 4)
    throw new ArgumentError(fn, 'masks', masks instanceof Tensor ? `has shape ${fmtShape(masks.shape)}` : `is ${typeof masks}`, 'logits [B, M, H, W]');
  const [B, M, H, W] = masks.shape;
  if (!(iouPred instanceof Tensor) || iouPred.ndim !== 2 || iouPred.shape[0] !== B || iouPred.shape[1] !== M)
    throw new ArgumentError(
      fn,
      'iouPred',
      iouPred instanceof Tensor ? `has shape ${fmtShape(iouPred.shape)}` : `is ${typeof iouPred}`,
      `[${B}, ${M}] (the masks' B and M)`,
    );
  if (
    !(targets instanceof Tensor) ||
    !(
      (targets.ndim === 3 || (targets.ndim === 4 && targets.shape[1] === 1)) &&
      targets.shape[0] === B &&
      targets.shape.at(-2) === H &&
      targets.shape.at(-1) === W
    )
  )
    throw new ArgumentError(
      fn,
      'targets',
      targets instanceof Tensor ? `has shape ${fmtShape(targets.shape)}` : `is ${typeof targets}`,
      `[${B}, ${H}, ${W}] or [${B}, 1, ${H}, ${W}]`,
    );
  const { focalWeight = 20, diceWeight = 1, iouWeight = 1, maskThreshold = 0 } = options;
  for (const [k, v] of Object.entries({ focalWeight, diceWeight, iouWeight }))
    if (!(typeof v === 'number' && v >= 0 && Number.isFinite(v))) throw new ArgumentError(fn, k, `is ${v}`, 'a number ≥ 0');
  const t = reshape(targets, [B, 1, H, W]);
  const tm = M === 1 ? t : broadcastTo(t, [B, M, H, W]);
  const focal = mean(sigmoidFocalLoss(masks, tm, { reduction: 'none' }), [2, 3]);
  const dice = diceLoss(masks, tm, { reduction: 'none' });
  const perMask = add(mul(focalWeight, focal), mul(diceWeight, dice));
  // the lowest-loss mask of each prompt (a constant choice: the gradient flows through that mask only)
  const chosen = M === 1 ? null : cast(oneHot(argmin(stopGradient(perMask), 1), M), 'float32');
  const pick = (x: Tensor) => (chosen ? div(sum(mul(x, chosen)), B) : mean(x));
  const actualIou = stopGradient(maskIou(masks, tm, maskThreshold));
  const iou = mseLoss(iouPred, actualIou);
  return { loss: add(pick(perMask), mul(iouWeight, iou)), focal: pick(focal), dice: pick(dice), iou, actualIou };
}
