/** The replica modules of train-u2net and finetune-resnet: settings through the module URL, the CLI's loss. */
import { describe, expect, it } from 'vitest';
import { add, crossEntropy, init, random, tensor, tidy, tree, type Tensor } from '../../src/node';
import { u2net, u2netLoss } from '../../src/models/u2net/model';
import { resnet } from '../../src/models/resnet';
import { moduleFile, replicaOptions, replicaUrl } from '../../src/cli/replicas/options';
import { U2NET_REPLICA_DEFAULTS, u2netReplica, u2netReplicaUrl } from '../../src/cli/replicas/u2net';
import { RESNET_REPLICA_DEFAULTS, resnetReplica, resnetReplicaUrl } from '../../src/cli/replicas/resnet';
import { spawnSync } from 'node:child_process';
import { root } from './run-cli';

const data = (n: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => scale * Math.sin(i * 0.37 + 1));

describe('replica options', () => {
  it('a module imported by URL (as a worker thread imports it) under Node reads its settings from the query', () => {
    // vitest drops an import's query (import.meta.url is the bare file), so this runs in plain Node with tsx
    const script = [
      `const u = await import(${JSON.stringify(u2netReplicaUrl({ lr: 0.25, fuseLrScale: 2 }).href)});`,
      `const r = await import(${JSON.stringify(resnetReplicaUrl({ lr: 0.5, numClasses: 3 }).href)});`,
      'console.log(JSON.stringify([u.settings.lr, u.settings.fuseLrScale, u.settings.model, r.settings.lr, r.settings.numClasses, typeof r.default.loss]));',
    ].join('\n');
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(out.stdout.trim()).toBe('[0.25,2,"u2netp",0.5,3,"function"]');
  }, 60_000);
  it('point at the TypeScript module from sources, and at its built entry beside the bundled CLI', () => {
    expect(moduleFile('file:///r/src/cli/replicas/u2net.ts?o=1', 'replica-u2net').href).toBe('file:///r/src/cli/replicas/u2net.ts');
    expect(moduleFile('file:///r/dist/cli.js', 'replica-u2net').href).toBe('file:///r/dist/replica-u2net.js');
    expect(moduleFile('file:///r/dist/replica-u2net.js?o=%7B%7D', 'replica-u2net').href).toBe('file:///r/dist/replica-u2net.js');
  });
  it('travel in the module URL, over the defaults; an unknown key is refused', () => {
    const url = replicaUrl(new URL('file:///x/m.ts'), { lr: 0.5, planes: [1, 2] });
    expect(replicaOptions(url.href, { lr: 1, planes: null as number[] | null, model: 'a' })).toEqual({ lr: 0.5, planes: [1, 2], model: 'a' });
    expect(replicaOptions('file:///x/m.ts', { lr: 1 })).toEqual({ lr: 1 });
    expect(() => replicaOptions(url.href, { lr: 1 })).toThrow("replica file:///x/m.ts: unknown setting 'planes'; known: lr");
  });
});

describe('replica modules', () => {
  it("U²-NetP: the module's loss is train-u2net's (sum of the 7 sides' BCE), its optimizer Adam with the fuse multiplier", async () => {
    await init();
    const r = u2netReplica({ ...U2NET_REPLICA_DEFAULTS, model: 'u2netp', lr: 0.002, fuseLrScale: 3 });
    const key = random.key(3);
    const { params, state } = r.init(key);
    const ref = u2net({ model: 'u2netp' });
    const image = tensor(data(2 * 3 * 32 * 32), { shape: [2, 3, 32, 32] });
    const mask = tensor(
      data(2 * 32 * 32).map((v) => (v > 0 ? 1 : 0)),
      { shape: [2, 1, 32, 32] },
    );
    const [loss] = tidy(() => r.loss(params, state, { image, mask }) as [Tensor, unknown]);
    const want = tidy(() => {
      const out = ref.apply(params, state, image, { training: true });
      return out.logits.map((l) => u2netLoss([l], mask)).reduce((a, b) => add(a, b));
    });
    expect(await loss.item()).toBeCloseTo(await want.item(), 5);
    const opt = r.optimizer();
    const os = opt.init(params);
    expect(opt.learningRate(os)).toBeCloseTo(0.002, 12);
    expect(opt.learningRate(os, 'outconv.weight')).toBeCloseTo(0.006, 12);
    tree.dispose([params, state, os.slots, loss, want, image, mask]);
  }, 60_000);

  it("ResNet: the module's loss is the example's cross-entropy; phase 1 freezes the backbone, phase 2 scales the head", async () => {
    await init();
    const settings = { planes: [4, 8, 8, 8], numClasses: 5, labelSmoothing: 0.1, lr: 0.1, stepSize: 2, gamma: 0.5, headLrScale: 10 };
    const r = resnetReplica({ ...RESNET_REPLICA_DEFAULTS, ...settings });
    const { params, state } = r.init(random.key(1));
    const ref = resnet({ model: 'resnet18', planes: [4, 8, 8, 8], numClasses: 5 });
    const image = tensor(data(3 * 3 * 32 * 32), { shape: [3, 3, 32, 32] });
    const label = tensor(Int32Array.from([0, 4, 2]), { shape: [3] });
    const [loss] = tidy(() => r.loss(params, state, { image, label }) as [Tensor, unknown]);
    const want = tidy(() => crossEntropy(ref.apply(params, state, image, { training: true }).y, label, { labelSmoothing: 0.1 }));
    expect(await loss.item()).toBeCloseTo(await want.item(), 5);
    const opt = r.optimizer();
    const os = opt.init(params);
    expect(opt.learningRate(os, 'fc.weight')).toBeCloseTo(1, 12);
    expect(opt.learningRate(os, 'conv1.weight')).toBeCloseTo(0.1, 12);
    const p1 = resnetReplica({ ...RESNET_REPLICA_DEFAULTS, ...settings, phase: 1 });
    const o1 = p1.optimizer();
    const s1 = o1.init(params);
    expect(Object.keys(s1.slots).some((k) => k.startsWith('conv1'))).toBe(false);
    tree.dispose([params, state, os.slots, s1.slots, loss, want, image, label]);
  }, 60_000);
});
