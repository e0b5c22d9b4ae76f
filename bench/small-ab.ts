/**
 * Interleaved A/B of the issue-17 `small` workloads against TF.js WebGPU on the same adapter, in one process:
 * matmul 1024³ (each matmul variant named on the command line, or the autotuned choice), maxPool2d 2×2 ceil
 * [1,64,320,320] with indices, bilinear ×2 of [1,64,80,80]. Best of N rounds (the machine is shared).
 * `npx tsx bench/small-ab.ts [--rounds 5] [--only matmul|pool|resize] [variant ...]`
 */
import { init, full, matmul, maxPool2d, interpolate, tidy, configureMatmul, tensor } from '../src/node';
import { tuneMatmul } from '../src/kernels/wgsl/matmul-autotune';
import { matmulProblem } from '../src/tensor/ops/matmul';
import type * as TF from '@tensorflow/tfjs';
import { initTfjsWebGPU, syncTfjs } from './peers/tfjs';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : d;
};
const rounds = Number(opt('--rounds', '5'));
const only = opt('--only', '');
const variants = args.filter((a) => !a.startsWith('--'));
const device = await init();
const tf = await initTfjsWebGPU();

/** Wall ms and process CPU ms per call (lavapipe runs in this process: CPU time is the work done, far less noisy on a shared machine). */
async function time(f: () => void, sync: () => Promise<void>, iters: number): Promise<[number, number]> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) f();
  await sync();
  const c = process.cpuUsage(c0);
  return [(performance.now() - t0) / iters, (c.user + c.system) / 1000 / iters];
}
const syncOurs = () => device.sync();
const syncTf = () => syncTfjs(tf);

type Row = { name: string; ours: () => void; peer: () => void; iters: number; setup?: () => void };
const rows: Row[] = [];
if (!only || only === 'matmul') {
  const a = full([1024, 1024], 0.5),
    b = full([1024, 1024], 0.25);
  const ta = tf.fill([1024, 1024], 0.5),
    tb = tf.fill([1024, 1024], 0.25);
  const tuned = await tuneMatmul(device, matmulProblem(a.shape, b.shape, {}));
  console.log(
    `autotune (1024³ class): ${tuned.variant}  ${JSON.stringify(Object.fromEntries(Object.entries(tuned.secondsPerRun).map(([k, v]) => [k, +(v * 1e3).toFixed(2)])))}`,
  );
  const peer = () => tf.tidy(() => tf.matMul(ta, tb)).dispose();
  for (const v of variants.length ? variants : ['auto'])
    rows.push({
      name: `matmul 1024³ ${v}`,
      setup: () => configureMatmul({ variant: v === 'auto' ? null : v }),
      ours: () => matmul(a, b).dispose(),
      peer,
      iters: 1,
    });
}
if (!only || only === 'pool') {
  const x = tensor(
    Float32Array.from({ length: 64 * 320 * 320 }, () => Math.random() * 2 - 1),
    { shape: [1, 64, 320, 320] },
  );
  const tx = tf.randomUniform([1, 320, 320, 64], -1, 1); // TF.js is NHWC
  rows.push({
    name: 'maxPool2d 2x2 ceil [1,64,320,320] +idx',
    ours: () => tidy(() => void maxPool2d(x, { kernelSize: 2, ceilMode: true, returnIndices: true })),
    peer: () => tf.tidy(() => tf.maxPool(tx as TF.Tensor4D, 2, 2, 'same')).dispose(),
    iters: 20,
  });
  rows.push({
    name: 'maxPool2d 2x2 ceil [1,64,320,320] no idx',
    ours: () => tidy(() => void maxPool2d(x, { kernelSize: 2, ceilMode: true })),
    peer: () => tf.tidy(() => tf.maxPool(tx as TF.Tensor4D, 2, 2, 'same')).dispose(),
    iters: 20,
  });
}
if (!only || only === 'resize') {
  const x = tensor(
    Float32Array.from({ length: 64 * 80 * 80 }, () => Math.random() * 2 - 1),
    { shape: [1, 64, 80, 80] },
  );
  const tx = tf.randomUniform([1, 80, 80, 64], -1, 1);
  rows.push({
    name: 'interpolate bilinear x2 [1,64,80,80]',
    ours: () => tidy(() => void interpolate(x, { scaleFactor: 2, mode: 'bilinear' })),
    peer: () => tf.tidy(() => tf.image.resizeBilinear(tx as TF.Tensor4D, [160, 160], false, true)).dispose(),
    iters: 20,
  });
}
const best = rows.map(() => ({ ours: Infinity, peer: Infinity, oursCpu: Infinity, peerCpu: Infinity }));
for (const [i, r] of rows.entries()) {
  r.setup?.();
  r.ours();
  await syncOurs();
  r.peer();
  await syncTf();
}
for (let k = 0; k < rounds; k++)
  for (const [i, r] of rows.entries()) {
    r.setup?.();
    const [ow, oc] = await time(r.ours, syncOurs, r.iters);
    const [pw, pc] = await time(r.peer, syncTf, r.iters);
    const b = best[i];
    [b.ours, b.oursCpu, b.peer, b.peerCpu] = [Math.min(b.ours, ow), Math.min(b.oursCpu, oc), Math.min(b.peer, pw), Math.min(b.peerCpu, pc)];
  }
configureMatmul({ variant: null });
for (const [i, r] of rows.entries())
  console.log(
    `${r.name.padEnd(44)} wall: ours ${best[i].ours.toFixed(2).padStart(8)} ms tfjs ${best[i].peer.toFixed(2).padStart(8)} ms ×${(best[i].peer / best[i].ours).toFixed(2)}` +
      `   cpu: ours ${best[i].oursCpu.toFixed(1).padStart(8)} ms tfjs ${best[i].peerCpu.toFixed(1).padStart(8)} ms ×${(best[i].peerCpu / best[i].oursCpu).toFixed(2)}`,
  );
process.exit(0);
