/** Node: the shared MLP (examples/mlp-core.ts) trains and its loss falls. */
import { it, expect } from 'vitest';
import { memory } from '../../src/node';
import { trainMLP } from '../../examples/mlp-core';

it('MLP 2→16→1 (tanh, MSE, SGD) loss falls within 20 steps on Node', async () => {
  const before = memory().liveTensors;
  const losses = await trainMLP({ steps: 20 });
  expect(losses).toHaveLength(20);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[19]).toBeLessThan(losses[0] / 2);
  expect(memory().liveTensors).toBe(before);
});
