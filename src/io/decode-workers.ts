/**
 * A pool of worker threads that decode FileTasks (Node). Pass it to a loader as `runner`:
 *   const workers = decodeWorkers(4);
 *   const data = loader(imageFolder(root, { size: 256 }), { batchSize: 32, runner: workers, … });
 * Tasks go to the least busy worker; a decode error rejects that sample's promise with the file
 * name; a worker that dies rejects its pending tasks (naming their files) and is replaced.
 * Workers are unref'd, so an idle pool does not keep the process alive; close() ends them.
 */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { spawnWorker } from './spawn-worker';
import type { FileTask, Sample } from '../train/data/datasets';
import { getMaxImagePixels } from './image-header';
import type { TaskRunner } from '../train/data/loader';

interface Pending {
  task: FileTask;
  resolve(s: Sample): void;
  reject(e: Error): void;
}
interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** The worker entry beside this file; from TypeScript sources (tsx, vitest) it is loaded through tsx's ESM hooks. */
function spawn(): Worker {
  return spawnWorker(import.meta.url, './decode-worker.js', './decode-worker.ts', 'decodeWorkers');
}

/**
 * A pool of worker threads that decode image files for a {@link loader} (its `runner` option), so decoding
 * overlaps training. Close it with the loader.
 */
export function decodeWorkers(count = Math.max(1, Math.min(4, availableParallelism() - 1))): TaskRunner & { readonly size: number } {
  if (!Number.isInteger(count) || count < 1) throw new Error(`decodeWorkers: count is ${count}; expected a positive integer`);
  let nextId = 0;
  let closed = false;
  const slots: (Slot | null)[] = Array.from({ length: count }, () => null);
  const start = (k: number): Slot => {
    const worker = spawn();
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (m: { id: number; sample?: Sample; error?: string }) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (slot.pending.size === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(`decode failed: ${m.error}`));
      else p.resolve(m.sample!);
    });
    const die = (why: string) => {
      if (slots[k] === slot) slots[k] = null;
      for (const p of slot.pending.values()) p.reject(new Error(`decode worker ${why} while decoding ${p.task.image}`));
      slot.pending.clear();
    };
    worker.on('error', (e: Error) => die(`failed (${e.message})`));
    worker.on('exit', (code) => {
      if (!closed) die(`exited with code ${code}`);
    });
    slots[k] = slot;
    return slot;
  };
  return {
    size: count,
    run(task) {
      if (closed) return Promise.reject(new Error('decodeWorkers: the pool is closed'));
      let k = 0;
      for (let j = 1; j < count; j++) if ((slots[j]?.pending.size ?? 0) < (slots[k]?.pending.size ?? 0)) k = j;
      const slot = slots[k] ?? start(k);
      const id = nextId++;
      return new Promise<Sample>((resolve, reject) => {
        slot.pending.set(id, { task, resolve, reject });
        slot.worker.ref();
        slot.worker.postMessage({ id, task, maxPixels: getMaxImagePixels() });
      });
    },
    async close() {
      closed = true;
      await Promise.all(
        slots.map(async (s) => {
          if (!s) return;
          for (const p of s.pending.values()) p.reject(new Error(`decodeWorkers: closed while decoding ${p.task.image}`));
          await s.worker.terminate();
        }),
      );
      slots.fill(null);
    },
  };
}
