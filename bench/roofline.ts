/**
 * The adapter's roof: the best FMA throughput and the best memory bandwidth that a plain WGSL kernel
 * reaches on it, measured with small kernels built by the library's shader builder and run through
 * `device.run` (so they pay what every webgrad kernel pays: the same queue, bind groups, pipelines).
 *
 * - FMA: each invocation keeps K independent vec4<f32> accumulators and applies `a = fma(a, m, c)` to
 *   each, `iters` times (m, c from the uniforms so nothing folds at compile time); 8 FLOP per vec4
 *   FMA. Independent chains hide the FMA latency; the best over K ∈ {4, 8, 16} and two workgroup sizes.
 * - Bandwidth: a vec4 copy (read + write) and a vec4 read-reduce (each invocation sums its share and
 *   writes one vec4), over buffers far larger than the CPU's caches; coalesced (invocation i reads
 *   i, i + n, …: adjacent invocations read adjacent vec4s) and chunked (each invocation reads one
 *   contiguous run). Best GB/s of the variants.
 * Times are wall clock over `reps` back-to-back dispatches after a compile run, best of `trials`.
 *
 * Standalone: `npx tsx bench/roofline.ts [--quick]`.
 */
import { init, zeros, type Device, type Tensor } from '../src/node';
import { kernel } from '../src/kernels/wgsl/builder';
import { UniformLayout } from '../src/kernels/webgpu/uniforms';
import type { Roof } from './roofline-math';

export interface RoofMeasurement extends Roof {
  /** Each variant's figure (GFLOP/s or GB/s), by name. */
  variants: Record<string, number>;
}

const fmaLayout = new UniformLayout([
  { name: 'iters', type: 'u32' },
  { name: 'm', type: 'f32' },
  { name: 'c', type: 'f32' },
]);

function fmaKernel(chains: number, wg: number) {
  return kernel('rooflineFma', { chains, wg }, ({ chains: k, wg: w }) => {
    const ids = Array.from({ length: k }, (_, j) => j);
    return {
      uniforms: fmaLayout,
      workgroupSize: w,
      storage: [{ name: 'out', type: 'vec4<f32>', access: 'read_write' }],
      body: `
  let i = gid.x;
  let m = vec4<f32>(p.m);
  let c = vec4<f32>(p.c);
  ${ids.map((j) => `var a${j} = vec4<f32>(f32(i) * 1e-7 + ${j}.0 * 1e-3, 0.25, 0.5, 0.75);`).join('\n  ')}
  for (var t = 0u; t < p.iters; t++) {
    ${ids.map((j) => `a${j} = fma(a${j}, m, c);`).join('\n    ')}
  }
  out[i] = ${ids.map((j) => `a${j}`).join(' + ')};`,
    };
  });
}

const moveLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'per', type: 'u32' },
]);

type MoveOp = 'copy' | 'reduce';
type MoveOrder = 'coalesced' | 'chunked';

function moveKernel(op: MoveOp, order: MoveOrder, wg: number) {
  return kernel('rooflineMove', { op, order, wg }, (v) => ({
    uniforms: moveLayout,
    workgroupSize: v.wg,
    storage: [
      { name: 'src', type: 'vec4<f32>' },
      { name: 'dst', type: 'vec4<f32>', access: 'read_write' },
    ],
    // thread i of n handles `per` vec4s: i, i + n, … (coalesced) or i·per … i·per + per − 1 (chunked)
    body: `
  let i = gid.x;
  var acc = vec4<f32>(0.0);
  for (var t = 0u; t < p.per; t++) {
    let j = ${v.order === 'coalesced' ? 'i + t * p.n' : 'i * p.per + t'};
    ${v.op === 'copy' ? 'dst[j] = src[j];' : 'acc += src[j];'}
  }
  ${v.op === 'reduce' ? 'dst[i] = acc;' : ''}`,
  }));
}

/** Best seconds per call of `dispatch` (reps back-to-back dispatches per trial, after one compile run). */
async function bestSeconds(device: Device, dispatch: () => void, reps: number, trials: number): Promise<number> {
  dispatch();
  await device.sync();
  let best = Infinity;
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) dispatch();
    await device.sync();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

