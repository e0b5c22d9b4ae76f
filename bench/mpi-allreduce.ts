/**
 * All-reduce bandwidth of the MPI collective (mpiCollective): float32 sums of 1, 10 and 100 MB per rank.
 *   mpirun -np 2 node --import tsx bench/mpi-allreduce.ts        (as root add --allow-run-as-root; see README)
 * Rank 0 prints a markdown table: the median time of 5 runs after 2 warm-ups, algorithm bandwidth (bytes / time)
 * and bus bandwidth (2(K−1)/K · bytes / time, as nccl-tests define it).
 */
import { mpiCollective } from '../src/parallel/node/mpi-collective';

const c = await mpiCollective();
const sizes = (process.env.MPI_BENCH_MB ?? '1,10,100').split(',').map(Number);
const rows: string[] = [];
for (const mb of sizes) {
  const data = new Float32Array((mb * 1e6) / 4).fill(c.rank + 1);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    await c.barrier();
    const t0 = performance.now();
    await c.allReduce(data);
    if (i >= 2) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1];
  const algbw = (mb * 1e6) / (ms / 1000) / 1e9;
  rows.push(`| ${mb} MB | ${c.size} | ${ms.toFixed(1)} | ${algbw.toFixed(2)} | ${((algbw * 2 * (c.size - 1)) / c.size).toFixed(2)} |`);
}
if (c.rank === 0) {
  console.log(`mpiCollective all-reduce, ${c.size} ranks (${c.library.split(',')[0]})\n`);
  console.log('| size per rank | ranks | median ms | algbw GB/s | busbw GB/s |\n| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}
await c.finalize();
