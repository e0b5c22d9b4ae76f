/**
 * captureStep on a U²-NetP training step with BatchNorm (crop 32, batch 2): forward, 7-map BCE and backward
 * are captured (gradients and new BN state are the static outputs) and Adam runs eagerly outside, as
 * torch.cuda.make_graphed_callables leaves the optimizer outside the graph. Replayed = eager bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { captureStep, init, memory, optim, random, tensor, tree, valueAndGrad, type Tensor } from '../../src/node';
import { u2net, u2netLoss } from '../../src/models/u2net/model';

const B = 2,
  CROP = 32;
const model = u2net({ model: 'u2netp' });
const bits = async (t: Tensor) => Array.from(new Uint32Array((await t.data()).buffer.slice(0)));

const lossFn = valueAndGrad(
  (p: any, st: any, x: Tensor, y: Tensor) => {
    const out = model.apply(p, st, x, { training: true });
    return [u2netLoss(out.logits, y), out.state];
  },
  { hasAux: true },
);
/** Forward, loss and backward: the part a replay repeats. */
const gradStep = (p: any, st: any, x: Tensor, y: Tensor) => {
  const [[loss, state], grads] = lossFn(p, st, x, y);
  return { loss, state, grads };
};

function batch(seed: number) {
  const img = Float32Array.from({ length: B * 3 * CROP * CROP }, (_, i) => Math.sin(i * 0.37 + seed) * 0.5);
  const mask = Float32Array.from({ length: B * CROP * CROP }, (_, i) => ((i * 7 + seed) % 11 > 5 ? 1 : 0));
  return { x: tensor(img, { shape: [B, 3, CROP, CROP] }), y: tensor(mask, { shape: [B, 1, CROP, CROP] }) };
}

/** `steps` Adam steps; the loss and a few parameters and BN statistics (as bits) after each. */
async function train(steps: number, step: (p: any, st: any, x: Tensor, y: Tensor) => ReturnType<typeof gradStep>) {
  let { params, state } = model.init(random.key(0));
  const opt = optim.adam({ lr: 1e-3 });
  let optState = opt.init(params);
  const data = [batch(0), batch(1)];
  const seen: number[][][] = [];
  for (let i = 0; i < steps; i++) {
    const { x, y } = data[i % 2];
    const r = step(params, state, x, y);
    const u = opt.update(r.grads, optState, params, { donate: true });
    tree.dispose([r.grads, state]);
    ({ params, state } = { params: u.params, state: r.state });
    optState = u.state;
    const p = params as any;
    const watch = [r.loss, p.stage1.rebnconvin.conv_s1.weight, p.side1.weight, tree.tensors(state)[0], tree.tensors(state).at(-1)!];
    seen.push(await Promise.all(watch.map(bits)));
    r.loss.dispose();
  }
  tree.dispose([params, state, optState, data]);
  return seen;
}

describe('captureStep: U²-NetP training step (BatchNorm, Adam outside)', () => {
  it('replays bit for bit like the eager step over 3 steps with alternating data; no memory left after dispose', async () => {
    const device = await init();
    await device.sync();
    const start = memory();
    const eager = await train(3, gradStep);
    const step = captureStep(gradStep);
    const replayed = await train(3, step);
    expect(step.stats.calls).toBe(3);
    expect(step.stats.dispatches).toBeGreaterThan(500);
    expect(replayed).toEqual(eager);
    expect(eager[1][0]).not.toEqual(eager[0][0]);
    step.dispose();
    expect(memory().liveTensors).toBe(start.liveTensors);
    expect(memory().liveBytes).toBe(start.liveBytes);
  }, 300_000);
});
