/**
 * Vision ops throughput (GB/s of compulsory traffic: every input read once, every output written once)
 * and time per call: maxPool2d 2×2 ceil on [1,64,320,320], bilinear ×2 of [1,64,80,80], batchNorm
 * training forward on [4,64,80,80] (statistics + apply).
 * maxPool2d and interpolate run TF.js WebGPU on the same adapter as the peer (`--no-peer` skips it).
 * Standalone: `npx tsx bench/suites/vision.ts [--quick] [--no-peer]`.
 */
import type * as TF from '@tensorflow/tfjs';
import { init, tidy, tensor, maxPool2d, interpolate, batchNorm, type Tensor } from '../../src/node';
import { syncByReadBack, timeIt, type BenchRow, type Suite } from '../lib';
import { initTfjsWebGPU, timeTfjs, type Tfjs } from '../peers/tfjs';

const randn = (shape: number[]) =>
  tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.random() * 2 - 1),
    { shape },
  );

interface Case {
  name: string;
  shape: number[];
  bytes: (x: Tensor) => number;
  run: (x: Tensor, stats: Tensor[]) => void;
  /** The same work in TF.js (NHWC input of the same size), when it has the op. */
  peer?: (tf: Tfjs, x: TF.Tensor4D) => TF.Tensor;
}

const CASES: Case[] = [
  {
    name: 'maxPool2d 2x2 ceil [1,64,320,320]',
    shape: [1, 64, 320, 320],
    // read x, write values and int32 indices (the backward pass needs them)
    bytes: (x) => x.size * 4 + 2 * (x.size / 4) * 4,
    run: (x) => {
      maxPool2d(x, { kernelSize: 2, ceilMode: true, returnIndices: true });
    },
    // 'same' padding gives the ceil-mode size; TF.js computes no indices
    peer: (tf, x) => tf.maxPool(x, 2, 2, 'same'),
  },
  {
    name: 'interpolate bilinear x2 [1,64,80,80]',
    shape: [1, 64, 80, 80],
    bytes: (x) => x.size * 4 + x.size * 4 * 4,
    run: (x) => {
      interpolate(x, { scaleFactor: 2, mode: 'bilinear' });
    },
    // halfPixelCenters: PyTorch's alignCorners=false rule
    peer: (tf, x) => tf.image.resizeBilinear(x, [2 * x.shape[1], 2 * x.shape[2]], false, true),
  },
  {
    name: 'batchNorm train fwd [4,64,80,80]',
    shape: [4, 64, 80, 80],
    bytes: (x) => 2 * x.size * 4,
    run: (x, [rm, rv, w, b]) => {
      batchNorm(x, rm, rv, w, b, { training: true });
    },
  },
];

export const visionSuite: Suite = async ({ quick }) => {
  const rows: BenchRow[] = [];
  const opts = quick ? { warmup: 1, iters: 1, repeats: 1 } : { warmup: 2, iters: 5, repeats: 3 };
  const sync = syncByReadBack;
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
  for (const c of CASES) {
    const x = randn(c.shape);
    const C = c.shape[1];
    const stats = [tensor(new Float32Array(C)), tensor(new Float32Array(C).fill(1)), randn([C]), randn([C])];
    const s = await timeIt(
      () => {
        tidy(() => c.run(x, stats));
      },
      sync,
      opts,
    );
    let peer: BenchRow['peer'];
    if (c.peer && tf) {
      const [n, ch, h, w] = c.shape;
      const tx = tf.randomUniform([n, h, w, ch], -1, 1) as TF.Tensor4D;
      const ps = await timeTfjs(tf, () => c.peer!(tf!, tx), opts);
      tx.dispose();
      peer = { name: 'tfjs-webgpu', value: c.bytes(x) / ps / 1e9 };
    } else if (c.peer) peer = { name: 'tfjs-webgpu', missing: peerMissing };
    rows.push({ suite: 'vision', name: c.name, metric: 'GB/s', value: c.bytes(x) / s / 1e9, peer, note: `${(s * 1e3).toFixed(3)} ms/call` });
    x.dispose();
    stats.forEach((t) => t.dispose());
  }
  return rows;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  const rows = await visionSuite({ device, quick: process.argv.includes('--quick') });
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  for (const r of rows) {
    const p =
      r.peer && 'value' in r.peer
        ? `  ${r.peer.name} ${r.peer.value.toFixed(2)} (×${(r.value / r.peer.value).toFixed(2)})`
        : r.peer
          ? `  ${r.peer.name}: ${r.peer.missing}`
          : '';
    console.log(`${r.name.padEnd(40)} ${r.value.toFixed(2).padStart(9)} ${r.metric}  ${r.note}${p}`);
  }
  process.exit(0);
}
