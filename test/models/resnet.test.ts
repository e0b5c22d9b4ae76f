/** ResNet: torchvision parameter counts and keys, shapes, loading a torchvision-layout state_dict, transfer-learning groups. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tree, random, tidy, tensor, rand, optim, valueAndGrad, crossEntropy, saveSafetensors, HostTensor, type Tensor } from '../../src/node';
import { resnet, isResNetHead, type ResNetName } from '../../src/models/resnet';
import { loadInitialWeights } from '../../src/io/load-weights';
import { refConv2d } from '../../src/kernels/reference/conv';
import type { RefTensor } from '../../src/tensor/ops/define';

const count = (params: unknown) => tree.tensors(params).reduce((s, t) => s + t.size, 0);

/**
 * torchvision's parameter count by formula (independent of the model code): stem 7×7 conv + BN, per block
 * its convs + BNs (+ projection), fc. Basic: 3×3 (cin→p), 3×3 (p→p); bottleneck: 1×1, 3×3, 1×1 (width = p).
 */
function torchvisionCount(block: 'basic' | 'bottleneck', layers: number[], classes = 1000): number {
  const e = block === 'basic' ? 1 : 4;
  let n = 3 * 64 * 49 + 2 * 64, cin = 64;
  [64, 128, 256, 512].forEach((p, i) => {
    for (let j = 0; j < layers[i]; j++) {
      const inC = j === 0 ? cin : p * e;
      n += block === 'basic' ? inC * p * 9 + 2 * p + p * p * 9 + 2 * p : inC * p + 2 * p + p * p * 9 + 2 * p + p * 4 * p + 2 * 4 * p;
      if (j === 0 && (i > 0 || inC !== p * e)) n += inC * p * e + 2 * p * e;
    }
    cin = p * e;
  });
  return n + cin * classes + classes;
}

