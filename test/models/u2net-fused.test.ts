/**
 * The fused U²-Net forward (conv2dFused: BatchNorm folded, concat read in place, bias/ReLU/residual in
 * the conv's store) against the unfused one, and eval-mode `apply` routed through it.
 */
import { describe, expect, it } from 'vitest';
import { random, tidy, tree, uniform, type Tensor } from '../../src/node';
import { u2net } from '../../src/models/u2net/model';
import { foldU2NetForInference, u2netFoldedApply, disposeFolded } from '../../src/models/u2net/inference';
import { valueAndGrad, sum } from '../../src/node';

type P = { [k: string]: Tensor | P };

/** U²-NetP with BatchNorms far from identity, so a missing or doubled fold shows. */
function randomModel(variant: 'standard' | 'grouped' | 'separable' = 'standard') {
  const model = u2net({ model: 'u2netp', variant });
  const { params, state } = model.init(random.key(5));
  let k = 0;
  const u = (shape: readonly number[], lo: number, hi: number) => uniform(random.key(200 + k++), shape, { low: lo, high: hi });
  const p2 = tree.map(params, (t: Tensor, path: string) =>
    /bn_s1\.weight$/.test(path) ? u(t.shape, 0.5, 1.5) : /bn_s1\.bias$/.test(path) ? u(t.shape, -0.2, 0.2) : t,
  ) as P;
  const s2 = tree.map(state, (t: Tensor, path: string) =>
    /running_mean$/.test(path) ? u(t.shape, -0.3, 0.3) : /running_var$/.test(path) ? u(t.shape, 0.2, 2) : t,
  ) as P;
  return { model, params: p2, state: s2 };
}

async function maxRelDiff(a: Tensor[], b: Tensor[]): Promise<number> {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    expect(a[i].shape).toEqual(b[i].shape);
    const [x, y] = [await a[i].data(), await b[i].data()];
    let scale = 0,
      d = 0;
    for (let j = 0; j < y.length; j++) {
      scale = Math.max(scale, Math.abs(y[j]));
      d = Math.max(d, Number.isNaN(x[j]) ? Infinity : Math.abs(x[j] - y[j]));
    }
    worst = Math.max(worst, d / (1 + scale));
  }
  return worst;
}

describe('fused U²-Net forward', () => {
  // 36×20: rows of 36, 18, 9, 5, 3, 2 and 20, 10, 5, 3, 2, 1 (vec4 and scalar row kernels, ceil-mode pools)
  for (const [H, W] of [
    [32, 32],
    [36, 20],
  ]) {
    it(`the fused folded forward equals the unfused folded one (${H}×${W})`, async () => {
      const { model, params, state } = randomModel();
      const x = uniform(random.key(9), [1, 3, H, W], { low: -2, high: 2 });
      const folded = await foldU2NetForInference(model, params, state, { dtype: 'float32' });
      const ref = tidy(() => u2netFoldedApply(folded, x, { fusedPath: false }));
      const got = tidy(() => u2netFoldedApply(folded, x));
      expect(await maxRelDiff(got, ref)).toBeLessThan(1e-4);
      disposeFolded(folded, params);
      tree.dispose([got, ref, x, params, state]);
    });
  }

  for (const variant of ['standard', 'grouped'] as const) {
    it(`eval-mode apply folds BatchNorm and gives the unfolded logits (${variant})`, async () => {
      const { model, params, state } = randomModel(variant);
      const unfolded = u2net({ ...model.config, foldInEval: false });
      const x = uniform(random.key(11), [2, 3, 24, 28], { low: -2, high: 2 });
      const ref = tidy(() => unfolded.apply(params, state, x, { training: false }).logits);
      const got = tidy(() => {
        const r = model.apply(params, state, x, { training: false });
        expect(r.state).toBe(state);
        return r.logits;
      });
      expect(await maxRelDiff(got, ref)).toBeLessThan(1e-4);
      tree.dispose([got, ref, x, params, state]);
    });
  }

  it('eval-mode apply under a gradient trace keeps the unfolded path and its gradient', async () => {
    const { model, params, state } = randomModel();
    const x = uniform(random.key(12), [1, 3, 16, 16], { low: -1, high: 1 });
    const [v, g] = tidy(() => valueAndGrad((xx: Tensor) => sum(model.apply(params, state, xx, { training: false }).logits[0]))(x));
    expect(Number.isFinite((await v.data())[0])).toBe(true);
    expect(g.shape).toEqual(x.shape);
    tree.dispose([v, g, x, params, state]);
  });
});
