/**
 * fp16 U²-Net inference (src/models/u2net/inference.ts): BN folding against `apply`, the pretrained U²-NetP
 * mask in fp16 against fp32 on two real photos (the bound: mean |Δ| < 1/255), and the clean
 * fallback on a device without 'shader-f16'. Four 320² forwards in all; the rest runs at 32².
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { random, tensor, tidy, tree, full, uniform, Device, getDefaultDevice, type Tensor } from '../../src/node';
import { u2net, type U2NetVariant } from '../../src/models/u2net/model';
import { foldU2NetForInference, u2netFoldedApply, u2netPredict, u2netPredictor, disposeFolded, resolvePrecision } from '../../src/models/u2net/inference';
import { requestAdapter } from '../../src/kernels/webgpu/device';
import { pretrainedU2netp } from '../../src/sod/node/pretrained';
import { loadInitialWeights } from '../../src/io/load-weights';
import { readImage } from '../../src/io/images';
import { u2netPreprocess } from '../../src/sod/preprocess';

const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url));
type P = { [k: string]: Tensor | P };

/** A randomly initialised model whose BatchNorms are far from identity (random γ, β, running stats), so folding matters. */
function randomModel(variant: U2NetVariant, device?: Device) {
  const model = u2net({ model: 'u2netp', variant });
  const { params, state } = model.init(random.key(3), { device });
  let k = 0;
  const u = (shape: readonly number[], lo: number, hi: number) =>
    uniform(random.key(100 + k++), shape, { low: lo, high: hi, device: device ?? getDefaultDevice() });
  const p2 = tree.map(params, (t: Tensor, path: string) =>
    /bn_s1\.weight$/.test(path) ? u(t.shape, 0.5, 1.5) : /bn_s1\.bias$/.test(path) ? u(t.shape, -0.2, 0.2) : t,
  ) as P;
  const s2 = tree.map(state, (t: Tensor, path: string) =>
    /running_mean$/.test(path) ? u(t.shape, -0.3, 0.3) : /running_var$/.test(path) ? u(t.shape, 0.2, 2) : t,
  ) as P;
  return { model, params: p2, state: s2 };
}

const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let sum = 0,
    max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, Number.isNaN(d) ? Infinity : d);
  }
  return { mean: sum / a.length, max };
};

describe('BatchNorm folding', () => {
  for (const variant of ['standard', 'separable'] as const) {
    it(`the folded fp32 forward gives apply's 7 logit maps (${variant}, random BN statistics, 32×32)`, async () => {
      const { model, params, state } = randomModel(variant);
      const x = uniform(random.key(7), [1, 3, 32, 32], { low: -2, high: 2 });
      const folded = await foldU2NetForInference(model, params, state, { dtype: 'float32' });
      expect(folded.float32Convs).toEqual([]);
      // the reference: eval-mode apply with conv, then BatchNorm+ReLU (apply itself folds by default)
      const unfolded = u2net({ ...model.config, foldInEval: false });
      const ref = tidy(() => unfolded.apply(params, state, x, { training: false }).logits);
      const got = tidy(() => u2netFoldedApply(folded, x));
      expect(got.length).toBe(7);
      for (let i = 0; i < 7; i++) {
        expect(got[i].shape).toEqual(ref[i].shape);
        const [a, b] = [await got[i].data(), await ref[i].data()];
        let scale = 0;
        for (const v of b) scale = Math.max(scale, Math.abs(v));
        expect(diff(a, b).max, `logits ${i}`).toBeLessThan(1e-4 * (1 + scale));
      }
      disposeFolded(folded, params);
      tree.dispose([got, ref, x]);
    });
  }

  it('fp16 folding casts every conv to float16 unless its folded bias is large', async () => {
    const { model, params, state } = randomModel('standard');
    const folded = await foldU2NetForInference(model, params, state, { dtype: 'float16' });
    const leaves = tree.leaves(folded.params) as Tensor[];
    expect(leaves.every((t) => t.dtype === 'float16')).toBe(true);
    disposeFolded(folded, params);
    // force one conv to f32 with a tiny threshold: all of them then stay float32 (and the forward still runs)
    const all32 = await foldU2NetForInference(model, params, state, { dtype: 'float16', float32BiasAbove: 0 });
    expect(all32.float32Convs.length).toBeGreaterThan(100);
    const x = uniform(random.key(8), [1, 3, 32, 32], { low: -2, high: 2 });
    const y = tidy(() => u2netFoldedApply(all32, x)[0]);
    expect(y.dtype).toBe('float16');
    disposeFolded(all32, params);
    tree.dispose([x, y]);
  });
});