describe('ResNet', () => {
  it('torchvision parameter counts (and the formula agrees)', () => {
    const want: [ResNetName, number, 'basic' | 'bottleneck', number[]][] = [
      ['resnet18', 11_689_512, 'basic', [2, 2, 2, 2]], ['resnet34', 21_797_672, 'basic', [3, 4, 6, 3]],
      ['resnet50', 25_557_032, 'bottleneck', [3, 4, 6, 3]], ['resnet101', 44_549_160, 'bottleneck', [3, 4, 23, 3]],
    ];
    for (const [name, n, block, layers] of want) {
      expect(torchvisionCount(block, layers)).toBe(n);
      const { params, state } = resnet({ model: name }).init(random.key(0));
      expect(count(params), name).toBe(n);
      tree.dispose([params, state]);
    }
  }, 120_000);

  it('has torchvision state_dict keys (params and BatchNorm state)', () => {
    const { params, state } = resnet({ model: 'resnet50' }).init(random.key(0));
    const keys = tree.flatten(params).map((l) => l.path);
    for (const k of ['conv1.weight', 'bn1.weight', 'bn1.bias', 'layer1.0.conv1.weight', 'layer1.0.conv3.weight', 'layer1.0.bn3.bias',
      'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.weight', 'layer3.5.conv2.weight', 'layer4.2.bn3.weight', 'fc.weight', 'fc.bias']) {
      expect(keys).toContain(k);
    }
    expect(keys).not.toContain('layer1.1.downsample.0.weight');
    expect(keys.some((k) => k.includes('conv1.bias'))).toBe(false);
    const stateKeys = tree.flatten(state).map((l) => l.path);
    for (const k of ['bn1.running_mean', 'layer1.0.downsample.1.running_var', 'layer4.2.bn3.num_batches_tracked']) expect(stateKeys).toContain(k);
    const shape = (p: string) => (tree.flatten(params).find((l) => l.path === p)!.value as Tensor).shape;
    expect(shape('layer2.0.conv2.weight')).toEqual([128, 128, 3, 3]);
    expect(shape('layer2.0.downsample.0.weight')).toEqual([512, 256, 1, 1]);
    expect(shape('fc.weight')).toEqual([1000, 2048]);
    tree.dispose([params, state]);
    // ResNet-18: no projection in layer1, one in layer2; ResNeXt: grouped 3×3
    const r18 = resnet({ model: 'resnet18' }).init(random.key(0));
    const k18 = tree.flatten(r18.params).map((l) => l.path);
    expect(k18).not.toContain('layer1.0.downsample.0.weight');
    expect(k18).toContain('layer2.0.downsample.0.weight');
    expect(k18.filter((k) => k.startsWith('layer')).length).toBe(8 * 6 + 3 * 3);
    tree.dispose(r18);
    expect(() => resnet({ model: 'resnext50_32x4d', planes: [8, 16, 32, 64] })).toThrow(/width.*0/);
    const rx = resnet({ model: 'resnext50_32x4d', planes: [16, 32, 64, 128] });
    expect(rx.blocks.map((s) => s.length)).toEqual([3, 4, 6, 3]);
    const px = rx.init(random.key(0));
    // width = ⌊planes·4/64⌋·32: 128 → 256 channels in 32 groups of 8
    expect((tree.flatten(px.params).find((l) => l.path === 'layer4.0.conv2.weight')!.value as Tensor).shape).toEqual([256, 8, 3, 3]);
    expect((tree.flatten(px.params).find((l) => l.path === 'layer4.0.conv3.weight')!.value as Tensor).shape).toEqual([512, 256, 1, 1]);
    tree.dispose(px);
  }, 60_000);

  it('init follows torchvision: kaiming fan_out convs, BN 1/0, zeroInitResidual', async () => {
    const m = resnet({ model: 'resnet18', zeroInitResidual: true });
    const { params, state } = m.init(random.key(3));
    const flat = Object.fromEntries(tree.flatten(params).map((l) => [l.path, l.value as Tensor]));
    const w = Array.from(await flat['layer3.0.conv1.weight'].data(), Number); // [256, 128, 3, 3]: fan_out = 256·9
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(Math.sqrt(2 / (256 * 9)) * 0.95);
    expect(std).toBeLessThan(Math.sqrt(2 / (256 * 9)) * 1.05);
    expect([...(await flat['layer1.0.bn1.weight'].data())].every((v) => v === 1)).toBe(true);
    expect([...(await flat['layer1.0.bn2.weight'].data())].every((v) => v === 0)).toBe(true);
    expect([...(await flat['layer1.0.bn1.bias'].data())].every((v) => v === 0)).toBe(true);
    const fc = Array.from(await flat['fc.weight'].data(), Number); // default Linear: U(±1/√512)
    expect(fc.reduce((a, v) => Math.max(a, Math.abs(v)), 0)).toBeLessThanOrEqual(1 / Math.sqrt(512));
    tree.dispose([params, state]);
  });

  it('logits, features and stage maps have the right shapes (train and eval), and a head can be replaced', () => {
    for (const cfg of [{ model: 'resnet18' as const }, { model: 'resnet50' as const, planes: [8, 16, 16, 16] as [number, number, number, number] }]) {
      const m = resnet({ ...cfg, numClasses: 7 });
      const { params, state } = m.init(random.key(1));
      const out = tidy(() => {
        const x = rand(random.key(2), [2, 3, 64, 64]);
        const tr = m.apply(params, state, x, { training: true });
        const f = m.features(params, state, x, { training: false });
        return { y: tr.y.shape, f: f.y.shape, stages: f.stages.map((s) => s.shape), nState: tree.tensors(tr.state).length };
      });
      const C = m.featureDim;
      expect(out.y).toEqual([2, 7]);
      expect(out.f).toEqual([2, C]);
      const e = cfg.model === 'resnet18' ? 1 : 4;
      const planes = cfg.planes ?? [64, 128, 256, 512];
      expect(out.stages).toEqual([16, 8, 4, 2].map((s, i) => [2, planes[i] * e, s, s]));
      expect(out.nState).toBe(tree.tensors(state).length);
      const p2 = m.replaceHead(params, 3, random.key(9));
      expect((p2.fc as any).weight.shape).toEqual([3, C]);
      expect(p2.conv1).toBe(params.conv1);
      tree.dispose([params, state, (p2 as any).fc]);
    }
  }, 60_000);

  it('loads a state_dict in torchvision layout (safetensors, by key) and matches a float64 reference forward', async () => {
    const planes: [number, number, number, number] = [4, 6, 8, 8];
    const m = resnet({ model: 'resnet18', planes, numClasses: 5 });
    // the state_dict written independently from torchvision's layout
    const sd: Record<string, HostTensor> = {};
    let seed = 1;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 - 0.5; };
    const put = (k: string, shape: number[], f: () => number = rnd) => { sd[k] = new HostTensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f)); };
    const bn = (k: string, c: number) => {
      put(`${k}.weight`, [c], () => 1 + rnd()); put(`${k}.bias`, [c]); put(`${k}.running_mean`, [c], () => rnd() * 0.2);
      put(`${k}.running_var`, [c], () => 0.5 + rnd() + 0.5); sd[`${k}.num_batches_tracked`] = new HostTensor('int64', [], BigInt64Array.of(7n));
    };
    put('conv1.weight', [4, 3, 7, 7]); bn('bn1', 4);
    let cin = 4;
    planes.forEach((p, i) => {
      for (let j = 0; j < 2; j++) {
        const k = `layer${i + 1}.${j}`;
        put(`${k}.conv1.weight`, [p, j ? p : cin, 3, 3]); bn(`${k}.bn1`, p);
        put(`${k}.conv2.weight`, [p, p, 3, 3]); bn(`${k}.bn2`, p);
        if (j === 0 && (i > 0 || cin !== p)) { put(`${k}.downsample.0.weight`, [p, cin, 1, 1]); bn(`${k}.downsample.1`, p); }
      }
      cin = p;
    });
    put('fc.weight', [5, 8]); put('fc.bias', [5]);
    const dir = mkdtempSync(join(tmpdir(), 'resnet-'));
    try {
      const file = join(dir, 'resnet18-tv.safetensors');
      await saveSafetensors(file, sd);
      const fresh = m.init(random.key(0));
      const { params, state, missing, unexpected } = await loadInitialWeights(file, fresh.params, fresh.state);
      expect(missing).toEqual([]);
      expect(unexpected).toEqual([]);
      const input = Float32Array.from({ length: 2 * 3 * 40 * 40 }, () => rnd() * 2);
      const y = tidy(() => m.apply(params, state, tensor(input, { shape: [2, 3, 40, 40] }), { training: false }).y);
      const got = await y.data();
      const want = referenceForward(sd, planes, { shape: [2, 3, 40, 40], dtype: 'float32', data: Float64Array.from(input) });
      expect(want.shape).toEqual([2, 5]);
      const scale = Math.max(...want.data.map(Math.abs));
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want.data[i])).toBeLessThan(1e-4 * scale + 1e-5);
      tree.dispose([params, state, y]);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }, 60_000);

  it('frozen backbone: no update, no optimizer state; the head gets lr × lrScale', async () => {
    const m = resnet({ model: 'resnet18', planes: [4, 4, 8, 8], numClasses: 3 });
    const { params, state } = m.init(random.key(4));
    const opt = optim.sgd({ lr: 0.1, groups: [{ match: isResNetHead, lrScale: 10 }, { match: () => true, frozen: true }] });
    const os = opt.init(params);
    expect(Object.keys(os.slots).sort()).toEqual(['fc.bias', 'fc.weight']);
    expect(opt.learningRate(os, 'fc.weight')).toBeCloseTo(1);
    const step = valueAndGrad((p: any, x: Tensor, t: Tensor) => crossEntropy(m.apply(p, state, x, { training: false }).y, t));
    const r = tidy(() => {
      const x = rand(random.key(5), [4, 3, 32, 32]);
      const t = tensor(Int32Array.of(0, 1, 2, 1), { shape: [4] });
      const [, g] = step(params, x, t);
      const u = opt.update(g, os, params);
      return { g: (g as any).fc.weight as Tensor, u };
    });
    const flatOld = tree.flatten(params), flatNew = tree.flatten(r.u.params);
    flatOld.forEach((l, i) => { if (!isResNetHead(l.path)) expect(flatNew[i].value).toBe(l.value); });
    expect(Object.keys(r.u.state.slots).sort()).toEqual(['fc.bias', 'fc.weight']);
    const [w0, g, w1] = (await Promise.all([(params.fc as any).weight.data(), r.g.data(), (r.u.params as any).fc.weight.data()])).map((a) => Array.from(a as Float32Array, Number));
    for (let i = 0; i < w0.length; i++) expect(w1[i]).toBeCloseTo(w0[i] - 1 * g[i], 5);
    expect(g.reduce((a, v) => Math.max(a, Math.abs(v)), 0)).toBeGreaterThan(1e-4);
    tree.dispose([params, state, r.g, (r.u.params as any).fc]);
  }, 60_000);

  it('rejects a wrong input shape and BasicBlock groups, naming what it expected', () => {
    const m = resnet({ model: 'resnet18', planes: [4, 4, 4, 4] });
    const { params, state } = m.init(random.key(0));
    expect(() => tidy(() => m.apply(params, state, rand(random.key(1), [1, 1, 32, 32]), { training: false }))).toThrow(/\[N, 3, H, W\].*\[1, 1, 32, 32\]/);
    expect(() => resnet({ model: 'resnet18', groups: 32 })).toThrow(/BasicBlock.*groups=1/);
    tree.dispose([params, state]);
  });
});

