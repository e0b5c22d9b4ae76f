/** U²-Net structure: parameter counts and names as the original, output shapes, deep-supervision loss. */
import { describe, it, expect } from 'vitest';
import { tree, random, tidy, rand, valueAndGrad, type Tensor } from '../../src/node';
import { u2net, u2netLoss } from '../../src/models/u2net/model';

const count = (params: unknown) => tree.tensors(params).reduce((s, t) => s + t.size, 0);

describe('U²-Net', () => {
  it('U2NETP has 1,131,181 parameters with the original key names', () => {
    const { params, state } = u2net({ model: 'u2netp' }).init(random.key(0));
    expect(count(params)).toBe(1_131_181);
    const keys = tree.flatten(params).map((l) => l.path);
    for (const k of [
      'stage1.rebnconvin.conv_s1.weight',
      'stage1.rebnconvin.bn_s1.bias',
      'stage5.rebnconv4.conv_s1.weight',
      'stage1d.rebnconv1d.conv_s1.bias',
      'side1.weight',
      'side6.bias',
      'outconv.weight',
    ]) {
      expect(keys).toContain(k);
    }
    const stateKeys = tree.flatten(state).map((l) => l.path);
    expect(stateKeys).toContain('stage1.rebnconvin.bn_s1.running_mean');
    expect(stateKeys).toContain('stage6.rebnconv1d.bn_s1.num_batches_tracked');
    // 4F blocks have no rebnconv5/6/7; RSU7 has rebnconv7 and rebnconv6d
    expect(keys).toContain('stage1.rebnconv7.conv_s1.weight');
    expect(keys).toContain('stage1.rebnconv6d.conv_s1.weight');
    expect(keys.some((k) => k.startsWith('stage5.rebnconv5.'))).toBe(false);
    tree.dispose([params, state]);
  });

  it('U2NET has 44,009,869 parameters', () => {
    const { params, state } = u2net({ model: 'u2net' }).init(random.key(0));
    expect(count(params)).toBe(44_009_869);
    expect(params.side5 && (tree.flatten(params).find((l) => l.path === 'side5.weight')!.value as Tensor).shape).toEqual([1, 512, 3, 3]);
    tree.dispose([params, state]);
  });

  it('compact variants are smaller (grouped halves the 3×3 weights, separable far more)', () => {
    const sizes = (['standard', 'grouped', 'separable'] as const).map((variant) => {
      const { params, state } = u2net({ model: 'u2netp', variant }).init(random.key(0));
      const n = count(params);
      tree.dispose([params, state]);
      return n;
    });
    expect(sizes[1]).toBeLessThan(sizes[0] * 0.62);
    expect(sizes[2]).toBeLessThan(sizes[1]);
  });

  it('returns 7 logit maps at the input size (odd sizes too) and a finite deep-supervision loss', async () => {
    const model = u2net({ model: 'u2netp' });
    const { params, state } = model.init(random.key(1));
    const out = tidy(() => {
      const x = rand(random.key(2), [1, 3, 37, 29]);
      const r = model.apply(params, state, x, { training: false });
      const y = rand(random.key(3), [1, 1, 37, 29]);
      return { shapes: r.logits.map((l) => [...l.shape]), loss: u2netLoss(r.logits, y) };
    });
    expect(out.shapes).toEqual(new Array(7).fill([1, 1, 37, 29]));
    const loss = await out.loss.item();
    expect(Number.isFinite(loss) && loss > 0).toBe(true);
    tree.dispose([params, state, out.loss]);
  });

  it('names the expected input shape when given the wrong one', () => {
    const model = u2net({ model: 'u2netp' });
    const { params, state } = model.init(random.key(1));
    expect(() => tidy(() => model.apply(params, state, rand(random.key(2), [1, 1, 8, 8]), { training: false }))).toThrow(/\[N, 3, H, W\].*\[1, 1, 8, 8\]/);
    tree.dispose([params, state]);
  });

  it('splitting the decoder convs instead of building big concats gives the same loss and gradients', async () => {
    // maxConcatBytes 0 forces the split path everywhere (it kicks in by itself past the device's binding limit).
    // Gradients are compared in eval mode: in training mode a random-init U²-NetP at this size is so badly
    // conditioned (BatchNorm over few values per channel) that scaling the input by 1 + 1e-6 moves
    // gradients by ~10%, so float32 summation order alone would decide the result.
    for (const variant of ['standard', 'grouped', 'separable'] as const) {
      const run = (maxConcatBytes?: number) => {
        const model = u2net({ model: 'u2netp', variant, maxConcatBytes });
        const { params, state } = model.init(random.key(4));
        const f = valueAndGrad((p: any) => {
          const x = rand(random.key(5), [2, 3, 24, 19]);
          const y = rand(random.key(6), [2, 1, 24, 19]);
          return u2netLoss(model.apply(p, state, x, { training: false }).logits, y);
        });
        const [loss, grads] = f(params);
        tree.dispose([params, state]);
        return { loss, grads: tree.tensors(grads) };
      };
      const a = run(),
        b = run(0);
      expect(await b.loss.item()).toBeCloseTo(await a.loss.item(), 5);
      let worst = 0;
      for (let i = 0; i < a.grads.length; i++) {
        const [ga, gb] = [await a.grads[i].data(), await b.grads[i].data()];
        const scale = Math.max(1e-3, ...Array.from(ga, Math.abs));
        for (let j = 0; j < ga.length; j++) worst = Math.max(worst, Math.abs(ga[j] - gb[j]) / scale);
      }
      expect(worst, variant).toBeLessThan(1e-5);
      tree.dispose([a, b]);
    }
  }, 120_000);
});
