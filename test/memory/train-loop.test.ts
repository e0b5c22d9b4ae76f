/** A training loop leaves nothing behind: live tensors and bytes are flat from step 2 to step 200. */
import { it, expect } from 'vitest';
import { memory, getDefaultDevice } from '../../src/node';
import { makeData, initParams, sgdStep, type Params } from '../../examples/mlp-core';

it('200 SGD steps of an MLP inside tidy: liveTensors and liveBytes equal after step 2 and step 200', async () => {
  const start = memory();
  const { x, y } = makeData(32);
  let params: Params = initParams();
  let at2: ReturnType<typeof memory> | null = null;
  const losses: number[] = [];
  for (let step = 1; step <= 200; step++) {
    const r = sgdStep(params, x, y, 0.1); // tidy inside; new params kept (returned), old disposed
    params = r.params;
    if (step % 50 === 0 || step === 1) losses.push(await r.loss.item());
    r.loss.dispose();
    if (step === 2) at2 = memory();
  }
  await getDefaultDevice().sync();
  const at200 = memory();
  expect(at200.liveTensors).toBe(at2!.liveTensors);
  expect(at200.liveBytes).toBe(at2!.liveBytes);
  expect(at200.liveBuffers).toBe(at2!.liveBuffers);
  // what is alive is exactly the data and the params: 2 + 4 tensors
  expect(at200.liveTensors - start.liveTensors).toBe(6);
  expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
  for (const t of [x, y, params.l1.weight, params.l1.bias, params.l2.weight, params.l2.bias]) t.dispose();
  expect(memory().liveTensors).toBe(start.liveTensors);
  expect(memory().liveBytes).toBe(start.liveBytes);
});
