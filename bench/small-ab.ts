/**
 * Interleaved A/B of the issue-17 `small` workloads against TF.js WebGPU on the same adapter, in one process:
 * matmul 1024³ (each matmul variant named on the command line, or the autotuned choice), maxPool2d 2×2 ceil
 * [1,64,320,320] with indices, bilinear ×2 of [1,64,80,80]. Best of N rounds (the machine is shared).
 * `npx tsx bench/small-ab.ts [--rounds 5] [--only matmul|pool|resize|roof] [--roof] [--tb] [variant ...]`
 * (--tb: matmul with b transposed; --roof: the roof rows with --only)
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
const transB = args.includes('--tb');
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

/** `work`: FLOPs (matmul) or compulsory bytes (pool, resize), for the rate and the fraction of the roof. */
type Row = { name: string; ours: () => void; peer: () => void; iters: number; setup?: () => void; work?: { flops?: number; bytes?: number } };
const rows: Row[] = [];
// the roof, timed in the same rounds: independent vec4 FMA chains and a vec4 copy (as bench/small-roof.ts)
if (!only || only === 'roof' || args.includes('--roof')) {
  const { kernel } = await import('../src/kernels/wgsl/builder');
  const { UniformLayout } = await import('../src/kernels/webgpu/uniforms');
  const layout = new UniformLayout([{ name: 'n', type: 'u32' }]);
  const [CH, IT, WG, G] = [8, 256, 64, 2048];
  const fma = kernel('roof-fma', { CH, IT }, () => ({
    uniforms: layout,
    storage: [{ name: 'y', type: 'vec4<f32>', access: 'read_write' as const }],
    workgroupSize: WG,
    body: `
  let s = f32(gid.x) * 1e-7;
  ${Array.from({ length: CH }, (_, c) => `var c${c} = vec4<f32>(s + ${c}.0);`).join(' ')}
  let m = vec4<f32>(0.999, 0.998, 0.997, 0.996); let a = vec4<f32>(1e-3);
  for (var i = 0u; i < ${IT}u; i++) { ${Array.from({ length: CH }, (_, c) => `c${c} = fma(c${c}, m, a);`).join(' ')} }
  y[gid.x] = ${Array.from({ length: CH }, (_, c) => `c${c}`).join(' + ')};`,
  }));
  const N4 = (32 << 20) / 16;
  const copy = kernel('roof-copy', {}, () => ({
    uniforms: layout,
    storage: [
      { name: 'x', type: 'vec4<f32>' },
      { name: 'y', type: 'vec4<f32>', access: 'read_write' as const },
    ],
    workgroupSize: 256,
    grid: 'n',
    body: 'y[i] = x[i];',
  }));
  const yb = device.pool.acquire(WG * G * 16),
    xa = device.pool.acquire(N4 * 16),
    xb = device.pool.acquire(N4 * 16);
  const g = Math.ceil(N4 / 256);
  rows.push({
    name: 'roof: vec4 FMA chains',
    ours: () => device.run('roof-fma', fma.key, fma.source, [yb], [G, 1, 1], { layout, values: { n: 0 } }),
    peer: () => {},
    iters: 1,
    work: { flops: WG * G * IT * CH * 4 * 2 },
  });
  rows.push({
    name: 'roof: vec4 copy',
    ours: () => device.run('roof-copy', copy.key, copy.source, [xa, xb], [Math.min(g, 65535), Math.ceil(g / 65535), 1], { layout, values: { n: N4 } }),
    peer: () => {},
    iters: 2,
    work: { bytes: 2 * N4 * 16 },
  });
}
if (!only || only === 'matmul') {
  const a = full([1024, 1024], 0.5),
    b = full([1024, 1024], 0.25);
  const ta = tf.fill([1024, 1024], 0.5),
    tb = tf.fill([1024, 1024], 0.25);
  const tuned = await tuneMatmul(device, matmulProblem(a.shape, b.shape, { transB }));
  console.log(
    `autotune (1024³ class): ${tuned.variant}  ${JSON.stringify(Object.fromEntries(Object.entries(tuned.secondsPerRun).map(([k, v]) => [k, +(v * 1e3).toFixed(2)])))}`,
  );
  const peer = () => tf.tidy(() => tf.matMul(ta, tb, false, transB)).dispose();
  for (const v of variants.length ? variants : ['auto'])
    rows.push({
      name: `matmul 1024³${transB ? ' (b transposed)' : ''} ${v}`,
      setup: () => configureMatmul({ variant: v === 'auto' ? null : v }),
      ours: () => matmul(a, b, { transB }).dispose(),
      peer,
      iters: 1,
      work: { flops: 2 * 1024 ** 3 },
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
    work: { bytes: 4 * x.size * 1.5 },
    peer: () => tf.tidy(() => tf.maxPool(tx as TF.Tensor4D, 2, 2, 'same')).dispose(),
    iters: 20,
  });
  rows.push({
    name: 'maxPool2d 2x2 ceil [1,64,320,320] no idx',
    ours: () => tidy(() => void maxPool2d(x, { kernelSize: 2, ceilMode: true })),
    work: { bytes: 4 * x.size * 1.5 },
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
    work: { bytes: 4 * x.size * 5 },
    peer: () => tf.tidy(() => tf.image.resizeBilinear(tx as TF.Tensor4D, [160, 160], false, true)).dispose(),
    iters: 20,
  });
}
const best = rows.map(() => ({ ours: Infinity, peer: Infinity, oursCpu: Infinity, peerCpu: Infinity }));
for (const r of rows) {
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
// rates per CPU-second of this process (lavapipe's threads run here), so the roof fractions hold under load too
const roofFlops = rows.flatMap((r, i) => (r.work?.flops && r.name.startsWith('roof') ? [r.work.flops / best[i].oursCpu] : []))[0];
const roofBytes = rows.flatMap((r, i) => (r.work?.bytes && r.name.startsWith('roof') ? [r.work.bytes / best[i].oursCpu] : []))[0];
for (const [i, r] of rows.entries()) {
  const b = best[i];
  const rate = r.work?.flops ? r.work.flops / b.oursCpu / 1e6 : r.work?.bytes ? r.work.bytes / b.oursCpu / 1e6 : NaN;
  const roof = r.work?.flops ? roofFlops : roofBytes;
  const frac = roof ? ` ${((100 * rate * 1e6) / roof).toFixed(0)}% of roof` : '';
  const unit = r.work?.flops ? 'GFLOP/cpu-s' : 'GB/cpu-s';
  const peer = r.name.startsWith('roof')
    ? ''
    : ` tfjs ${b.peer.toFixed(2).padStart(8)} ms ×${(b.peer / b.ours).toFixed(2)}   cpu: ours ${b.oursCpu.toFixed(1).padStart(7)} ms tfjs ${b.peerCpu.toFixed(1).padStart(7)} ms ×${(b.peerCpu / b.oursCpu).toFixed(2)}`;
  console.log(`${r.name.padEnd(42)} wall: ours ${b.ours.toFixed(2).padStart(8)} ms${peer}  [${rate.toFixed(2)} ${unit}${frac}]`);
}
process.exit(0);
