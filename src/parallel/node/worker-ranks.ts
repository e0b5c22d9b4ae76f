/**
 * Worker threads for `dataParallel({ threads: true })` (Node): one worker per device, each running one rank
 * (replica-worker.ts), joined by the shared-memory collective. Registered with the trainer by `@webgrad/core/node`.
 */
import type { Worker } from 'node:worker_threads';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnWorker } from '../../io/spawn-worker';
import { PeerFailedError } from '../abortable';
import { deviceName } from '../local-ranks';
import type { RankHandle, ThreadLauncher } from '../rank-handle';
import { abortSharedGroup, createSharedGroup } from '../../parallel/shared-memory-collective';
import type { HostBatch } from '../split';

/** The worker entry beside this file (built: dp-worker.js); from TypeScript sources it is loaded through tsx. */
function spawn(): Worker {
  return spawnWorker(import.meta.url, './dp-worker.js', './replica-worker.ts', 'dataParallel');
}

/** A module specifier a worker can import: URLs as they are, paths resolved against the working directory. */
function moduleUrl(replica: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(replica) && !/^[a-z]:[\\/]/i.test(replica) ? replica : pathToFileURL(resolve(replica)).href;
}

interface Failure extends Error {
  lost?: boolean;
}

/** Rows of a slice as their own arrays (a posted view would copy its whole buffer). */
const compact = (slice: HostBatch): HostBatch => Object.fromEntries(Object.entries(slice).map(([k, v]) => [k, { data: v.data.slice(), shape: v.shape }]));

/** Starts one worker per device and joins them in a shared-memory group. */
export const workerRanks: ThreadLauncher = async ({ replica, config, devices, adapters, syncBatchNorm, bucketBytes, overlap }) => {
  const descriptor = createSharedGroup({ size: devices, timeoutMs: 600_000 });
  // BatchNorm statistics are small (2·channels + 1 floats per layer): a small area of their own
  const bnDescriptor = syncBatchNorm ? createSharedGroup({ size: devices, maxFloats: 1 << 14, timeoutMs: 600_000 }) : null;
  const url = moduleUrl(replica);
  const handles = Array.from({ length: devices }, (_, k) => {
    const worker = spawn();
    const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
    let nextId = 0;
    let dead: Error | null = null;
    let closing = false;
    let name = `device ${k}`;
    const fail = (why: string) => {
      if (!dead && !closing) {
        // the others may be waiting for this rank in a collective: fail the groups for it
        for (const d of [descriptor, bnDescriptor]) if (d) abortSharedGroup(d, k, `the worker of device ${k} ${why}`);
      }
      dead ??= new Error(`its worker thread ${why}`);
      for (const p of pending.values()) p.reject(dead);
      pending.clear();
    };
    worker.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string; peer?: boolean; lost?: boolean }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else {
        const e: Failure = m.peer ? new PeerFailedError(m.error!) : new Error(m.error);
        e.lost = m.lost;
        p.reject(e);
      }
    });
    worker.on('error', (e: Error) => fail(`failed: ${e.message.split('\n')[0]}`));
    worker.on('exit', (code) => fail(`exited (code ${code})`));
    const request = <T>(op: string, args?: unknown): Promise<T> => {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      return new Promise<T>((res, rej) => {
        pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
        worker.postMessage({ id, op, args });
      });
    };
    const handle: RankHandle & { start(): Promise<void> } = {
      get name() {
        return name;
      },
      async start() {
        const info = await request<{ label: string; description: string }>('start', {
          replica: url,
          config,
          descriptor,
          bnDescriptor,
          rank: k,
          adapter: adapters?.[k] ?? null,
          bucketBytes,
          overlap,
        });
        name = deviceName(k, info.label, info.description);
      },
      setup: (seed, host) => request('setup', { seed, host }),
      load: (host) => request('load', { host }),
      step: (slice, weight) => request('step', { slice: compact(slice), weight }),
      snapshot: () => request('snapshot'),
      lost: async (e) => Boolean((e as Failure)?.lost),
      abort: (reason) => {
        if (!dead) worker.postMessage({ id: -1, op: 'abort', args: { reason: reason.message } });
      },
      close: async () => {
        closing = true;
        if (!dead) await request('close').catch(() => {});
        dead ??= new Error('data parallel: closed');
        // the worker ends by itself once its port is closed (terminate() could cut Dawn's pending callbacks)
        const exited = new Promise((r) => worker.once('exit', r));
        worker.postMessage({ id: -1, op: 'exit' });
        const timer = setTimeout(() => void worker.terminate(), 5000);
        await exited;
        clearTimeout(timer);
      },
    };
    return handle;
  });
  const started = await Promise.allSettled(handles.map((h) => h.start()));
  const bad = started.findIndex((s) => s.status === 'rejected');
  if (bad >= 0) {
    await Promise.allSettled(handles.map((h) => h.close()));
    throw new Error(
      `dataParallel: starting the worker of device ${bad} failed: ${String((started[bad] as PromiseRejectedResult).reason?.message).split('\n')[0]}`,
    );
  }
  return handles;
};