// ---- an independent float64 forward over the state_dict itself (ResNet-18 eval) ----------------

function referenceForward(sd: Record<string, HostTensor>, planes: number[], x: RefTensor): RefTensor {
  const T = (k: string): RefTensor => ({ shape: [...sd[k].shape], dtype: 'float32', data: Float64Array.from(sd[k].data as Float32Array) });
  const conv = (h: RefTensor, k: string, stride: number, pad: number) => refConv2d(h, T(k), undefined, { stride: [stride, stride], padding: [pad, pad, pad, pad], dilation: [1, 1], groups: 1 });
  const bn = (h: RefTensor, k: string) => {
    const [N, C, H, W] = h.shape, w = T(`${k}.weight`).data, b = T(`${k}.bias`).data, m = T(`${k}.running_mean`).data, v = T(`${k}.running_var`).data;
    const data = h.data.map((val, i) => { const c = Math.floor(i / (H * W)) % C; return ((val - m[c]) / Math.sqrt(v[c] + 1e-5)) * w[c] + b[c]; });
    return { ...h, shape: [N, C, H, W], data };
  };
  const relu = (h: RefTensor) => ({ ...h, data: h.data.map((v) => Math.max(v, 0)) });
  const addT = (a: RefTensor, b: RefTensor) => ({ ...a, data: a.data.map((v, i) => v + b.data[i]) });
  const maxpool = (h: RefTensor) => { // 3×3, stride 2, padding 1 (padding never wins)
    const [N, C, H, W] = h.shape, OH = Math.floor((H - 1) / 2) + 1, OW = Math.floor((W - 1) / 2) + 1;
    const data = new Float64Array(N * C * OH * OW).fill(-Infinity);
    for (let p = 0; p < N * C; p++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++)
      for (let u = -1; u <= 1; u++) for (let v = -1; v <= 1; v++) {
        const r = 2 * i + u, c = 2 * j + v;
        if (r >= 0 && r < H && c >= 0 && c < W) data[(p * OH + i) * OW + j] = Math.max(data[(p * OH + i) * OW + j], h.data[(p * H + r) * W + c]);
      }
    return { ...h, shape: [N, C, OH, OW], data };
  };
  let h = maxpool(relu(bn(conv(x, 'conv1.weight', 2, 3), 'bn1')));
  planes.forEach((_, i) => {
    for (let j = 0; j < 2; j++) {
      const k = `layer${i + 1}.${j}`, s = i > 0 && j === 0 ? 2 : 1;
      const y = bn(conv(relu(bn(conv(h, `${k}.conv1.weight`, s, 1), `${k}.bn1`)), `${k}.conv2.weight`, 1, 1), `${k}.bn2`);
      const idn = sd[`${k}.downsample.0.weight`] ? bn(conv(h, `${k}.downsample.0.weight`, s, 0), `${k}.downsample.1`) : h;
      h = relu(addT(y, idn));
    }
  });
  const [N, C, H, W] = h.shape;
  const pooled = Array.from({ length: N * C }, (_, p) => h.data.subarray(p * H * W, (p + 1) * H * W).reduce((a, b) => a + b, 0) / (H * W));
  const fw = T('fc.weight'), fb = T('fc.bias'), K = fw.shape[0];
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
    let s = fb.data[k];
    for (let c = 0; c < C; c++) s += fw.data[k * C + c] * pooled[n * C + c];
    out[n * K + k] = s;
  }
  return { shape: [N, K], dtype: 'float32', data: out };
}
