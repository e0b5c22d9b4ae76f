import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessGroup } from '../../src/parallel/in-process-collective';
import { abortSharedGroup, createSharedGroup, joinSharedGroup } from '../../src/parallel/shared-memory-collective';
import { rankOrderedSum, type Step, stepInput } from './shared-memory-data';
import type { Request } from './shared-memory-worker';

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string; ms: number };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Ask = (req: WithoutId<Request>) => Promise<Reply>;

/** A worker thread running `file` (beside this one) through tsx's ESM hooks, as src/io/decode-workers.ts does. */
function startWorker(file: string, workerData?: unknown): Worker {
  const api = pathToFileURL(
    createRequire(fileURLToPath(import.meta.url))
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const entry = new URL(file, import.meta.url).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true, workerData });
}

/** A worker running shared-memory-worker.ts, and a function that sends it a request and resolves with the reply. */
function startAsker(): { ask: Ask; worker: Worker } {
  const worker = startWorker('./shared-memory-worker.ts');
  let next = 0;
  const pending = new Map<number, (r: Reply) => void>();
  worker.on('message', (r: Reply) => {
    pending.get(r.id)?.(r);
    pending.delete(r.id);
  });
  worker.on('error', (e: Error) => {
    for (const p of pending.values()) p({ id: -1, ok: false, error: `worker died: ${e.message}`, ms: 0 });
  });
  const ask: Ask = (req) =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      worker.postMessage({ ...req, id });
    });
  return { ask, worker };
}

const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
/** 'equal', or where the bits first differ (a short message: vitest's diff of million-element arrays takes minutes). */
function sameBits(got: Float32Array, want: Float32Array): string {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  const [g, w] = [bits(got), bits(want)];
  let bad = 0;
  let first = -1;
  for (let i = 0; i < g.length; i++)
    if (g[i] !== w[i]) {
      bad++;
      if (first < 0) first = i;
    }
  return bad === 0 ? 'equal' : `${bad} elements differ, first at ${first}: ${got[first]} (bits ${g[first]}), expected ${want[first]} (bits ${w[first]})`;
}
const value = <T>(r: Reply): T => {
  if (!r.ok) throw new Error(r.error);
  return r.value as T;
};

const workers: ReturnType<typeof startAsker>[] = [];
beforeAll(() => {
  for (let i = 0; i < 4; i++) workers.push(startAsker());
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.worker.terminate()));
});

/** A fresh group of `size` ranks joined by the first `size` workers. */
async function group(size: number, options: { maxFloats?: number; timeoutMs?: number } = {}) {
  const descriptor = createSharedGroup({ size, ...options });
  const ranks = workers.slice(0, size);
  await Promise.all(ranks.map((w, rank) => w.ask({ cmd: 'join', descriptor, rank }).then(value)));
  return ranks;
}
const closeAll = (ranks: typeof workers) => Promise.all(ranks.map((w) => w.ask({ cmd: 'close' })));

