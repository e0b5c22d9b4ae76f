/**
 * Early freeing for model forwards. Inside a gradient trace every intermediate may be read again by
 * the backward pass, so nothing is freed; in inference (no trace) an activation can go as soon as its
 * last reader has run, instead of living until the enclosing `tidy` ends (a batch-32 ResNet or a
 * 320² U²-Net forward otherwise holds every activation at once).
 */
import type { Tensor } from '../tensor/tensor';
import { isRecording } from '../tensor/tape';

/** Disposes each tensor (once, repeats allowed) unless a gradient trace is recording. */
export function disposeUnlessTraced(...tensors: Tensor[]): void {
  if (isRecording()) return;
  for (const t of new Set(tensors)) t.dispose();
}
