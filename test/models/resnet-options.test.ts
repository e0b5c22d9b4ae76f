/**
 * ResNet builder options for the Caffe/Keras layout (strideIn1x1, convBias, bnEps) against an independent
 * float64 bottleneck forward, and `features(…, { stages })` stopping early.
 */
import { describe, it, expect } from 'vitest';
import { tree, random, tidy, tensor, type Tensor } from '../../src/node';
import { resnet, KERAS_RESNET50_CONFIG, type ResNetConfig } from '../../src/models/resnet';
import { refConv2d } from '../../src/tensor/ops/ref/conv';
import { refMaxPool } from '../../src/tensor/ops/ref/pool';
import type { RefTensor } from '../../src/tensor/ops/define';

type Host = Record<string, { shape: number[]; data: Float64Array }>;

/** Seeded values for every leaf (BN variances positive and some small, so eps matters). */
function randomize(tr: unknown, seed: number): { tensors: any; host: Host } {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  const host: Host = {};
  const tensors = tree.map(tr, (t: Tensor, path: string) => {
    if (t.dtype !== 'float32') return tensor(new Int32Array(t.size), { shape: t.shape, dtype: t.dtype });
    const f = path.endsWith('running_var') ? () => 0.002 + (rnd() + 0.5) * 0.05 : path.endsWith('.weight') && t.ndim === 1 ? () => 1 + rnd() : () => rnd();
    const data = Float32Array.from({ length: t.size }, f);
    host[path] = { shape: [...t.shape], data: Float64Array.from(data) };
    return tensor(data, { shape: t.shape });
  });
  return { tensors, host };
}

/** Float64 eval forward of a bottleneck ResNet over host weights, written from the v1/v1.5 papers' description. */
function reference(h: Host, x: RefTensor, o: { strideIn1x1: boolean; bias: boolean; eps: number; layers: number[]; stages?: number }): RefTensor[] {
  const T = (k: string): RefTensor => ({ shape: h[k].shape, dtype: 'float32', data: h[k].data });
  const conv = (v: RefTensor, k: string, stride: number, pad: number) =>
    refConv2d(v, T(`${k}.weight`), o.bias ? T(`${k}.bias`) : undefined, {
      stride: [stride, stride],
      padding: [pad, pad, pad, pad],
      dilation: [1, 1],
      groups: 1,
    });
  const bn = (v: RefTensor, k: string, relu = false): RefTensor => {
    const [, C, H, W] = v.shape;
    const [w, b, m, va] = ['weight', 'bias', 'running_mean', 'running_var'].map((n) => h[`${k}.${n}`].data);
    const data = v.data.map((val, i) => {
      const c = Math.floor(i / (H * W)) % C;
      const y = ((val - m[c]) / Math.sqrt(va[c] + o.eps)) * w[c] + b[c];
      return relu ? Math.max(y, 0) : y;
    });
    return { ...v, data };
  };
  const stem = bn(conv(x, 'conv1', 2, 3), 'bn1', true);
  const pool = {
    adaptive: false,
    kernel: [3, 3],
    stride: [2, 2],
    padding: [1, 1],
    dilation: [1, 1],
    ceilMode: false,
    countIncludePad: true,
    divisorOverride: null,
  };
  let v = refMaxPool(stem, { ...pool, outputSize: [0, 0], inputSize: [stem.shape[2], stem.shape[3]] } as any)[0];
  const outs: RefTensor[] = [];
  o.layers.slice(0, o.stages ?? 4).forEach((n, i) => {
    for (let j = 0; j < n; j++) {
      const k = `layer${i + 1}.${j}`,
        s = i > 0 && j === 0 ? 2 : 1;
      const a = bn(conv(v, `${k}.conv1`, o.strideIn1x1 ? s : 1, 0), `${k}.bn1`, true);
      const b = bn(conv(a, `${k}.conv2`, o.strideIn1x1 ? 1 : s, 1), `${k}.bn2`, true);
      const c = bn(conv(b, `${k}.conv3`, 1, 0), `${k}.bn3`);
      const idn = h[`${k}.downsample.0.weight`] ? bn(conv(v, `${k}.downsample.0`, s, 0), `${k}.downsample.1`) : v;
      v = { ...c, data: c.data.map((z, q) => Math.max(z + idn.data[q], 0)) };
    }
    outs.push(v);
  });
  return outs;
}

const close = (got: ArrayLike<number>, want: RefTensor, what: string) => {
  const scale = Math.max(...want.data.map(Math.abs));
  expect(got.length, what).toBe(want.data.length);
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want.data[i]), `${what}[${i}]`).toBeLessThan(2e-4 * scale + 1e-5);
};

