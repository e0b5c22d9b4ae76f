/** Gradient clipping over a whole gradient tree, computed on the GPU without reading back. */
import type { Tensor } from '../../tensor/tensor';
import * as tree from '../../tensor/tree';
import { add, clamp, div, maximum, mul, sqrt, square } from '../../tensor/ops/elementwise';
import { sum } from '../../tensor/ops/reduce';

/** Scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)) as torch.nn.utils.clip_grad_norm_; returns the clipped tree and the total norm (a 0-d tensor). */
export function clipGradNorm<G>(grads: G, maxNorm: number): { grads: G; totalNorm: Tensor } {
  const leaves = tree.tensors(grads);
  const total = sqrt(leaves.map((g) => sum(square(g))).reduce((a, b) => add(a, b)));
  // maxNorm / max(norm + eps, maxNorm) = min(1, maxNorm / (norm + eps))
  const scale = div(maxNorm, maximum(add(total, 1e-6), maxNorm));
  return { grads: tree.map(grads, (g: Tensor) => mul(g, scale)), totalNorm: total };
}

/** Clamps every gradient element to [−clipValue, clipValue] (torch.nn.utils.clip_grad_value_). */
export function clipGradValue<G>(grads: G, clipValue: number): G {
  return tree.map(grads, (g: Tensor) => clamp(g, -clipValue, clipValue));
}
