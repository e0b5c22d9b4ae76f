/**
 * Float64 reference of the segmentation confusion matrix, written from the definition (the DeepLabV3+
 * stream metrics' `_fast_hist`, not the WGSL): cell (t, q) counts the pixels of target class t
 * predicted as q. A pixel counts when 0 ≤ t < C and t ≠ ignoreIndex (the reference keeps exactly
 * the targets in [0, C), so 255 drops out) and 0 ≤ q < C (an out-of-range prediction is skipped;
 * the reference code would file it under a neighbouring cell or fail).
 */
import type { RefTensor } from '../base/ref-tensor';

/** Attributes of the confusion matrix: the number of classes and the ignored target value. */
export interface ConfusionMatrixAttrs {
  numClasses: number;
  ignoreIndex: number;
}

/** Counts (C·C, row-major: row = target, column = prediction) of equally long label arrays. */
export function refConfusionCounts(pred: ArrayLike<number>, target: ArrayLike<number>, numClasses: number, ignoreIndex: number): Float64Array {
  const C = numClasses;
  const out = new Float64Array(C * C);
  for (let j = 0; j < target.length; j++) {
    const t = target[j],
      q = pred[j];
    if (t < 0 || t >= C || t === ignoreIndex || q < 0 || q >= C) continue;
    out[t * C + q] += 1;
  }
  return out;
}

/** The confusion matrix (C, C) int32 of int32 `pred` and `target` of one shape. */
export function refConfusionMatrix(pred: RefTensor, target: RefTensor, a: ConfusionMatrixAttrs): RefTensor {
  const C = a.numClasses;
  return { shape: [C, C], dtype: 'int32', data: refConfusionCounts(pred.data, target.data, C, a.ignoreIndex) };
}
