/** ResNet: torchvision parameter counts and keys, shapes, loading a torchvision-layout state_dict, transfer-learning groups. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tree, random, tidy, tensor, rand, optim, valueAndGrad, crossEntropy, saveSafetensors, savePth, type Tensor } from '../../src/node';
import { readZipDirectory } from '../../src/formats/zip';
import { resnet, isResNetHead, type ResNetName } from '../../src/models/resnet';
import { loadInitialWeights } from '../../src/io/load-weights';
import { refConv2d } from '../../src/tensor/ops/ref/conv';
import type { RefTensor } from '../../src/tensor/ops/define';
import { stateDict, readPth, HostTensor, type PthView } from '../../src/formats';

const count = (params: unknown) => tree.tensors(params).reduce((s, t) => s + t.size, 0);

/**
 * torchvision's parameter count by formula (independent of the model code): stem 7×7 conv + BN, per block
 * its convs + BNs (+ projection), fc. Basic: 3×3 (cin→p), 3×3 (p→p); bottleneck: 1×1, 3×3, 1×1 (width = p).
 */
function torchvisionCount(block: 'basic' | 'bottleneck', layers: number[], classes = 1000): number {
  const e = block === 'basic' ? 1 : 4;
  let n = 3 * 64 * 49 + 2 * 64,
    cin = 64;
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
      ['resnet18', 11_689_512, 'basic', [2, 2, 2, 2]],
      ['resnet34', 21_797_672, 'basic', [3, 4, 6, 3]],
      ['resnet50', 25_557_032, 'bottleneck', [3, 4, 6, 3]],
      ['resnet101', 44_549_160, 'bottleneck', [3, 4, 23, 3]],
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
    for (const k of [
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'layer1.0.conv1.weight',
      'layer1.0.conv3.weight',
      'layer1.0.bn3.bias',
      'layer1.0.downsample.0.weight',
      'layer1.0.downsample.1.weight',
      'layer3.5.conv2.weight',
      'layer4.2.bn3.weight',
      'fc.weight',
      'fc.bias',
    ]) {
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
    const { sd, rnd } = torchvisionStateDict(planes, 5);
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
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('loads a torch-format .pth (torchvision layout, shared and strided storages, int64 counters) by key', async () => {
    const planes: [number, number, number, number] = [4, 6, 8, 8];
    const m = resnet({ model: 'resnet18', planes, numClasses: 5 });
    const { sd, rnd } = torchvisionStateDict(planes, 5);
    // what torch.save writes for a torchvision model after `.to(memory_format=torch.channels_last)` and
    // with BatchNorm statistics living in one buffer: conv weights as NHWC storages with permuted strides,
    // each BN's running_mean and running_var two views (offsets 0 and C) of one storage, fc.weight a
    // transposed view, num_batches_tracked a LongStorage
    const file: Record<string, HostTensor | PthView> = {};
    for (const [k, t] of Object.entries(sd)) {
      const [O, I, H, W] = t.shape;
      if (k.endsWith('conv1.weight') || k.endsWith('conv2.weight') || k.endsWith('downsample.0.weight')) {
        const nhwc = new Float32Array(t.size);
        const src = t.data as Float32Array;
        for (let o = 0; o < O; o++)
          for (let i = 0; i < I; i++)
            for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) nhwc[((o * H + h) * W + w) * I + i] = src[((o * I + i) * H + h) * W + w];
        file[k] = { storage: { dtype: 'float32', data: nhwc }, offset: 0, shape: [O, I, H, W], stride: [H * W * I, 1, W * I, I] };
      } else if (k.endsWith('running_mean')) {
        const base = k.slice(0, -'running_mean'.length),
          C = t.size;
        const both = new Float32Array(2 * C);
        both.set(t.data as Float32Array, 0);
        both.set(sd[`${base}running_var`].data as Float32Array, C);
        const storage = { dtype: 'float32' as const, data: both };
        file[k] = { storage, offset: 0, shape: [C], stride: [1] };
        file[`${base}running_var`] = { storage, offset: C, shape: [C], stride: [1] };
      } else if (k === 'fc.weight') {
        const tr = new Float32Array(t.size);
        for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) tr[i * O + o] = (t.data as Float32Array)[o * I + i];
        file[k] = { storage: { dtype: 'float32', data: tr }, offset: 0, shape: [O, I], stride: [1, O] };
      } else if (!k.endsWith('running_var')) file[k] = t;
    }
    expect(Object.keys(file).sort()).toEqual(Object.keys(sd).sort());
    const dir = mkdtempSync(join(tmpdir(), 'resnet-'));
    try {
      const path = join(dir, 'resnet18-tv.pth');
      await savePth(path, file);
      const onDisk = (await readPth(new Uint8Array(readFileSync(path)))) as Record<string, HostTensor>;
      expect(onDisk['layer1.0.bn1.num_batches_tracked'].dtype).toBe('int64');
      // BN statistics share a storage: fewer storages in the archive than tensors
      const stored = [...readZipDirectory(new Uint8Array(readFileSync(path))).keys()].filter((n) => n.includes('/data/'));
      expect(stored.length).toBe(Object.keys(sd).length - 20);
      const fresh = m.init(random.key(0));
      const { params, state, missing, unexpected } = await loadInitialWeights(path, fresh.params, fresh.state);
      expect(missing).toEqual([]);
      expect(unexpected).toEqual([]);
      // values land on their keys
      const flat = Object.fromEntries([...tree.flatten(params), ...tree.flatten(state)].map((l) => [l.path, l.value as Tensor]));
      for (const k of [
        'conv1.weight',
        'layer2.0.downsample.0.weight',
        'layer3.1.conv2.weight',
        'layer4.0.bn2.running_mean',
        'layer4.0.bn2.running_var',
        'bn1.running_var',
        'fc.weight',
        'fc.bias',
        'layer2.0.downsample.1.bias',
      ]) {
        expect(Array.from(await flat[k].data()), k).toEqual(Array.from(sd[k].data as Float32Array));
      }
      expect(flat['layer3.0.downsample.1.num_batches_tracked'].dtype).toBe('int32');
      expect(await flat['layer3.0.downsample.1.num_batches_tracked'].item()).toBe(7);
      const input = Float32Array.from({ length: 2 * 3 * 40 * 40 }, () => rnd() * 2);
      const y = tidy(() => m.apply(params, state, tensor(input, { shape: [2, 3, 40, 40] }), { training: false }).y);
      const got = await y.data();
      const want = referenceForward(sd, planes, { shape: [2, 3, 40, 40], dtype: 'float32', data: Float64Array.from(input) });
      const scale = Math.max(...want.data.map(Math.abs));
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want.data[i])).toBeLessThan(1e-4 * scale + 1e-5);
      tree.dispose([params, state, y]);

      // a checkpoint with another head: the error names the key, the shape in the file and the model's
      const m10 = resnet({ model: 'resnet18', planes, numClasses: 10 });
      const p10 = m10.init(random.key(1));
      const err = await loadInitialWeights(path, p10.params, p10.state).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/shape of fc\.weight: file \[5, 8\], model \[10, 8\]/);
      expect(err?.message).toMatch(/shape of fc\.bias: file \[5\], model \[10\]/);
      expect(err?.message).toMatch(/2 of another shape/);
      expect(tree.tensors(p10).every((t) => !t.isDisposed)).toBe(true); // a failed load leaves the model as it was
      tree.dispose(p10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a full-size ResNet-18 round-trips through savePth in torchvision order and gives the same logits', async () => {
    const m = resnet({ model: 'resnet18' });
    const a = m.init(random.key(11));
    // one training step so BN statistics and counters differ from their init
    const st = tidy(() => m.apply(a.params, a.state, rand(random.key(12), [2, 3, 32, 32]), { training: true }).state);
    tree.dispose(a.state);
    const sd = stateDict(a.params, st);
    const keys = Object.keys(sd);
    expect(keys.slice(0, 8)).toEqual([
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
      'layer1.0.conv1.weight',
      'layer1.0.bn1.weight',
    ]);
    expect(keys.slice(-2)).toEqual(['fc.weight', 'fc.bias']);
    expect(keys).toHaveLength(122); // torchvision's resnet18().state_dict() has 122 entries
    const dir = mkdtempSync(join(tmpdir(), 'resnet-'));
    try {
      const path = join(dir, 'resnet18.pth');
      await savePth(path, sd);
      const b = m.init(random.key(13));
      const loaded = await loadInitialWeights(path, b.params, b.state);
      const x = rand(random.key(14), [1, 3, 64, 64]);
      const [ya, yb] = tidy(() => [m.apply(a.params, st, x, { training: false }).y, m.apply(loaded.params, loaded.state, x, { training: false }).y]);
      expect(Array.from(await yb.data())).toEqual(Array.from(await ya.data()));
      expect(await (loaded.state as any).bn1.num_batches_tracked.item()).toBe(1);
      tree.dispose([a.params, st, loaded.params, loaded.state, x, ya, yb]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('frozen backbone: no update, no optimizer state; the head gets lr × lrScale', async () => {
    const m = resnet({ model: 'resnet18', planes: [4, 4, 8, 8], numClasses: 3 });
    const { params, state } = m.init(random.key(4));
    const opt = optim.sgd({
      lr: 0.1,
      groups: [
        { match: isResNetHead, lrScale: 10 },
        { match: () => true, frozen: true },
      ],
    });
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
    const flatOld = tree.flatten(params),
      flatNew = tree.flatten(r.u.params);
    flatOld.forEach((l, i) => {
      if (!isResNetHead(l.path)) expect(flatNew[i].value).toBe(l.value);
    });
    expect(Object.keys(r.u.state.slots).sort()).toEqual(['fc.bias', 'fc.weight']);
    const [w0, g, w1] = (await Promise.all([(params.fc as any).weight.data(), r.g.data(), (r.u.params as any).fc.weight.data()])).map((a) =>
      Array.from(a as Float32Array, Number),
    );
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

/** A ResNet-18 state_dict written by hand in torchvision's layout (keys, shapes, int64 counters), seeded. */
function torchvisionStateDict(planes: number[], classes: number) {
  const sd: Record<string, HostTensor> = {};
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31 - 0.5;
  };
  const put = (k: string, shape: number[], f: () => number = rnd) => {
    sd[k] = new HostTensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f));
  };
  const bn = (k: string, c: number) => {
    put(`${k}.weight`, [c], () => 1 + rnd());
    put(`${k}.bias`, [c]);
    put(`${k}.running_mean`, [c], () => rnd() * 0.2);
    put(`${k}.running_var`, [c], () => 0.5 + rnd() + 0.5);
    sd[`${k}.num_batches_tracked`] = new HostTensor('int64', [], BigInt64Array.of(7n));
  };
  put('conv1.weight', [planes[0], 3, 7, 7]);
  bn('bn1', planes[0]);
  let cin = planes[0];
  planes.forEach((p, i) => {
    for (let j = 0; j < 2; j++) {
      const k = `layer${i + 1}.${j}`;
      put(`${k}.conv1.weight`, [p, j ? p : cin, 3, 3]);
      bn(`${k}.bn1`, p);
      put(`${k}.conv2.weight`, [p, p, 3, 3]);
      bn(`${k}.bn2`, p);
      if (j === 0 && (i > 0 || cin !== p)) {
        put(`${k}.downsample.0.weight`, [p, cin, 1, 1]);
        bn(`${k}.downsample.1`, p);
      }
    }
    cin = p;
  });
  put('fc.weight', [classes, planes[3]]);
  put('fc.bias', [classes]);
  return { sd, rnd };
}

// ---- an independent float64 forward over the state_dict itself (ResNet-18 eval) ----------------

function referenceForward(sd: Record<string, HostTensor>, planes: number[], x: RefTensor): RefTensor {
  const T = (k: string): RefTensor => ({ shape: [...sd[k].shape], dtype: 'float32', data: Float64Array.from(sd[k].data as Float32Array) });
  const conv = (h: RefTensor, k: string, stride: number, pad: number) =>
    refConv2d(h, T(k), undefined, { stride: [stride, stride], padding: [pad, pad, pad, pad], dilation: [1, 1], groups: 1 });
  const bn = (h: RefTensor, k: string) => {
    const [N, C, H, W] = h.shape,
      w = T(`${k}.weight`).data,
      b = T(`${k}.bias`).data,
      m = T(`${k}.running_mean`).data,
      v = T(`${k}.running_var`).data;
    const data = h.data.map((val, i) => {
      const c = Math.floor(i / (H * W)) % C;
      return ((val - m[c]) / Math.sqrt(v[c] + 1e-5)) * w[c] + b[c];
    });
    return { ...h, shape: [N, C, H, W], data };
  };
  const relu = (h: RefTensor) => ({ ...h, data: h.data.map((v) => Math.max(v, 0)) });
  const addT = (a: RefTensor, b: RefTensor) => ({ ...a, data: a.data.map((v, i) => v + b.data[i]) });
  const maxpool = (h: RefTensor) => {
    // 3×3, stride 2, padding 1 (padding never wins)
    const [N, C, H, W] = h.shape,
      OH = Math.floor((H - 1) / 2) + 1,
      OW = Math.floor((W - 1) / 2) + 1;
    const data = new Float64Array(N * C * OH * OW).fill(-Infinity);
    for (let p = 0; p < N * C; p++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++)
          for (let u = -1; u <= 1; u++)
            for (let v = -1; v <= 1; v++) {
              const r = 2 * i + u,
                c = 2 * j + v;
              if (r >= 0 && r < H && c >= 0 && c < W) data[(p * OH + i) * OW + j] = Math.max(data[(p * OH + i) * OW + j], h.data[(p * H + r) * W + c]);
            }
    return { ...h, shape: [N, C, OH, OW], data };
  };
  let h = maxpool(relu(bn(conv(x, 'conv1.weight', 2, 3), 'bn1')));
  planes.forEach((_, i) => {
    for (let j = 0; j < 2; j++) {
      const k = `layer${i + 1}.${j}`,
        s = i > 0 && j === 0 ? 2 : 1;
      const y = bn(conv(relu(bn(conv(h, `${k}.conv1.weight`, s, 1), `${k}.bn1`)), `${k}.conv2.weight`, 1, 1), `${k}.bn2`);
      const idn = sd[`${k}.downsample.0.weight`] ? bn(conv(h, `${k}.downsample.0.weight`, s, 0), `${k}.downsample.1`) : h;
      h = relu(addT(y, idn));
    }
  });
  const [N, C, H, W] = h.shape;
  const pooled = Array.from({ length: N * C }, (_, p) => h.data.subarray(p * H * W, (p + 1) * H * W).reduce((a, b) => a + b, 0) / (H * W));
  const fw = T('fc.weight'),
    fb = T('fc.bias'),
    K = fw.shape[0];
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      let s = fb.data[k];
      for (let c = 0; c < C; c++) s += fw.data[k * C + c] * pooled[n * C + c];
      out[n * K + k] = s;
    }
  return { shape: [N, K], dtype: 'float32', data: out };
}