describe('fallback where the device lacks shader-f16', () => {
  it("'auto' runs fp32 and gives the fp32 mask; explicit 'fp16' throws naming the feature", async () => {
    expect(resolvePrecision(getDefaultDevice(), 'auto')).toBe('fp16'); // lavapipe has shader-f16
    const adapter = await requestAdapter();
    const plain = new Device(await adapter.requestDevice(), adapter.info, { label: 'no-f16' });
    try {
      expect(plain.features.has('shader-f16')).toBe(false);
      expect(resolvePrecision(plain, 'auto')).toBe('fp32');
      const { model, params, state } = randomModel('standard', plain);
      const x = full([1, 3, 32, 32], 0.3, { device: plain });
      const auto = await u2netPredictor(model, params, state, { precision: 'auto' });
      expect(auto.precision).toBe('fp32');
      const a = auto.predict(x);
      expect(a.dtype).toBe('float32');
      const b = await u2netPredict(model, params, state, x, { precision: 'fp32' });
      expect([...(await a.data())]).toEqual([...(await b.data())]);
      auto.dispose();
      await expect(u2netPredict(model, params, state, x, { precision: 'fp16' })).rejects.toThrow(
        /precision 'fp16' needs the WebGPU feature 'shader-f16', which device no-f16 lacks; use precision 'auto'/,
      );
      await expect(u2netPredict(model, params, state, x, { precision: 'half' as never })).rejects.toThrow(/precision must be 'fp16', 'fp32' or 'auto'/);
      tree.dispose([params, state, x, a, b]);
    } finally {
      plain.gpu.destroy();
    }
  });
});

describe('pretrained U²-NetP in fp16', () => {
  let weightsPath = '';
  beforeAll(async () => {
    weightsPath = await pretrainedU2netp();
  }, 300_000);

  it('masks stay within 1/255 mean absolute difference of fp32 on chelsea.png and coffee.jpg', async () => {
    const model = u2net({ model: 'u2netp' });
    const fresh = model.init(random.key(0));
    const { params, state } = await loadInitialWeights(weightsPath, fresh.params, fresh.state);
    tree.dispose(fresh);
    const p32 = await u2netPredictor(model, params, state, { precision: 'fp32' });
    const p16 = await u2netPredictor(model, params, state, { precision: 'fp16' });
    expect(p16.precision).toBe('fp16');
    // the ill-conditioned convs of this checkpoint (folded |bias| 113, 228, 1361) stay f32
    expect(p16.folded.float32Convs).toEqual(['stage2d.rebnconv2d', 'stage2d.rebnconv1d', 'stage1d.rebnconv2d']);
    for (const photo of ['chelsea.png', 'coffee.jpg']) {
      const x = tensor(u2netPreprocess(readImage(fixture(photo))), { shape: [1, 3, 320, 320] });
      const m32 = p32.predict(x),
        m16 = p16.predict(x);
      expect(m16.dtype).toBe('float32');
      const [a, b] = [await m32.data(), await m16.data()];
      const d = diff(a, b);
      let fg32 = 0,
        fg16 = 0;
      for (let i = 0; i < a.length; i++) {
        if (a[i] > 0.5) fg32++;
        if (b[i] > 0.5) fg16++;
      }
      // measured here: chelsea mean 1.19e-3, max 4.0e-2; coffee mean 1.04e-4, max 2.7e-2
      console.log(
        `${photo}: fp16 vs fp32 mask mean |Δ| ${d.mean.toExponential(3)}, max |Δ| ${d.max.toExponential(3)}, foreground ${(fg32 / a.length).toFixed(4)} vs ${(fg16 / a.length).toFixed(4)}`,
      );
      expect(d.mean).toBeLessThan(1 / 255);
      expect(d.max).toBeLessThan(0.25);
      expect(Math.abs(fg32 - fg16) / a.length).toBeLessThan(0.01);
      expect(fg16 / a.length).toBeGreaterThan(0.05); // a mask, not an all-black one
      tree.dispose([x, m32, m16]);
    }
    p32.dispose();
    p16.dispose();
    tree.dispose([params, state]);
  }, 300_000);
});
