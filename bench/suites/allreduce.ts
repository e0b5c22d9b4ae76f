/**
 * The shared-memory all-reduce between worker threads (bench/allreduce.ts): bus bandwidth (nccl-tests'
 * definition) at K = 2 and 4 for 1, 10 and 100 MB per rank (quick: K = 2, 1 and 10 MB). Runs on the CPU; the
 * adapter is not used.
 */
import type { Suite } from '../lib';
import { benchAllReduce } from '../allreduce';

export const allReduceSuite: Suite = async ({ quick }) => {
  const rows = await benchAllReduce(quick ? { megabytes: [1, 10], ranks: [2], runs: 3 } : { runs: 5 });
  return rows.map((r) => ({
    suite: 'allreduce',
    name: `shared-memory all-reduce ${r.bytes / 1e6} MB, ${r.ranks} worker threads (bus bandwidth)`,
    metric: 'GB/s' as const,
    value: r.busGBps,
    note: `${(r.seconds * 1e3).toFixed(2)} ms, algorithm ${r.algorithmGBps.toFixed(2)} GB/s`,
  }));
};
