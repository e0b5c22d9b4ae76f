/** End-to-end cost of a small training step (the smoke-test MLP: forward, backward, SGD, all inside tidy). */
import type { Suite } from '../lib';
import { timeIt } from '../lib';
import { makeData, initParams, sgdStep, type Params } from '../../examples/mlp-core';
import { tree } from '../../src/node';

export const trainStepSuite: Suite = async ({ device, quick }) => {
  const { x, y } = makeData(256);
  let params: Params = initParams();
  const dispatches0 = device.queue.dispatchCount;
  const step = () => {
    const r = sgdStep(params, x, y, 0.05);
    params = r.params;
    r.loss.dispose();
  };
  step();
  const perStep = device.queue.dispatchCount - dispatches0;
  const s = await timeIt(step, () => device.sync(), quick ? { warmup: 1, iters: 3, repeats: 1 } : { warmup: 3, iters: 20, repeats: 3 });
  tree.dispose([params, x, y]);
  return [
    { suite: 'train-step', name: 'MLP 2-16-1, batch 256, SGD step', metric: 'ms', value: s * 1000, note: `${perStep} dispatches` },
    { suite: 'train-step', name: 'MLP step, per dispatch', metric: 'µs/op', value: (s * 1e6) / perStep },
  ];
};
