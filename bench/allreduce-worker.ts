/**
 * Worker of bench/allreduce.ts: joins the shared-memory group, then for each size times `runs` all-reduces
 * (each after a barrier, so the ranks start together) and posts its seconds per run.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { joinSharedGroup, type SharedGroupDescriptor } from '../src/parallel/shared-memory-collective';

const { descriptor, rank, floats, runs, warmup } = workerData as {
  descriptor: SharedGroupDescriptor;
  rank: number;
  floats: number[];
  runs: number;
  warmup: number;
};
const c = joinSharedGroup(descriptor, rank);
const times: number[][] = [];
for (const n of floats) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = ((i * 7 + rank) % 13) * 1e-3;
  const t: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    await c.barrier();
    const t0 = performance.now();
    await c.allReduce(x);
    if (i >= warmup) t.push((performance.now() - t0) / 1000);
  }
  times.push(t);
}
c.close();
parentPort?.postMessage(times);
