/**
 * How closely two soft masks in [0, 1] agree (runtime-neutral): IoU of both binarised at 0.5, and the
 * mean absolute difference of the soft values. Unlike the SOD metrics (src/sod/metrics.ts), neither side
 * is ground truth: this compares a mask with a reference mask, such as the official U²-Net results.
 */
import { ArgumentError } from '../base/shape';

/** How closely two masks agree: IoU at 0.5 and mean absolute difference. */
export interface MaskAgreement {
  /** IoU of the two masks binarised at 0.5. */
  iou: number;
  /** Mean absolute difference of the soft values. */
  mae: number;
}

/**
 * Compares two soft masks in [0, 1] of equal length: IoU of both binarised at 0.5, and the mean absolute
 * difference.
 */
export function maskAgreement(a: ArrayLike<number>, b: ArrayLike<number>): MaskAgreement {
  if (a.length !== b.length || a.length === 0)
    throw new ArgumentError('maskAgreement', 'b', `has ${b.length} values`, `as many as a (${a.length}), at least one`);
  let inter = 0,
    union = 0,
    abs = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i] >= 0.5,
      q = b[i] >= 0.5;
    if (p && q) inter++;
    if (p || q) union++;
    abs += Math.abs(a[i] - b[i]);
  }
  return { iou: union === 0 ? 1 : inter / union, mae: abs / a.length };
}
