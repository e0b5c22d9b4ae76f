/**
 * One rank of the MPI tests (test/parallel/mpi.test.ts), started by
 *   mpirun -np K node --import tsx test/parallel/mpi-rank.ts <case>
 * Prints one `result {json}` line to stdout per rank; failures print one line to stderr and exit 1.
 */
import { mpiCollective } from '../../src/parallel/node/mpi-collective';
import { inProcessGroup } from '../../src/parallel/in-process-collective';

const which = process.argv[2];
const timeoutMs = Number(process.env.MPI_TEST_TIMEOUT_MS ?? 30_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rank r's contribution to a sum: magnitudes 10⁻⁸…10⁸ (so the order of the additions shows) and ±0. */
function part(rank: number, n: number, seed: number): Float32Array {
  let s = (seed * 7919 + rank * 104729 + n) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Float32Array.from({ length: n }, (_, i) => {
    if (i % 17 === 3) return rank % 2 ? -0 : 0;
    if (i % 17 === 5) return -0; // all −0: the sum starts from +0, as the in-process group's, so it is +0

    return Math.fround((next() - 0.5) * 10 ** [8, 0, -8, 4][(rank + i) % 4]);
  });
}

/** A short hex digest of the bits, for comparing ranks' results in the output. */
function digest(x: Float32Array): string {
  let h = 2166136261;
  for (const b of new Uint8Array(x.buffer, x.byteOffset, x.byteLength)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h.toString(16);
}

async function main() {
  const c = await mpiCollective({ timeoutMs });
  const { rank, size } = c;
  const result: Record<string, unknown> = { rank, size, kind: c.kind };
  if (which === 'sums') {
    // sizes: empty, smaller than K, not divisible by K, several rounds (WEBGRAD_MPI_ROUND_FLOATS), 1 MB-ish
    const sizes = [0, 1, 2, size + 1, 1000, 4099, 262_147];
    const digests: string[] = [];
    let mismatches = 0;
    for (const [k, n] of sizes.entries()) {
      const mine = part(rank, n, k);
      await c.allReduce(mine);
      // the reference: the in-process group's rank-ordered sum of every rank's part
      const parts = Array.from({ length: size }, (_, r) => part(r, n, k));
      await Promise.all(inProcessGroup(size).map((g, r) => g.allReduce(parts[r])));
      const got = new Uint32Array(mine.buffer);
      const want = new Uint32Array(parts[0].buffer);
      for (let i = 0; i < n; i++) if (got[i] !== want[i]) mismatches++;
      digests.push(digest(mine));
    }
    Object.assign(result, { mismatches, digests });
  } else if (which === 'broadcast') {
    const x = Float32Array.from({ length: 1001 }, (_, i) => rank * 1000 + i);
    await c.broadcast(x, size - 1);
    result.ok = x.every((v, i) => v === (size - 1) * 1000 + i);
    for (let i = 0; i < x.length; i++) x[i] = rank * 1000 + i;
    await c.broadcast(x); // root 0
    result.okRoot0 = x.every((v, i) => v === i);
  } else if (which === 'barrier') {
    await sleep(400 * rank);
    result.entered = Date.now();
    await c.barrier();
    result.left = Date.now();
  } else if (which === 'timers') {
    // the JS thread stays free while a collective waits: count 20 ms ticks during rank 0's wait for the last rank
    if (rank === size - 1) await sleep(1000);
    let ticks = 0;
    const interval = setInterval(() => ticks++, 20);
    await c.allReduce(new Float32Array(10));
    clearInterval(interval);
    result.ticks = ticks;
  } else if (which === 'channels') {
    // two channels whose operations the ranks issue in opposite orders: neither waits for the other
    const other = await c.duplicate();
    const a = new Float32Array(1000).fill(rank + 1);
    const b = new Float32Array(3000).fill(10 * (rank + 1));
    const world = () => c.allReduce(a);
    const second = () => Promise.all([other.allReduce(b), other.barrier()]); // in the same order on every rank
    await Promise.all(rank % 2 ? [second(), world()] : [world(), second()]);
    const want = (size * (size + 1)) / 2;
    result.ok = a.every((v) => v === want) && b.every((v) => v === 10 * want);
    other.close();
  } else if (which === 'no-finalize') {
    await c.allReduce(new Float32Array(5));
  } else if (which === 'mismatch') {
    try {
      await c.allReduce(new Float32Array(rank === 1 ? 11 : 10));
      result.error = null;
    } catch (e) {
      result.error = (e as Error).message;
    }
    // every rank saw the same disagreement, so the group is still in step
    const x = new Float32Array([rank + 1]);
    await c.allReduce(x);
    result.after = x[0];
  } else if (which === 'kill') {
    // rank 1 dies before the reduction; rank 0 must give up within the timeout, with one line
    if (rank === 1) {
      await sleep(200);
      process.kill(process.pid, 'SIGKILL');
    }
    const started = Date.now();
    try {
      await c.allReduce(new Float32Array(1000));
    } catch (e) {
      console.error(`rank ${rank} gave up after ${Date.now() - started} ms: ${(e as Error).message}`);
      if (process.env.MPI_TEST_ABORT) c.abortJob(4); // ends the job although this rank's MPI thread is stuck
      process.exitCode = 1;
      return;
    }
  } else if (which === 'slow') {
    // rank 1 arrives after rank 0's timeout: rank 0 gave up and told it so, so rank 1 does not wait in turn
    if (rank === 1) await sleep(2.5 * timeoutMs);
    const started = Date.now();
    const error = await c.allReduce(new Float32Array(10)).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    Object.assign(result, { error, ms: Date.now() - started });
    if (rank === 0) {
      // stay alive until rank 1 has its answer (mpirun ends the job when one rank exits without finalizing)
      console.log(`result ${JSON.stringify(result)}`);
      await sleep(3 * timeoutMs);
      return;
    }
  } else if (which === 'abort-job') {
    if (rank === 0) {
      await sleep(300);
      c.abortJob(3);
    }
    await c.barrier();
  } else if (which === 'abort') {
    // rank 1 gives up while rank 0 waits for it: rank 0's wait ends at once, naming rank 1 and the reason
    const started = Date.now();
    const errors: string[] = [];
    if (rank === 1) {
      await sleep(300);
      c.abort('device 1 was lost');
    }
    for (const call of [() => c.allReduce(new Float32Array(10)), () => c.barrier()])
      await call().then(
        () => errors.push('resolved'),
        (e: Error) => errors.push(`${e.name}: ${e.message}`),
      );
    Object.assign(result, { errors, ms: Date.now() - started });
  } else {
    throw new Error(`mpi-rank: unknown case ${which}`);
  }
  console.log(`result ${JSON.stringify(result)}`);
  // 'no-finalize': left to the collective, which finalizes when the event loop empties
  if (which !== 'no-finalize') await c.finalize();
}

main().catch((e) => {
  console.error(`mpi-rank: ${(e as Error).message}`);
  process.exitCode = 1;
});
