/**
 * U²-NetP end to end: training images/s (forward, 7-map BCE-with-logits, backward, Adam, all inside
 * tidy) at crop 64 batch 8 and at 288² batch 2, inference images/s at 320², peak GPU memory, and
 * dispatches per training step. (288² batch 4 needs a 170 MB stage1d concat, past lavapipe's 128 MiB
 * largest storage buffer, so the suite uses batch 2 there.)
 * Standalone: `npx tsx bench/suites/u2net.ts [--quick] [--profile] [--crop N] [--batch N]`;
 * `--profile` replays one training step dispatch by dispatch and prints GPU time per op kind.
 */
import { init, tidy, tensor, valueAndGrad, optim, tree, memory, type Tensor, type Device } from '../../src/node';
import { u2net, u2netLoss } from '../../src/models/u2net/model';
import { random } from '../../src/node';
import { recordDispatches, profileDispatches, formatProfile } from '../../src/kernels/webgpu/profile';
import type { BenchRow, Suite } from '../lib';
import type { Dispatch } from '../../src/kernels/webgpu/queue';

const model = u2net({ model: 'u2netp' });
const rand = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

export interface Trainer {
  step: () => void;
  dispose: () => void;
}

/** One U²-Net training step on fixed synthetic data: forward, 7-map BCE, backward, Adam, inside tidy. */
export function makeTrainer(batch: number, crop: number, net = model): Trainer {
  let { params, state } = net.init(random.key(0));
  const opt = optim.adam({ lr: 1e-3 });
  let optState = opt.init(params);
  const img = rand(batch * 3 * crop * crop, (i) => Math.sin(i * 0.37) * 0.5);
  const mask = rand(batch * crop * crop, (i) => (i % crop > crop / 3 && Math.floor(i / crop) % crop > crop / 3 ? 1 : 0));
  const lossFn = valueAndGrad(
    (p: any, st: any, x: Tensor, y: Tensor) => {
      const out = net.apply(p, st, x, { training: true });
      return [u2netLoss(out.logits, y), out.state];
    },
    { hasAux: true },
  );
  return {
    step() {
      const old = state;
      const r = tidy(() => {
        const x = tensor(img, { shape: [batch, 3, crop, crop] });
        const y = tensor(mask, { shape: [batch, 1, crop, crop] });
        const [[loss, st], grads] = lossFn(params, state, x, y);
        const u = opt.update(grads, optState, params, { donate: true });
        loss.dispose();
        return { state: st, params: u.params, optState: u.state };
      });
      tree.dispose(old);
      ({ params, state, optState } = r as any);
    },
    dispose() {
      tree.dispose([params, state, optState]);
    },
  };
}

/** Images/s of training, dispatches per step and peak bytes. */
async function trainRate(
  device: Device,
  batch: number,
  crop: number,
  steps: number,
): Promise<{ rate: number; dispatches: number; peak: number; hostMs: number; cpuPerImage: number }> {
  const t = makeTrainer(batch, crop);
  t.step();
  await device.sync(); // compile pipelines
  device.pool.resetPeak();
  const d0 = device.queue.dispatchCount;
  const h0 = performance.now();
  t.step();
  const hostMs = performance.now() - h0;
  const dispatches = device.queue.dispatchCount - d0;
  await device.sync();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) t.step();
  await device.sync();
  const s = (performance.now() - t0) / 1000 / steps;
  const c = process.cpuUsage(c0);
  const cpuPerImage = (c.user + c.system) / 1e6 / steps / batch;
  const peak = memory().peakBytes;
  t.dispose();
  return { rate: batch / s, dispatches, peak, hostMs, cpuPerImage };
}

async function forwardRate(device: Device, size: number, reps: number): Promise<number> {
  const { params, state } = model.init(random.key(1));
  const x = tensor(
    rand(3 * size * size, (i) => Math.cos(i * 0.11)),
    { shape: [1, 3, size, size] },
  );
  const run = () =>
    tidy(() => {
      model.apply(params, state, x, { training: false });
    });
  run();
  await device.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  await device.sync();
  const s = (performance.now() - t0) / 1000 / reps;
  tree.dispose([params, state, x]);
  return 1 / s;
}

export const u2netSuite: Suite = async ({ device, quick }) => {
  const rows: BenchRow[] = [];
  const a = await trainRate(device, 8, 64, quick ? 1 : 3);
  rows.push({
    suite: 'u2net',
    name: 'U²-NetP train step, crop 64, batch 8',
    metric: 'images/s',
    value: a.rate,
    note: `${a.dispatches} dispatches/step, host ${a.hostMs.toFixed(0)} ms/step, ${a.cpuPerImage.toFixed(2)} CPU-s/image (all threads; robust to other load)`,
  });
  rows.push({ suite: 'u2net', name: 'U²-NetP train peak memory, crop 64, batch 8', metric: 'MB', value: a.peak / 2 ** 20 });
  if (!quick) {
    const b = await trainRate(device, 2, 288, 1);
    rows.push({
      suite: 'u2net',
      name: 'U²-NetP train step, 288², batch 2',
      metric: 'images/s',
      value: b.rate,
      note: `${b.dispatches} dispatches/step, ${b.cpuPerImage.toFixed(2)} CPU-s/image`,
    });
    rows.push({ suite: 'u2net', name: 'U²-NetP train peak memory, 288², batch 2', metric: 'MB', value: b.peak / 2 ** 20 });
  }
  rows.push({ suite: 'u2net', name: 'U²-NetP forward, 320², batch 1', metric: 'images/s', value: await forwardRate(device, 320, quick ? 1 : 3) });
  return rows;
};

/** Per-op-kind GPU time of one training step (each dispatch replayed alone). */
export async function profileStep(device: Device, batch: number, crop: number, detail = false): Promise<string> {
  const t = makeTrainer(batch, crop);
  t.step();
  await device.sync();
  const { dispatches } = recordDispatches(device, () => t.step());
  await device.sync();
  const keyOf = (d: Dispatch) => {
    if (!detail || !d.uniforms) return d.name;
    const v = d.uniforms.values as Record<string, unknown>;
    return `${d.name} ${['N', 'C', 'H', 'W', 'O', 'OH', 'OW', 'kH', 'dH', 'G']
      .filter((k) => k in v)
      .map((k) => `${k}${v[k]}`)
      .join(' ')} wg${d.workgroups.join('x')}`;
  };
  const p = await profileDispatches(device, dispatches, 2, keyOf);
  t.dispose();
  return `per-op GPU time, one U²-NetP training step (crop ${crop}, batch ${batch}; empty submit ${p.overheadMs.toFixed(3)} ms subtracted)\n${formatProfile(p)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const opt = (n: string, d: number) => {
    const i = argv.indexOf(n);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  const device = await init();
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  if (argv.includes('--profile')) {
    console.log(await profileStep(device, opt('--batch', 8), opt('--crop', 64), argv.includes('--detail')));
  } else {
    for (const r of await u2netSuite({ device, quick: argv.includes('--quick') }))
      console.log(`${r.name.padEnd(46)} ${r.value.toFixed(2).padStart(9)} ${r.metric}  ${r.note ?? ''}`);
  }
  process.exit(0);
}