/** Measures the FMA peak and the bandwidth of `device`; `quick` uses fewer, smaller runs. */
export async function measureRoof(device: Device, { quick = false } = {}): Promise<RoofMeasurement> {
  const variants: Record<string, number> = {};
  const trials = quick ? 2 : 4;

  // FMA: 16 Ki invocations (enough workgroups to fill every core)
  const threads = 16384;
  const out = zeros([threads * 4]);
  let flops = 0;
  for (const wg of [64, 256]) {
    for (const chains of [4, 8, 16]) {
      const k = fmaKernel(chains, wg);
      // about 0.5 GFLOP per dispatch
      const iters = Math.max(16, Math.round((quick ? 1.25e8 : 5e8) / (threads * chains * 8)));
      const run = () =>
        device.run('rooflineFma', k.key, k.source, [out.binding], [threads / wg, 1, 1], { layout: fmaLayout, values: { iters, m: 0.999999, c: 1e-6 } });
      const s = await bestSeconds(device, run, quick ? 1 : 2, trials);
      const rate = (threads * iters * chains * 8) / s;
      variants[`fma ${chains} chains, wg ${wg}`] = rate / 1e9;
      flops = Math.max(flops, rate);
    }
  }
  out.dispose();

  // bandwidth: 64 MiB source (16 MiB quick), 4 vec4s… per invocation
  const vec4s = (quick ? 16 : 64) * 2 ** 16; // × 16 bytes
  const src = zeros([vec4s * 4]);
  const dst = zeros([vec4s * 4]);
  let bytesPerSec = 0;
  const wg = 64;
  for (const op of ['copy', 'reduce'] as MoveOp[]) {
    for (const order of ['coalesced', 'chunked'] as MoveOrder[]) {
      const per = 16;
      const n = vec4s / per;
      const k = moveKernel(op, order, wg);
      const run = () => device.run('rooflineMove', k.key, k.source, [src.binding, dst.binding], [n / wg, 1, 1], { layout: moveLayout, values: { n, per } });
      const s = await bestSeconds(device, run, quick ? 2 : 4, trials);
      const bytes = vec4s * 16 * (op === 'copy' ? 2 : 1) + (op === 'reduce' ? n * 16 : 0);
      const rate = bytes / s;
      variants[`${op} vec4 ${order}`] = rate / 1e9;
      bytesPerSec = Math.max(bytesPerSec, rate);
    }
  }
  const free: Tensor[] = [src, dst];
  free.forEach((t) => t.dispose());
  return { flops, bytesPerSec, variants };
}

/** The better of two measurements, figure by figure (the roof is the best a kernel reached). */
export function bestRoof(a: RoofMeasurement, b: RoofMeasurement): RoofMeasurement {
  const variants: Record<string, number> = { ...a.variants };
  for (const [k, v] of Object.entries(b.variants)) variants[k] = Math.max(variants[k] ?? 0, v);
  return { flops: Math.max(a.flops, b.flops), bytesPerSec: Math.max(a.bytesPerSec, b.bytesPerSec), variants };
}

/** 'FMA peak 41.2 GFLOP/s (…), bandwidth 9.1 GB/s (…)' with every variant's figure. */
export function formatRoof(r: RoofMeasurement): string {
  const list = Object.entries(r.variants)
    .map(([k, v]) => `  ${k.padEnd(28)} ${v.toFixed(2).padStart(8)} ${k.startsWith('fma') ? 'GFLOP/s' : 'GB/s'}`)
    .join('\n');
  return `roof: FMA peak ${(r.flops / 1e9).toFixed(2)} GFLOP/s, memory bandwidth ${(r.bytesPerSec / 1e9).toFixed(2)} GB/s, ridge ${(r.flops / r.bytesPerSec).toFixed(1)} FLOP/byte\n${list}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  console.log(formatRoof(await measureRoof(device, { quick: process.argv.includes('--quick') })));
  process.exit(0);
}
