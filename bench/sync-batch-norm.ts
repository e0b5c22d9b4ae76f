/**
 * What synchronised BatchNorm costs: K = 2 replicas in one thread (one device each), a small ResNet (one block a
 * stage) forward + backward on 2 images of --size² each, with each replica's own BatchNorm statistics vs
 * syncBatchNorm (one all-reduce gate per BN layer forward and one backward). Median of --rounds alternating
 * runs after one warm-up each.
 *   npx tsx bench/sync-batch-norm.ts [--rounds 5] [--size 64]
 */
import { createDevice, random, sum, tensor, tidy, tree, valueAndGrad, type Tensor } from '../src/node';
import { resnet } from '../src/models/resnet';
import { inProcessGroup, syncBatchNorm } from '../src/parallel';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const rounds = arg('rounds', 5),
  size = arg('size', 64);
const devices = [await createDevice({ label: 'replica-0' }), await createDevice({ label: 'replica-1' })];
const model = resnet({ layers: [1, 1, 1, 1], numClasses: 10 });
const replicas = devices.map((device, r) => ({
  ...model.init(random.key(0), { device }),
  x: tensor(
    Float32Array.from({ length: 2 * 3 * size * size }, (_, i) => Math.sin(i * 0.37 + r)),
    { shape: [2, 3, size, size], device },
  ),
}));

/** One training step on both replicas: every replica recorded first, then the losses read. */
async function step(sync: boolean): Promise<void> {
  const group = inProcessGroup(2);
  const out = replicas.map((r, k) =>
    tidy(() => {
      const loss = (p: typeof r.params) => {
        const run = () => model.apply(p, r.state, r.x, { training: true });
        const o = sync ? syncBatchNorm(group[k], run) : run();
        tree.dispose(o.state);
        return sum(o.y);
      };
      return valueAndGrad(loss)(r.params) as [Tensor, unknown];
    }),
  );
  for (const [loss, grads] of out) {
    await loss.item();
    loss.dispose();
    tree.dispose(grads);
  }
}

const times: Record<'plain' | 'sync', number[]> = { plain: [], sync: [] };
await step(false);
await step(true);
for (let i = 0; i < rounds; i++) {
  for (const mode of ['plain', 'sync'] as const) {
    const t0 = performance.now();
    await step(mode === 'sync');
    times[mode].push(performance.now() - t0);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`K = 2 replicas in one thread, ResNet [1,1,1,1], 2×3×${size}² per replica, ${rounds} rounds`);
console.log('| BatchNorm | ms / step (median) |');
console.log('| --- | --- |');
for (const mode of ['plain', 'sync'] as const) console.log(`| ${mode === 'plain' ? 'per replica' : 'synchronised'} | ${median(times[mode]).toFixed(0)} |`);
for (const d of devices) d.destroy();