describe('shared-memory collective (worker threads)', () => {
  it('allReduce, broadcast and barrier in any sequence give every rank the rank-ordered float32 sum / the root, bit for bit', async () => {
    const step = (k: number, maxFloats: number): fc.Arbitrary<Step> =>
      fc.oneof(
        fc.record({ op: fc.constant('allReduce' as const), length: fc.integer({ min: 0, max: 3 * maxFloats + 37 }) }),
        fc.record({ op: fc.constant('broadcast' as const), length: fc.integer({ min: 0, max: 3 * maxFloats + 37 }), root: fc.integer({ min: 0, max: k - 1 }) }),
        fc.constant({ op: 'barrier' as const }),
      );
    const plan = fc.record({ k: fc.integer({ min: 1, max: 4 }), maxFloats: fc.constantFrom(16, 40, 256) }).chain(({ k, maxFloats }) =>
      fc.record({
        k: fc.constant(k),
        maxFloats: fc.constant(maxFloats),
        steps: fc.array(step(k, maxFloats), { minLength: 1, maxLength: 6 }),
        seed: fc.nat(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(plan, async ({ k, maxFloats, steps, seed }) => {
        const ranks = await group(k, { maxFloats, timeoutMs: 20_000 });
        const outs = await Promise.all(ranks.map((w) => w.ask({ cmd: 'steps', seed, steps }).then(value<(Float32Array | null)[]>)));
        for (let s = 0; s < steps.length; s++) {
          const st = steps[s];
          if (st.op === 'barrier') continue;
          const inputs = Array.from({ length: k }, (_, r) => stepInput(seed, s, r, st.length));
          const want = st.op === 'allReduce' ? rankOrderedSum(inputs) : inputs[st.root];
          if (st.op === 'allReduce') {
            // the in-process group is the reference every collective must match bit for bit
            const copies = inputs.map((x) => x.slice());
            await Promise.all(inProcessGroup(k).map((c, r) => c.allReduce(copies[r])));
            expect(sameBits(copies[0], want)).toBe('equal');
          }
          for (let r = 0; r < k; r++) expect(sameBits(outs[r][s] as Float32Array, want), `step ${s} (${st.op}, length ${st.length}), rank ${r}`).toBe('equal');
        }
        await closeAll(ranks);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('a 1 M-float allReduce over a 64 k-float shared area (chunks, K = 4) matches the rank-ordered sum', async () => {
    const ranks = await group(4, { maxFloats: 65_536 + 16 });
    const inputs = ranks.map((_, r) => stepInput(7, 0, r, 1_000_003));
    const outs = await Promise.all(ranks.map((w, r) => w.ask({ cmd: 'allReduce', data: inputs[r] }).then(value<Float32Array>)));
    const want = rankOrderedSum(inputs);
    for (const o of outs) expect(sameBits(o, want)).toBe('equal');
    await closeAll(ranks);
  }, 60_000);

  it('barrier releases no rank before the last one arrives', async () => {
    const ranks = await group(3);
    const times = await Promise.all(ranks.map((w, r) => w.ask({ cmd: 'barrier', delayMs: 100 * r }).then(value<{ arrived: number; released: number }>)));
    const lastArrival = Math.max(...times.map((t) => t.arrived));
    for (const t of times) expect(t.released).toBeGreaterThanOrEqual(lastArrival);
    expect(lastArrival - times[0].arrived).toBeGreaterThanOrEqual(150);
    await closeAll(ranks);
  });

  it('a rank that never arrives: the others fail within the timeout, naming the op, themselves and the missing rank', async () => {
    const ranks = await group(3, { timeoutMs: 300 });
    const t0 = Date.now();
    const replies = await Promise.all(ranks.slice(0, 2).map((w) => w.ask({ cmd: 'allReduce', data: new Float32Array(10) })));
    expect(Date.now() - t0).toBeLessThan(5000);
    const errors = replies.map((r) => (r.ok ? 'resolved' : r.error));
    for (const [r, e] of errors.entries())
      expect(e).toMatch(new RegExp(`^CollectiveError: shared-memory collective \\(rank ${r} of 3\\): allReduce failed: .*waiting for rank 2 `));
    expect(errors.some((e) => /failed: timed out after 300 ms waiting for rank 2 /.test(e))).toBe(true);
    // the late rank finds the group failed rather than waiting for ranks that left
    const late = await ranks[2].ask({ cmd: 'allReduce', data: new Float32Array(10) });
    expect(late.ok ? 'resolved' : late.error).toMatch(
      /rank 2 of 3\): allReduce failed: rank [01] aborted: allReduce timed out after 300 ms waiting for rank 2/,
    );
    await closeAll(ranks);
  });

  it('abort on one rank rejects every other rank’s pending and later calls, naming it and the reason, without waiting for the timeout', async () => {
    const ranks = await group(3, { timeoutMs: 60_000 });
    const pending = ranks.slice(1).map((w) => w.ask({ cmd: 'allReduce', data: new Float32Array(100) }));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await ranks[0].ask({ cmd: 'abort', reason: 'device 0 was lost' }).then(value);
    const replies = await Promise.all(pending);
    expect(Date.now() - t0).toBeLessThan(800); // woken by the abort, not by a periodic re-check (every 1 s)
    for (const [i, r] of replies.entries())
      expect(r.ok ? 'resolved' : r.error).toBe(
        `CollectiveError: shared-memory collective (rank ${i + 1} of 3): allReduce failed: rank 0 aborted: device 0 was lost`,
      );
    const later = await ranks[1].ask({ cmd: 'barrier', delayMs: 0 });
    expect(later.ok ? 'resolved' : later.error).toMatch(/rank 1 of 3\): barrier failed: rank 0 aborted: device 0 was lost$/);
    await closeAll(ranks);
  });

  it('the main thread can fail the group for a rank whose worker died (abortSharedGroup)', async () => {
    const descriptor = createSharedGroup({ size: 3, timeoutMs: 60_000 });
    const ranks = workers.slice(0, 2);
    await Promise.all(ranks.map((w, rank) => w.ask({ cmd: 'join', descriptor, rank }).then(value)));
    const pending = ranks.map((w) => w.ask({ cmd: 'allReduce', data: new Float32Array(8) }));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    abortSharedGroup(descriptor, 2, 'worker 2 exited with code 1');
    const replies = await Promise.all(pending);
    expect(Date.now() - t0).toBeLessThan(800); // woken by the abort, not by a periodic re-check (every 1 s)
    for (const [r, reply] of replies.entries())
      expect(reply.ok ? 'resolved' : reply.error).toBe(
        `CollectiveError: shared-memory collective (rank ${r} of 3): allReduce failed: rank 2 aborted: worker 2 exited with code 1`,
      );
    expect(() => abortSharedGroup(descriptor, 3, 'x')).toThrow("abortSharedGroup: argument 'rank' is 3; expected an integer in [0, 2]");
    await closeAll(ranks);
  });

  it('ranks that call different operations fail with both calls named', async () => {
    const ranks = await group(2);
    const replies = await Promise.all([
      ranks[0].ask({ cmd: 'allReduce', data: new Float32Array(5) }),
      ranks[1].ask({ cmd: 'allReduce', data: new Float32Array(6) }),
    ]);
    for (const r of replies)
      expect(r.ok ? 'resolved' : r.error).toMatch(/ranks disagree on call 1: rank 0 called allReduce\(5\), rank 1 called allReduce\(6\)/);
    await closeAll(ranks);
  });

  it('without Atomics.waitAsync (polling with setTimeout), ranks in one thread still agree bit for bit', async () => {
    const atomics = Atomics as { waitAsync?: unknown };
    const saved = atomics.waitAsync;
    atomics.waitAsync = undefined;
    try {
      const d = createSharedGroup({ size: 3, maxFloats: 32 });
      const ranks = [0, 1, 2].map((r) => joinSharedGroup(d, r));
      const inputs = ranks.map((_, r) => stepInput(3, 0, r, 100));
      const want = rankOrderedSum(inputs);
      // rank 2 arrives late, so the others really wait
      await Promise.all(ranks.map((c, r) => new Promise((res) => setTimeout(res, 20 * r)).then(() => c.allReduce(inputs[r]))));
      for (const x of inputs) expect(sameBits(x, want)).toBe('equal');
      const root = stepInput(4, 0, 1, 70);
      const xs = [new Float32Array(70), root.slice(), new Float32Array(70)];
      await Promise.all(ranks.map((c, r) => c.broadcast(xs[r], 1)));
      for (const x of xs) expect(sameBits(x, root)).toBe('equal');
    } finally {
      atomics.waitAsync = saved;
    }
  });

  it('inside a step: the allReduce op on a WebGPU device in each of 2 worker threads (gate + shared memory) gives the rank-ordered sum', async () => {
    const length = 1000;
    const descriptor = createSharedGroup({ size: 2, maxFloats: 256, timeoutMs: 60_000 });
    const replies = await Promise.all(
      [0, 1].map(
        (rank) =>
          new Promise<{ ok: boolean; out?: Float32Array; error?: string }>((resolve, reject) => {
            const w = startWorker('./shared-memory-gpu-worker.ts', { descriptor, rank, length });
            w.once('message', (m) => {
              resolve(m);
              void w.terminate();
            });
            w.once('error', reject);
          }),
      ),
    );
    const inputs = [0, 1].map((r) => stepInput(11, 0, r, length).map((v) => Math.fround(2 * v)));
    const want = rankOrderedSum(inputs).map((v) => Math.fround(v + 2));
    for (const r of replies) {
      expect(r.error).toBeUndefined();
      expect(sameBits(r.out as Float32Array, want)).toBe('equal');
    }
  }, 120_000);

  it('more than four ranks (several summing passes), in one thread: the rank-ordered sum bit for bit', async () => {
    for (const k of [5, 6, 9]) {
      const d = createSharedGroup({ size: k, maxFloats: 64 });
      const ranks = Array.from({ length: k }, (_, r) => joinSharedGroup(d, r));
      const inputs = ranks.map((_, r) => stepInput(k, 1, r, 300));
      const want = rankOrderedSum(inputs);
      await Promise.all(ranks.map((c, r) => c.allReduce(inputs[r])));
      for (const x of inputs) expect(sameBits(x, want), `K = ${k}`).toBe('equal');
    }
  });

  it('the barrier generation wraps around 2^31 like an Int32 without breaking the group', async () => {
    const d = createSharedGroup({ size: 2, maxFloats: 16 });
    new Int32Array(d.control)[1] = 2 ** 31 - 3; // word 1 counts completed barriers
    const ranks = [0, 1].map((r) => joinSharedGroup(d, r));
    const xs = [new Float32Array([1, 2, 3]), new Float32Array([10, 20, 30])];
    const late = (r: number) => new Promise((res) => setTimeout(res, 20 * r)); // rank 1 comes late, so waiting is real
    for (let i = 0; i < 3; i++) {
      await Promise.all(ranks.map((c, r) => late(r).then(() => c.barrier())));
      await Promise.all(ranks.map((c, r) => late(r).then(() => c.allReduce(xs[r]))));
    }
    expect(Array.from(new Int32Array(d.control, 4, 1))[0]).toBeLessThan(0);
    expect(xs.map((x) => Array.from(x))).toEqual([
      [44, 88, 132],
      [44, 88, 132],
    ]);
  });

  it('bad arguments are named; a rank joins once; calls after close() throw', async () => {
    expect(() => createSharedGroup({ size: 0 })).toThrow("createSharedGroup: argument 'size' is 0; expected a positive integer");
    expect(() => createSharedGroup({ size: 2, maxFloats: 3 })).toThrow(/argument 'maxFloats' is 3/);
    const d = createSharedGroup({ size: 1 });
    expect(() => joinSharedGroup(d, 1)).toThrow("joinSharedGroup: argument 'rank' is 1; expected an integer in [0, 0]");
    const c = joinSharedGroup(d, 0);
    expect(() => joinSharedGroup(d, 0)).toThrow(/rank 0 has already joined/);
    const x = new Float32Array([1, -0, 3]);
    await c.allReduce(x);
    expect(Array.from(x)).toEqual([1, 0, 3]);
    await expect(c.broadcast(x, 1)).rejects.toThrow(/argument 'root' is 1/);
    c.close();
    await expect(c.barrier()).rejects.toThrow(/barrier called after close\(\)/);
  });
});
