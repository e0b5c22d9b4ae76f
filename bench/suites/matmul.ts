/**
 * matmul GFLOP/s: square sizes, batched shapes, a transposed-B (linear-style) case; the variant
 * autotune picked for each; TF.js WebGPU on the same adapter as the peer.
 * Standalone: `npx tsx bench/suites/matmul.ts [--quick] [--no-peer]`.
 */
import { pathToFileURL } from 'node:url';
import { matmul, full } from '../../src/node';
import { matmulProblem } from '../../src/tensor/ops/matmul';
import { tuneMatmul } from '../../src/kernels/wgsl/matmul-autotune';
import { timeIt, type BenchRow, type Suite } from '../lib';
import { initTfjsWebGPU, timeTfjs, type Tfjs } from '../peers/tfjs';

interface Shape {
  batch: number;
  m: number;
  k: number;
  n: number;
  transB?: boolean;
  quick: boolean;
}

const SHAPES: Shape[] = [
  { batch: 1, m: 256, k: 256, n: 256, quick: true },
  { batch: 1, m: 512, k: 512, n: 512, quick: true },
  { batch: 1, m: 1024, k: 1024, n: 1024, quick: false },
  { batch: 1, m: 2048, k: 2048, n: 2048, quick: false },
  { batch: 32, m: 128, k: 128, n: 128, quick: true },
  { batch: 8, m: 512, k: 64, n: 512, quick: false },
  { batch: 1, m: 1024, k: 1024, n: 1024, transB: true, quick: false },
  { batch: 1, m: 512, k: 512, n: 512, transB: true, quick: true },
];

const label = (s: Shape) => `matmul ${s.batch > 1 ? `${s.batch}×` : ''}${s.m}×${s.k}×${s.n}${s.transB ? ' (b transposed)' : ''}`;

/** Iterations scaled to the work so one measurement stays around a second on lavapipe. */
function plan(flops: number, quick: boolean) {
  const iters = Math.max(1, Math.min(10, Math.round(2e9 / flops)));
  return quick ? { warmup: 1, iters: Math.max(1, Math.round(iters / 2)), repeats: 1 } : { warmup: 1, iters, repeats: 3 };
}

export const matmulSuite: Suite = async ({ device, quick }) => {
  const rows: BenchRow[] = [];
  const noPeer = typeof process !== 'undefined' && process.argv.includes('--no-peer');
  let tf: Tfjs | null = null;
  let peerMissing = noPeer ? 'disabled (--no-peer)' : '';
  if (!noPeer) {
    try {
      tf = await initTfjsWebGPU();
    } catch (e) {
      peerMissing = `TF.js WebGPU unavailable: ${(e as Error).message}`;
    }
  }
  for (const s of SHAPES) {
    if (quick && !s.quick) continue;
    const flops = 2 * s.batch * s.m * s.n * s.k;
    const aShape = s.batch > 1 ? [s.batch, s.m, s.k] : [s.m, s.k];
    const bShape = s.transB ? [s.n, s.k] : s.batch > 1 ? [s.batch, s.k, s.n] : [s.k, s.n];
    const a = full(aShape, 0.5),
      b = full(bShape, 0.25);
    const attrs = { transB: s.transB ?? false };
    const tuned = await tuneMatmul(device, matmulProblem(a.shape, b.shape, attrs));
    const opts = plan(flops, quick);
    const secs = await timeIt(
      () => {
        matmul(a, b, attrs).dispose();
      },
      () => device.sync(),
      opts,
    );
    a.dispose();
    b.dispose();
    let peer: BenchRow['peer'] = { name: 'tfjs-webgpu', missing: peerMissing };
    if (tf) {
      const ta = tf.fill(aShape, 0.5),
        tb = tf.fill(bShape, 0.25);
      const ps = await timeTfjs(tf, () => tf!.matMul(ta, tb, false, s.transB ?? false), opts);
      ta.dispose();
      tb.dispose();
      peer = { name: 'tfjs-webgpu', value: flops / ps / 1e9 };
    }
    const times = Object.entries(tuned.secondsPerRun)
      .map(([v, t]) => `${v} ${(t * 1e3).toFixed(2)}ms`)
      .join(', ');
    rows.push({
      suite: 'matmul',
      name: label(s),
      metric: 'GFLOP/s',
      value: flops / secs / 1e9,
      peer,
      note: `autotune picked ${tuned.variant} (proxy runs: ${times})`,
    });
  }
  return rows;
};

// standalone: npx tsx bench/suites/matmul.ts [--quick] [--no-peer]
if (typeof process !== 'undefined' && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { init } = await import('../../src/node');
  const device = await init();
  const rows = await matmulSuite({ device, quick: process.argv.includes('--quick') });
  for (const r of rows) {
    const p =
      r.peer && 'value' in r.peer
        ? `${r.peer.name} ${r.peer.value.toFixed(2)} (×${(r.value / r.peer.value).toFixed(2)})`
        : r.peer
          ? `${r.peer.name}: ${r.peer.missing}`
          : '';
    console.log(`${r.name.padEnd(34)} ${r.value.toFixed(2).padStart(8)} ${r.metric}   peer ${p}\n    ${r.note ?? ''}`);
  }
  process.exit(0);
}