describe('ResNet Caffe/Keras options', () => {
  const planes: [number, number, number, number] = [4, 4, 6, 6];
  const layers: [number, number, number, number] = [1, 2, 1, 1];
  const x64 = Float64Array.from({ length: 2 * 3 * 36 * 36 }, (_, i) => Math.sin(i * 0.37) + 0.3 * Math.cos(i * 0.011));
  const x: RefTensor = { shape: [2, 3, 36, 36], dtype: 'float32', data: Float64Array.from(Float32Array.from(x64)) };

  for (const opts of [
    { strideIn1x1: true, convBias: true, bnEps: 1e-3 },
    { strideIn1x1: false, convBias: false, bnEps: 1e-5 },
    { strideIn1x1: true, convBias: false, bnEps: 1e-5 },
  ]) {
    it(`stage maps match a float64 forward (${JSON.stringify(opts)})`, async () => {
      const m = resnet({ block: 'bottleneck', layers, planes, numClasses: 3, ...opts });
      const fresh = m.init(random.key(0));
      const p = randomize(fresh.params, 7),
        s = randomize(fresh.state, 11);
      tree.dispose(fresh);
      const stages = tidy(() => m.features(p.tensors, s.tensors, tensor(Float32Array.from(x.data), { shape: x.shape }), { training: false }).stages);
      const want = reference({ ...p.host, ...s.host }, x, { strideIn1x1: opts.strideIn1x1, bias: opts.convBias, eps: opts.bnEps, layers });
      for (let i = 0; i < 4; i++) close(await stages[i].data(), want[i], `layer${i + 1}`);
      tree.dispose([p.tensors, s.tensors, stages]);
    }, 60_000);
  }

  it('convBias adds a bias to every conv (torchvision key names), the Keras preset is ResNet-50 v1', () => {
    const m = resnet(KERAS_RESNET50_CONFIG);
    expect(m.config).toMatchObject({ model: 'resnet50', strideIn1x1: true, convBias: true, bnEps: 1e-3 });
    const { params, state } = m.init(random.key(0));
    const keys = tree.flatten(params).map((l) => l.path);
    for (const k of ['conv1.bias', 'layer1.0.conv1.bias', 'layer1.0.conv3.bias', 'layer2.0.downsample.0.bias', 'layer4.2.conv2.bias'])
      expect(keys).toContain(k);
    // torchvision's count plus one bias per conv output channel
    const count = tree.tensors(params).reduce((a, t) => a + t.size, 0);
    const convBiases = tree.flatten(params).filter((l) => /conv\d\.bias$|downsample\.0\.bias$/.test(l.path));
    expect(convBiases.length).toBe(1 + 16 * 3 + 4);
    expect(count - convBiases.reduce((a, l) => a + (l.value as Tensor).size, 0)).toBe(25_557_032);
    tree.dispose([params, state]);
    expect(() => resnet({ model: 'resnet18', strideIn1x1: true })).toThrow(/strideIn1x1.*bottleneck/);
    expect(() => resnet({ bnEps: 0 } as ResNetConfig)).toThrow(/bnEps/);
  }, 60_000);

  it('features({ stages }) stops early: same maps, pooled last computed stage, later parameters unused', async () => {
    const m = resnet({ block: 'bottleneck', layers, planes, numClasses: 3, convBias: true });
    const fresh = m.init(random.key(0));
    const p = randomize(fresh.params, 3),
      s = randomize(fresh.state, 5);
    tree.dispose(fresh);
    const xt = tensor(Float32Array.from(x.data), { shape: x.shape });
    const full = tidy(() => m.features(p.tensors, s.tensors, xt, { training: false }));
    const { layer3, layer4, fc, ...truncated } = p.tensors;
    for (const k of [2, 3] as const) {
      const part = tidy(() => m.features(k === 2 ? truncated : { ...truncated, layer3 }, s.tensors, xt, { training: false }, { stages: k }));
      expect(part.stages.length).toBe(k);
      expect(part.y.shape).toEqual([2, planes[k - 1] * 4]);
      expect(Array.from(await part.stages[k - 1].data())).toEqual(Array.from(await full.stages[k - 1].data()));
      // y is the global average of the last stage
      const st = Float64Array.from(await part.stages[k - 1].data()),
        [, C, H, W] = part.stages[k - 1].shape;
      const y = await part.y.data();
      for (let c = 0; c < C; c++) {
        const mean = st.slice(c * H * W, (c + 1) * H * W).reduce((a, b) => a + b, 0) / (H * W);
        expect(Math.abs(y[c] - mean)).toBeLessThan(1e-5 * Math.abs(mean) + 1e-5);
      }
      tree.dispose([part.y, part.stages]);
    }
    // training mode updates only the stages run; the others' state is passed through
    const tr = tidy(() => m.features(truncated, s.tensors, xt, { training: true }, { stages: 2 }));
    expect(tr.state.layer3).toBe(s.tensors.layer3);
    expect(tr.state.layer1).not.toBe(s.tensors.layer1);
    expect(() => m.features(p.tensors, s.tensors, xt, { training: false }, { stages: 5 as any })).toThrow(/stages must be 1, 2, 3 or 4; got 5/);
    tree.dispose([full.y, full.stages, tr.y, tr.stages, tr.state.layer1, tr.state.layer2, tr.state.bn1, p.tensors, s.tensors, xt]);
  }, 60_000);
});
