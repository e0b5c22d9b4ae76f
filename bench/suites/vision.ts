/**
 * Vision ops throughput (GB/s of compulsory traffic: every input read once, every output written once)
 * and time per call: maxPool2d 2×2 ceil on [1,64,320,320], bilinear ×2 of [1,64,80,80], batchNorm
 * training forward on [4,64,80,80] (statistics + apply).
 * Standalone: `npx tsx bench/suites/vision.ts [--quick]`.
 */
import { init, tidy, tensor, maxPool2d, interpolate, batchNorm, type Tensor } from '../../src/node';
import { syncByReadBack, timeIt, type BenchRow, type Suite } from '../lib';

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
  },
  {
    name: 'interpolate bilinear x2 [1,64,80,80]',
    shape: [1, 64, 80, 80],
    bytes: (x) => x.size * 4 + x.size * 4 * 4,
    run: (x) => {
      interpolate(x, { scaleFactor: 2, mode: 'bilinear' });
    },
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
    rows.push({ suite: 'vision', name: c.name, metric: 'GB/s', value: c.bytes(x) / s / 1e9, note: `${(s * 1e3).toFixed(3)} ms/call` });
    x.dispose();
    stats.forEach((t) => t.dispose());
  }
  return rows;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  const rows = await visionSuite({ device, quick: process.argv.includes('--quick') });
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  for (const r of rows) console.log(`${r.name.padEnd(40)} ${r.value.toFixed(2).padStart(9)} ${r.metric}  ${r.note}`);
  process.exit(0);
}
