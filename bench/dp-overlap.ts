/**
 * Where a data-parallel step's time goes, and how much of the gradient all-reduce hides behind backward: the MLP of
 * dp-overlap-replica.ts (10 MB of gradients), batch --batch, at K = 1 and K = 2 devices (one thread, and worker
 * threads), with one 25 MB bucket (PyTorch DDP's default: nothing to overlap) and 2 MB buckets read back as soon as
 * they are final, vs the same buckets read after backward (overlap: false). Medians over --steps steps after 2
 * warm-up steps; all-reduce time is the time inside collective.allReduce (waiting for the other rank included).
 *   npx tsx bench/dp-overlap.ts [--steps 8] [--batch 64]
 */
import { init } from '../src/node';
import { dataParallel } from '../src/parallel';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const steps = arg('steps', 8),
  n = arg('batch', 64);
await init();
const x = Float32Array.from({ length: n * 512 }, (_, i) => Math.sin(i * 0.01));
const y = Float32Array.from({ length: n * 16 }, (_, i) => Math.cos(i * 0.1));
const replica = new URL('./dp-overlap-replica.ts', import.meta.url);
const MB = 2 ** 20;
const runs = [
  { devices: 1, threads: false, bucketBytes: 25 * MB, overlap: true },
  { devices: 2, threads: false, bucketBytes: 25 * MB, overlap: true },
  { devices: 2, threads: false, bucketBytes: 2 * MB, overlap: false },
  { devices: 2, threads: false, bucketBytes: 2 * MB, overlap: true },
  { devices: 2, threads: true, bucketBytes: 25 * MB, overlap: true },
  { devices: 2, threads: true, bucketBytes: 2 * MB, overlap: false },
  { devices: 2, threads: true, bucketBytes: 2 * MB, overlap: true },
];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`MLP 2.6 M parameters, batch ${n}, median of ${steps} steps`);
console.log('| K | threads | bucket | buckets | overlap | ms / step | samples/s | all-reduce ms | hidden behind backward |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of runs) {
  const dp = await dataParallel({ replica, ...r });
  const stats = [];
  for (let s = 0; s < steps + 2; s++) {
    const out = await dp.step({ x: { data: x, shape: [n, 512] }, y: { data: y, shape: [n, 16] } });
    if (s >= 2) stats.push(out.stats);
  }
  await dp.close();
  const ms = median(stats.map((s) => s.stepMs));
  console.log(
    `| ${r.devices} | ${r.threads ? 'yes' : 'no'} | ${r.bucketBytes / MB} MB | ${stats[0].buckets} | ${r.overlap ? 'yes' : 'no'} | ${ms.toFixed(0)} | ${((1000 * n) / ms).toFixed(0)} | ${median(stats.map((s) => s.allReduceMs)).toFixed(0)} | ${r.devices > 1 ? `${(100 * median(stats.map((s) => s.hiddenFraction))).toFixed(0)} %` : '–'} |`,
  );
}
