/**
 * All-reduce bandwidth of the shared-memory collective (src/parallel/shared-memory-collective.ts) between K
 * worker threads: float32 sums of 1, 10 and 100 MB (10^6 bytes) per rank. Each run starts after a barrier; a
 * run's time is the slowest rank's; the table shows the median over runs. Algorithm bandwidth = bytes / time;
 * bus bandwidth = algorithm bandwidth · 2(K − 1)/K, as nccl-tests define it for all-reduce (what each rank must
 * send and receive at least, so it compares across K).
 *   npx tsx bench/allreduce.ts [--sizes 1,10,100] [--ranks 2,4] [--runs 7] [--max-floats 1048576]
 * Also runs as the `allreduce` suite of `npm run bench`.
 */
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createSharedGroup } from '../src/parallel/shared-memory-collective';

/** One row: K ranks, bytes per rank, median seconds per all-reduce, and the two bandwidths in GB/s. */
export interface AllReduceRow {
  ranks: number;
  bytes: number;
  seconds: number;
  algorithmGBps: number;
  busGBps: number;
}

/** The worker beside this file; from TypeScript sources it is loaded through tsx's ESM hooks. */
function startWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./allreduce-worker.js', here), { workerData });
  const api = pathToFileURL(
    createRequire(fileURLToPath(here))
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const entry = new URL('./allreduce-worker.ts', here).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, {
    eval: true,
    workerData,
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Times all-reduces of `megabytes` (per rank) among each of `ranks` worker threads. */
export async function benchAllReduce({
  megabytes = [1, 10, 100],
  ranks = [2, 4],
  runs = 7,
  warmup = 3,
  maxFloats = 1 << 20,
}: {
  megabytes?: number[];
  ranks?: number[];
  runs?: number;
  warmup?: number;
  maxFloats?: number;
} = {}): Promise<AllReduceRow[]> {
  const rows: AllReduceRow[] = [];
  const floats = megabytes.map((mb) => Math.round((mb * 1e6) / 4));
  for (const k of ranks) {
    const descriptor = createSharedGroup({ size: k, maxFloats, timeoutMs: 120_000 });
    const workers = Array.from({ length: k }, (_, rank) => startWorker({ descriptor, rank, floats, runs, warmup }));
    const perRank = await Promise.all(
      workers.map(
        (w, rank) =>
          new Promise<number[][]>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.once('exit', (code) => reject(new Error(`allreduce bench: worker ${rank} exited with code ${code}`)));
          }),
      ),
    );
    await Promise.all(workers.map((w) => w.terminate()));
    for (const [s, n] of floats.entries()) {
      const slowest = perRank[0][s].map((_, i) => Math.max(...perRank.map((t) => t[s][i])));
      const seconds = median(slowest);
      const algorithmGBps = (4 * n) / seconds / 1e9;
      rows.push({ ranks: k, bytes: 4 * n, seconds, algorithmGBps, busGBps: (algorithmGBps * 2 * (k - 1)) / k });
    }
  }
  return rows;
}

/** The rows as a markdown table. */
export function allReduceTable(rows: AllReduceRow[]): string {
  const lines = ['| K threads | size | ms (median) | algorithm GB/s | bus GB/s |', '|---:|---:|---:|---:|---:|'];
  for (const r of rows)
    lines.push(`| ${r.ranks} | ${r.bytes / 1e6} MB | ${(r.seconds * 1e3).toFixed(2)} | ${r.algorithmGBps.toFixed(2)} | ${r.busGBps.toFixed(2)} |`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, def: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const list = (s: string) => s.split(',').map(Number);
  const options = {
    megabytes: list(arg('sizes', '1,10,100')),
    ranks: list(arg('ranks', '2,4')),
    runs: Number(arg('runs', '7')),
    maxFloats: Number(arg('max-floats', String(1 << 20))),
  };
  for (const [k, v] of Object.entries(options))
    if ((Array.isArray(v) ? v : [v]).some((x) => !(x > 0))) {
      console.error(`bench/allreduce: --${k === 'megabytes' ? 'sizes' : k === 'maxFloats' ? 'max-floats' : k} must be positive numbers; got ${arg(k, '')}`);
      process.exit(2);
    }
  const load = loadavg()[0].toFixed(1);
  console.log(`shared-memory all-reduce, worker threads, ${options.runs} runs (median), shared area ${options.maxFloats} floats per rank`);
  console.log(`Node ${process.version}, ${availableParallelism()} cores, load average ${load} at start`);
  console.log(allReduceTable(await benchAllReduce(options)));
}
