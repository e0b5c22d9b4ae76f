/**
 * Benchmark plumbing shared by every suite: timing on the GPU (work is flushed and awaited, so times
 * are wall-clock per iteration including submission) and the row format the harness prints and saves.
 */
import { tensor, type Device } from '../src/node';

export interface BenchRow {
  suite: string;
  /** What ran, e.g. "matmul 1024x1024x1024". */
  name: string;
  metric: 'GFLOP/s' | 'GB/s' | 'µs/op' | 'images/s' | 'ms' | 'MB';
  value: number;
  /** The same work on a peer library on the same adapter, when one runs it. */
  peer?: { name: string; value: number } | { name: string; missing: string };
  note?: string;
  /** The run failed with this message (value is then NaN, shown as 'failed'). */
  error?: string;
}

export interface BenchContext {
  device: Device;
  /** Shorter runs (CI smoke). */
  quick: boolean;
}

/** Seconds per call of `fn`, after `warmup` calls; `sync` awaits the GPU. Reports the median of `repeats` batches. */
export async function timeIt(fn: () => void | Promise<void>, sync: () => Promise<void>, { warmup = 2, iters = 5, repeats = 3 } = {}): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  await sync();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) await fn();
    await sync();
    times.push((performance.now() - t0) / 1000 / iters);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** A `sync` for {@link timeIt} that awaits the GPU by reading back a one-element tensor (queued after the timed work). */
export async function syncByReadBack(): Promise<void> {
  const t = tensor([0]);
  await t.data();
  t.dispose();
}

export type Suite = (ctx: BenchContext) => Promise<BenchRow[]>;
