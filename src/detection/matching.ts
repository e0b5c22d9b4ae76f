/**
 * d2l's matching of anchors to ground truth (assign_anchor_to_bbox) and its training targets
 * (multibox_target), for a whole batch on the GPU: one workgroup per image runs the threshold pass
 * and the greedy pass (src/kernels/wgsl/boxes.ts), so no box is looped over on the host.
 */
import { ArgumentError, fmtShape } from '../base/shape';
import { checkOptions } from '../base/options';
import type { Tensor } from '../tensor/tensor';
import { assignAnchorToBboxOp, checkBoxes, multiboxTargetOp } from '../tensor/ops/boxes';
import { reshape } from '../tensor/ops/shape-ops';
import { requireTensor } from '../tensor/require-tensor';

function checkThreshold(fn: string, t: unknown): number {
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new ArgumentError(fn, 'iouThreshold', `is ${t}`, 'a finite number (IoU, usually in [0, 1])');
  return t;
}

/**
 * d2l's assign_anchor_to_bbox for one image: the index of the ground-truth box (G, 4) each anchor
 * (A, 4) is assigned to, int32 (A), −1 for none. First every anchor takes its best box (first
 * maximum) when their IoU is at least `iouThreshold`; then, G times, the largest entry of the IoU
 * matrix (first in row-major order) assigns its anchor to its box, and that row and column are set
 * to −1 (so a box overlapping no anchor still gets one, as in d2l).
 */
export function assignAnchorToBbox(groundTruth: Tensor, anchors: Tensor, iouThreshold = 0.5): Tensor {
  const fn = 'assignAnchorToBbox';
  checkBoxes(fn, 'groundTruth', groundTruth, 2);
  checkBoxes(fn, 'anchors', anchors, 2);
  if (anchors.device !== groundTruth.device) throw new ArgumentError(fn, 'anchors', 'is on another device', "groundTruth's device");
  return assignAnchorToBboxOp.call1([groundTruth, anchors], { iouThreshold: checkThreshold(fn, iouThreshold) });
}

/** Options of {@link multiboxTarget}. */
export interface MultiboxTargetOptions {
  /** IoU at or above which an anchor takes its best box in the threshold pass (default 0.5, d2l's). */
  iouThreshold?: number;
}

/**
 * d2l's multibox_target for a batch: anchors (1, A, 4) or (A, 4) and targets (B, G, 5), rows
 * [class, x1, y1, x2, y2] with a negative class marking padding (ignored, so images may hold
 * different numbers of objects). Returns [bboxOffset (B, A·4) float32 (d2l's offset_boxes of the
 * assigned box, 0 for background), bboxMask (B, A·4) float32 (1 where an anchor has a box),
 * classLabels (B, A) int32 (class + 1, 0 = background)].
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { multiboxTarget } from '@webgrad/core/detection';
 * await init();
 * // d2l's anchors chapter: two labelled objects (a dog, class 0; a cat, class 1) and five anchors
 * const groundTruth = tensor([[[0, 0.1, 0.08, 0.52, 0.92], [1, 0.55, 0.2, 0.9, 0.88]]]);
 * const anchors = tensor([[[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98], [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]]]);
 * const [offsets, mask, classes] = multiboxTarget(anchors, groundTruth);
 * console.log(Array.from(await classes.data())); // [0, 1, 2, 0, 2], as the book prints
 * console.log(offsets.shape, mask.shape); // [1, 20] [1, 20]
 * ```
 */
export function multiboxTarget(anchors: Tensor, targets: Tensor, options: MultiboxTargetOptions = {}): [Tensor, Tensor, Tensor] {
  const fn = 'multiboxTarget';
  checkBoxes(fn, 'anchors', anchors);
  if (anchors.ndim !== 2 && !(anchors.ndim === 3 && anchors.shape[0] === 1))
    throw new ArgumentError(fn, 'anchors', `has shape ${fmtShape(anchors.shape)}`, 'anchors of shape (1, A, 4) or (A, 4)');
  requireTensor(fn, 'targets', targets, 'a Tensor (B, G, 5)');
  if (targets.dtype !== 'float32' || targets.ndim !== 3 || targets.shape[2] !== 5)
    throw new ArgumentError(
      fn,
      'targets',
      `has shape ${fmtShape(targets.shape)} (${targets.dtype})`,
      'float32 rows [class, x1, y1, x2, y2] of shape (B, G, 5)',
    );
  if (anchors.device !== targets.device) throw new ArgumentError(fn, 'anchors', 'is on another device', "targets' device");
  checkOptions(fn, 'options', options, ['iouThreshold']);
  const iouThreshold = checkThreshold(fn, options.iouThreshold ?? 0.5);
  const flat = anchors.ndim === 3 ? reshape(anchors, [anchors.shape[1], 4]) : anchors;
  try {
    const [off, mask, cls] = multiboxTargetOp.callN([flat, targets], { iouThreshold, eps: 1e-6 });
    return [off, mask, cls];
  } finally {
    if (flat !== anchors) flat.dispose();
  }
}
