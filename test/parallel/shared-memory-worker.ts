/**
 * Worker for test/parallel/shared-memory-collective.test.ts: joins a shared-memory group and runs what the test
 * asks, replying { id, ok, value } or { id, ok: false, error, ms }.
 */
import { parentPort } from 'node:worker_threads';
import { joinSharedGroup, type SharedGroupDescriptor, type SharedMemoryCollective } from '../../src/parallel/shared-memory-collective';
import { type Step, stepInput } from './shared-memory-data';

export type Request =
  | { id: number; cmd: 'join'; descriptor: SharedGroupDescriptor; rank: number }
  /** Runs the steps back to back (nothing awaited by the test in between) and returns each step's output. */
  | { id: number; cmd: 'steps'; seed: number; steps: Step[] }
  | { id: number; cmd: 'allReduce'; data: Float32Array }
  | { id: number; cmd: 'barrier'; delayMs: number }
  | { id: number; cmd: 'abort'; reason: string }
  | { id: number; cmd: 'close' };

let collective: SharedMemoryCollective | null = null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function handle(req: Request): Promise<unknown> {
  if (req.cmd === 'join') {
    collective = joinSharedGroup(req.descriptor, req.rank);
    return null;
  }
  const c = collective;
  if (!c) throw new Error('not joined');
  switch (req.cmd) {
    case 'steps': {
      const outs: (Float32Array | null)[] = [];
      for (let k = 0; k < req.steps.length; k++) {
        const step = req.steps[k];
        if (step.op === 'barrier') {
          await c.barrier();
          outs.push(null);
          continue;
        }
        const x = stepInput(req.seed, k, c.rank, step.length);
        if (step.op === 'allReduce') await c.allReduce(x);
        else await c.broadcast(x, step.root);
        outs.push(x);
      }
      return outs;
    }
    case 'allReduce':
      await c.allReduce(req.data);
      return req.data;
    case 'barrier': {
      await sleep(req.delayMs);
      const arrived = Date.now();
      await c.barrier();
      return { arrived, released: Date.now() };
    }
    case 'abort':
      c.abort(req.reason);
      return null;
    case 'close':
      c.close();
      collective = null;
      return null;
  }
}

parentPort?.on('message', (req: Request) => {
  const t0 = Date.now();
  handle(req).then(
    (value) => parentPort?.postMessage({ id: req.id, ok: true, value }),
    (e: Error) => parentPort?.postMessage({ id: req.id, ok: false, error: `${e.name}: ${e.message}`, ms: Date.now() - t0 }),
  );
});
