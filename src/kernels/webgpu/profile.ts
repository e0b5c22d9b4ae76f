/**
 * Opt-in per-op profiler: `recordDispatches(device, fn)` captures the dispatches `fn` records, and
 * `profileDispatches(device, dispatches)` replays each one alone (its own submit, awaited) and
 * reports the GPU wall time grouped by op name, less the cost of an empty submit. Replays reuse
 * the recorded buffers, so their contents are garbage afterwards: profile only throwaway work.
 */
import type { Device } from './device';
import type { Dispatch } from './queue';

export function recordDispatches<T>(device: Device, fn: () => T): { result: T; dispatches: Dispatch[] } {
  device.queue.flush();
  const dispatches: Dispatch[] = [];
  const prev = device.queue.recording;
  device.queue.recording = dispatches;
  try {
    return { result: fn(), dispatches };
  } finally {
    device.queue.recording = prev;
  }
}

export interface OpProfile {
  name: string;
  count: number;
  ms: number;
}

export async function profileDispatches(
  device: Device,
  dispatches: readonly Dispatch[],
  repeats = 1,
  keyOf: (d: Dispatch) => string = (d) => d.name,
): Promise<{ ops: OpProfile[]; totalMs: number; overheadMs: number }> {
  await device.sync();
  const q = device.gpu.queue;
  // cost of an empty submit + wait
  let overhead = Infinity;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    q.submit([device.gpu.createCommandEncoder().finish()]);
    await q.onSubmittedWorkDone();
    overhead = Math.min(overhead, performance.now() - t0);
  }
  const by = new Map<string, OpProfile>();
  let total = 0;
  for (const d of dispatches) {
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      device.queue.dispatch(d);
      device.queue.flush();
      await q.onSubmittedWorkDone();
      best = Math.min(best, performance.now() - t0);
    }
    const ms = Math.max(0, best - overhead);
    total += ms;
    const k = keyOf(d);
    const e = by.get(k) ?? { name: k, count: 0, ms: 0 };
    e.count++;
    e.ms += ms;
    by.set(k, e);
  }
  device.check();
  return { ops: [...by.values()].sort((a, b) => b.ms - a.ms), totalMs: total, overheadMs: overhead };
}

export function formatProfile(p: { ops: OpProfile[]; totalMs: number }): string {
  const lines = p.ops.map(
    (o) => `${o.name.padEnd(60)} ${String(o.count).padStart(6)} ${o.ms.toFixed(1).padStart(10)} ms ${((100 * o.ms) / p.totalMs).toFixed(1).padStart(6)}%`,
  );
  return [
    `${'op'.padEnd(60)} ${'count'.padStart(6)} ${'time'.padStart(13)} ${'share'.padStart(7)}`,
    ...lines,
    `${'total'.padEnd(60)} ${String(p.ops.reduce((s, o) => s + o.count, 0)).padStart(6)} ${p.totalMs.toFixed(1).padStart(10)} ms`,
  ].join('\n');
}
