/** Sums a broadcast gradient back to an input's shape (the engine's broadcast rule). */
import type { Tensor } from '../tensor';
import { sameShape } from '../../base/shape';
import { sum } from './reduce';
import { reshape } from './shape-ops';

export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const s = axes.length ? sum(g, { dim: axes, keepdim: true }) : g;
  return reshape(s, shape);
}
