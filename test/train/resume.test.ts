/** Resuming from a training checkpoint gives bit-identical results to an uninterrupted run. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nn, optim, random, tree, tidy, valueAndGrad, rand, mean, square, relu, sub, schedules, type Tensor } from '../../src/node';
import { saveTrainingCheckpoint, loadTrainingCheckpoint } from '../../src/io/training-checkpoint';

const net = nn.sequential(
  nn.conv2d({ inChannels: 2, outChannels: 4, kernelSize: 3, padding: 1 }),
  nn.batchNorm2d({ numFeatures: 4 }),
  nn.lambda(relu),
  nn.conv2d({ inChannels: 4, outChannels: 1, kernelSize: 1 }),
);
const opt = optim.adamw({ lr: schedules.stepLR(1e-2, { stepSize: 3, gamma: 0.5 }) });
const dataKey = random.key(42);

type Run = { params: any; state: any; optState: optim.OptimizerState };

function trainSteps(run: Run, from: number, to: number): Run {
  let { params, state, optState } = run;
  for (let it = from; it < to; it++) {
    const old = state;
    const r = tidy(() => {
      // batches depend only on the iteration, as in the examples
      const k = random.foldIn(dataKey, it);
      const [kx, ky] = random.split(k);
      const x = rand(kx, [2, 2, 5, 5]),
        y = rand(ky, [2, 1, 5, 5]);
      const [[, st], g] = valueAndGrad(
        (p: any) => {
          const o = net.apply(p, state, x, { training: true });
          return [mean(square(sub(o.y, y))), o.state];
        },
        { hasAux: true },
      )(params);
      const u = opt.update(g, optState, params, { donate: true });
      return { params: u.params, optState: u.state, state: st };
    });
    tree.dispose(old);
    ({ params, state, optState } = r);
  }
  return { params, state, optState };
}

const fresh = (): Run => {
  const { params, state } = net.init(random.key(7));
  return { params, state, optState: opt.init(params) };
};
const bits = async (t: unknown) => Promise.all(tree.tensors(t).map(async (x) => Array.from(new Uint32Array((await x.data()).buffer))));

describe('training checkpoints', () => {
  it('stop at 3, save, load, continue to 6 == 6 straight', async () => {
    const straight = trainSteps(fresh(), 0, 6);
    const half = trainSteps(fresh(), 0, 3);
    const path = join(mkdtempSync(join(tmpdir(), 'webgrad-')), 'run', 'last.safetensors');
    await saveTrainingCheckpoint(path, { ...half, step: 3, meta: { note: 'test' } });
    tree.dispose([half.params, half.state, half.optState.slots]);
    const ck = await loadTrainingCheckpoint(path, fresh());
    expect(ck.step).toBe(3);
    expect(ck.optState.step).toBe(3);
    expect(ck.meta).toEqual({ note: 'test' });
    const resumed = trainSteps(ck, 3, 6);
    expect(await bits(resumed.params)).toEqual(await bits(straight.params));
    expect(await bits(resumed.state)).toEqual(await bits(straight.state));
    expect(await bits(resumed.optState.slots)).toEqual(await bits(straight.optState.slots));
    tree.dispose([straight, resumed] as unknown as Tensor[]);
  });

  it('refuses a file that is not a training checkpoint, naming the way out', async () => {
    const { saveSafetensors } = await import('../../src/io/files');
    const path = join(mkdtempSync(join(tmpdir(), 'webgrad-')), 'plain.safetensors');
    const { params, state } = net.init(random.key(1));
    await saveSafetensors(path, params);
    await expect(loadTrainingCheckpoint(path, { params, state, optState: opt.init(params) })).rejects.toThrow(/not a webgrad training checkpoint.*--init/);
  });
});
