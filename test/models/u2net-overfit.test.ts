/**
 * Overfitting one batch: the whole training path (U²-NetP forward, 7-map deep supervision, backward
 * through every kernel, Adam) must be able to drive the loss towards zero. A broken gradient anywhere
 * shows up as a plateau. The fused map (what inference uses) must fit the mask almost exactly; the
 * summed loss cannot reach 0 as fast because the coarse side maps (side6 comes from a 2×2 map at a
 * 64² input) are bilinearly upsampled and can only approximate a sharp mask.
 */
import { describe, expect, it } from 'vitest';
import { optim, random, tensor, tidy, tree, valueAndGrad } from '../../src/node';
import { u2net, u2netLoss } from '../../src/models/u2net/model';
import { binaryCrossEntropyWithLogits } from '../../src/tensor/ops/losses';
import { syntheticBatch } from '../../src/sod/synthetic';

describe('U²-NetP overfits one batch', () => {
  it('30 Adam steps on one 64² image take the fused-map BCE below 0.05 and the 7-map loss below 12% of its start', async () => {
    const S = 64;
    const model = u2net({ model: 'u2netp' });
    let { params, state } = model.init(random.key(0));
    const opt = optim.adam({ lr: 1e-2 });
    let optState = opt.init(params);
    const b = syntheticBatch(3, 0, 1, S);
    const x = tensor(b.images, { shape: [1, 3, S, S] });
    const y = tensor(
      b.masks.map((v) => (v > 0.5 ? 1 : 0)),
      { shape: [1, 1, S, S] },
    );
    const step = valueAndGrad(
      (p: any, st: any) => {
        const o = model.apply(p, st, x, { training: true });
        return [u2netLoss(o.logits, y), { state: o.state, fused: binaryCrossEntropyWithLogits(o.logits[0], y) }];
      },
      { hasAux: true },
    );
    const losses: number[] = [];
    let fused = Infinity;
    for (let i = 0; i < 30; i++) {
      const old = state;
      const r = tidy(() => {
        const [[loss, aux], grads] = step(params, state);
        const u = opt.update(grads, optState, params, { donate: true });
        return { loss, aux, params: u.params, optState: u.state };
      });
      tree.dispose(old);
      ({ params, optState } = r);
      state = r.aux.state;
      losses.push(await r.loss.item());
      fused = await r.aux.fused.item();
      tree.dispose([r.loss, r.aux.fused]);
    }
    tree.dispose([params, state, optState, x, y]);
    expect(losses[0]).toBeGreaterThan(3); // 7 BCE terms near ln 2 at the start
    expect(fused).toBeLessThan(0.05);
    expect(losses[29]).toBeLessThan(0.12 * losses[0]);
  }, 600_000);
});
