/**
 * The confusion matrix of a segmentation on the GPU (rows = target class, columns = predicted class,
 * as the DeepLabV3+ stream metrics), counted with atomics: nothing is read back.
 */
import { ArgumentError, fmtShape } from '../base/shape';
import { grid } from '../kernels/webgpu/device';
import {
  CONFUSION_MAX_GROUPS,
  CONFUSION_WG,
  confusionCap,
  confusionClearKernel,
  confusionClearLayout,
  confusionCountKernel,
  confusionCountLayout,
} from '../kernels/wgsl/confusion-matrix';
import { defineOp } from '../tensor/ops/define';
import { requireTensor } from '../tensor/require-tensor';
import type { Tensor } from '../tensor/tensor';
import { type ConfusionMatrixAttrs, refConfusionMatrix } from './confusion-matrix-ref';

const confusionMatrixOp = defineOp({
  name: 'confusionMatrix',
  inputs: { pred: 'tensor', target: 'tensor' },
  dtypes: ['int32'],
  shape: (_, a: ConfusionMatrixAttrs) => ({ shape: [a.numClasses, a.numClasses], dtype: 'int32' }),
  forward({ pred, target }, a, [y]) {
    const C = a.numClasses;
    const clear = confusionClearKernel();
    y.device.run('confusionMatrix.clear', clear.key, clear.source, [y.binding], grid(C * C, CONFUSION_WG), {
      layout: confusionClearLayout,
      values: { n: C * C },
    });
    const n = target.size;
    if (n === 0) return;
    const count = confusionCountKernel(confusionCap(C));
    const groups = Math.min(Math.ceil(n / CONFUSION_WG), CONFUSION_MAX_GROUPS);
    y.device.run('confusionMatrix.count', count.key, count.source, [pred.binding, target.binding, y.binding], [groups, 1, 1], {
      layout: confusionCountLayout,
      values: { n, C, ignore: a.ignoreIndex },
    });
  },
  reference: ({ pred, target }, a) => refConfusionMatrix(pred, target, a),
  noGrad: 'counts: integer outputs, nothing to differentiate',
});

/**
 * The (numClasses, numClasses) int32 confusion matrix of predicted classes `pred` against target classes
 * `target` (int32 tensors of one shape, any rank, e.g. (B, H, W)): cell (t, q) counts the pixels of target
 * class t predicted as q, as the DeepLabV3+ stream metrics' `_fast_hist`. Pixels whose target is outside
 * [0, numClasses) or equals `ignoreIndex` (default 255, the Cityscapes void label) are skipped, and so are
 * predictions outside [0, numClasses). Computed on the GPU with atomic adds (no read-back).
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { confusionMatrix } from '@webgrad/core/segmentation';
 * await init();
 * const pred = tensor([[0, 1], [1, 1]], { dtype: 'int32' });
 * const target = tensor([[0, 1], [0, 255]], { dtype: 'int32' });
 * console.log(await confusionMatrix(pred, target, 2).data()); // Int32Array [1, 1, 0, 1]
 * ```
 */
export function confusionMatrix(pred: Tensor, target: Tensor, numClasses: number, ignoreIndex = 255): Tensor {
  const fn = 'confusionMatrix';
  requireTensor(fn, 'pred', pred);
  requireTensor(fn, 'target', target);
  if (pred.dtype !== 'int32') throw new ArgumentError(fn, 'pred', `has dtype ${pred.dtype}`, 'int32 class indices (argmax the logits over dim 1 first)');
  if (target.dtype !== 'int32') throw new ArgumentError(fn, 'target', `has dtype ${target.dtype}`, 'int32 class indices');
  if (pred.shape.length !== target.shape.length || pred.shape.some((n, d) => n !== target.shape[d]))
    throw new ArgumentError(fn, 'pred', `has shape ${fmtShape(pred.shape)}`, `the target's shape ${fmtShape(target.shape)}`);
  if (!(Number.isInteger(numClasses) && numClasses > 0 && numClasses <= 4096))
    throw new ArgumentError(fn, 'numClasses', `is ${numClasses}`, 'an integer in [1, 4096]');
  if (!(Number.isInteger(ignoreIndex) && Math.abs(ignoreIndex) < 2 ** 31)) throw new ArgumentError(fn, 'ignoreIndex', `is ${ignoreIndex}`, 'an int32');
  return confusionMatrixOp.call1([pred, target], { numClasses, ignoreIndex });
}
