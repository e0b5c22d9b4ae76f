/** nn layers: PyTorch's parameter shapes, paths and default initialisation; explicit BatchNorm state. */
import { describe, it, expect } from 'vitest';
import { nn, random, tree, tidy, rand, relu, type Tensor } from '../../src/node';

const stats = async (t: Tensor) => {
  const d = Array.from(await t.data());
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  return { max: d.reduce((m, v) => Math.max(m, Math.abs(v)), 0), std: Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length) };
};

describe('nn layers', () => {
  it('linear: weight [out, in] and bias from U(±1/√in) (PyTorch default)', async () => {
    const { params } = nn.linear({ inFeatures: 256, outFeatures: 512 }).init(random.key(0));
    expect(params.weight.shape).toEqual([512, 256]);
    expect(params.bias!.shape).toEqual([512]);
    const bound = 1 / Math.sqrt(256);
    const w = await stats(params.weight);
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(w.std).toBeCloseTo(bound / Math.sqrt(3), 3);
    expect((await stats(params.bias!)).max).toBeLessThanOrEqual(bound);
    tree.dispose(params);
  });

  it('conv2d: grouped weight shape and fan-in; apply runs', async () => {
    const layer = nn.conv2d({ inChannels: 8, outChannels: 4, kernelSize: 3, groups: 2, padding: 1 });
    const { params, state } = layer.init(random.key(1));
    expect(params.weight.shape).toEqual([4, 4, 3, 3]);
    expect((await stats(params.weight)).max).toBeLessThanOrEqual(1 / Math.sqrt(4 * 9));
    const y = tidy(() => layer.apply(params, state, rand(random.key(2), [2, 8, 5, 5]), { training: false }).y);
    expect(y.shape).toEqual([2, 4, 5, 5]);
    tree.dispose([params, y]);
  });

  it('sequential names children 0, 1, … like nn.Sequential', () => {
    const net = nn.sequential(nn.linear({ inFeatures: 3, outFeatures: 4 }), nn.lambda(relu), nn.linear({ inFeatures: 4, outFeatures: 2 }));
    const { params, state } = net.init(random.key(3));
    expect(tree.flatten(params).map((l) => l.path)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const y = tidy(() => net.apply(params, state, rand(random.key(4), [5, 3]), { training: true }).y);
    expect(y.shape).toEqual([5, 2]);
    tree.dispose([params, y]);
  });

  it('batchNorm2d returns new running statistics in training and uses them in eval; fused ReLU matches', async () => {
    const bn = nn.batchNorm2d({ numFeatures: 2 });
    const bnRelu = nn.batchNorm2d({ numFeatures: 2, activation: 'relu' });
    const { params, state } = bn.init(random.key(5));
    const x = rand(random.key(6), [3, 2, 4, 4]);
    const r = bn.apply(params, state, x, { training: true });
    const f = bnRelu.apply(params, state, x, { training: true });
    expect(await r.state.num_batches_tracked!.item()).toBe(1);
    const rm = await r.state.running_mean!.data();
    // running_mean = 0.9·0 + 0.1·batch mean; rand is U[0,1) so the batch mean is near 0.5
    rm.forEach((m) => expect(m).toBeGreaterThan(0.02));
    const unfused = await relu(r.y).data(),
      fused = await f.y.data();
    fused.forEach((v, i) => expect(v).toBeCloseTo(unfused[i], 5));
    const e = bn.apply(params, r.state, x, { training: false });
    expect(e.state).toBe(r.state);
    tree.dispose([params, state, r, f, x, e.y]);
  });

  it('dropout layer is the identity in eval mode and needs a key in training', () => {
    const d = nn.dropout({ p: 0.5 });
    const x = rand(random.key(7), [4]);
    expect(d.apply({}, {}, x, { training: false }).y).toBe(x);
    expect(() => d.apply({}, {}, x, { training: true })).toThrow(/ctx\.key/);
    x.dispose();
  });
});
