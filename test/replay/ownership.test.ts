/** A replay writes only the graph's own memory: tensors allocated after the capture keep their values. */
import { expect, it } from 'vitest';
import { add, captureStep, exp, mul, tensor, tree, type Tensor } from '../../src/node';

it('tensors made after the capture (from the buffers its intermediates released) survive replays', async () => {
  const step = captureStep((x: Tensor) => add(exp(mul(x, 3)), 1)); // two intermediates, freed inside the capture
  const a = tensor([1, 2, 3, 4]);
  const r0 = step(a);
  // take every pooled buffer of this size class (were the intermediates' buffers pooled, one of these gets them)
  const others = Array.from({ length: 16 }, (_, i) => tensor([i, i, i, i]));
  const b = tensor([0, 0, 0, 0]);
  const r1 = step(b);
  expect(Array.from(await r1.data())).toEqual([2, 2, 2, 2]);
  for (let i = 0; i < others.length; i++) expect(Array.from(await others[i].data())).toEqual([i, i, i, i]);
  tree.dispose([a, b, r0, r1, others]);
  step.dispose();
});
