/**
 * The MPI collective across real processes: `mpirun -np K node --import tsx test/parallel/mpi-rank.ts <case>`.
 * Skipped, saying why, only when mpirun or the addon (node scripts/build-mpi.mjs) is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mpiCollective } from '../../src/parallel/node/mpi-collective';

const root = join(import.meta.dirname, '../..');
const addon = join(root, 'build/webgrad_mpi.node');
const version = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const openMpi = /Open MPI/i.test(version.stdout ?? '');
const missing =
  version.error || version.status !== 0 ? 'mpirun not found' : !existsSync(addon) ? 'the MPI addon is not built (node scripts/build-mpi.mjs)' : null;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  results: Record<string, unknown>[];
}

/** Runs `mpirun -np <np> node --import tsx test/parallel/mpi-rank.ts <which>` (or another script); results sorted by rank. */
function mpirun(np: number, which: string, options: { env?: Record<string, string>; mpiArgs?: string[]; wrap?: boolean; script?: string } = {}): Run {
  const local = openMpi
    ? {
        // root in a container: allowed explicitly; no ssh needed for a local launch; no CMA single copies (ptrace is often denied)
        OMPI_ALLOW_RUN_AS_ROOT: '1',
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
        OMPI_MCA_plm_rsh_agent: '',
        OMPI_MCA_btl_vader_single_copy_mechanism: 'none',
        OMPI_MCA_mpi_yield_when_idle: '1',
      }
    : {};
  const node = [process.execPath, '--import', 'tsx', options.script ?? 'test/parallel/mpi-rank.ts', which];
  // wrap: a shell reports each rank's own exit status, which mpirun does not
  const command = options.wrap ? ['sh', '-c', '"$@"; echo "rank exit status $?"', 'sh', ...node] : node;
  const args = [...(openMpi ? ['--oversubscribe'] : []), ...(options.mpiArgs ?? []), '-np', String(np), ...command];
  const started = performance.now();
  const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...local, ...options.env };
  const r = spawnSync('mpirun', args, { cwd: root, encoding: 'utf8', timeout: 150_000, env });
  const results = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('result '))
    .map((l) => JSON.parse(l.slice(7)) as Record<string, unknown>)
    .sort((a, b) => (a.rank as number) - (b.rank as number));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - started) / 1000, results };
}

const show = (r: Run) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

describe('mpiCollective without the addon', () => {
  it('rejects with one line saying how to build it', async () => {
    const error = await mpiCollective({ addon: join(root, 'build/no-such-addon.node') }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('CollectiveError');
    expect((error as Error).message).toMatch(/^mpiCollective: the MPI addon .*no-such-addon\.node is missing; build it with `node scripts\/build-mpi\.mjs`/);
    expect((error as Error).message).not.toContain('\n');
  });

  it('rejects a bad timeout naming it', async () => {
    await expect(mpiCollective({ timeoutMs: 0 })).rejects.toThrow(/mpiCollective: argument 'timeoutMs' is 0; expected a positive number/);
  });
});

describe.skipIf(missing !== null)(`mpiCollective across processes${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('allReduce gives every rank the in-process group’s rank-ordered float32 sum, bit for bit', () => {
    // with 2 ranks the order of a float sum cannot show (a + b = b + a); with 4 Open MPI's own MPI_Allreduce
    // differs from the rank-ordered sum in ~4% of elements here. Several rounds of 1000 floats each.
    for (const np of [2, 3, 4]) {
      const r = mpirun(np, 'sums', { env: { WEBGRAD_MPI_ROUND_FLOATS: '1000' } });
      expect(r.status, show(r)).toBe(0);
      expect(r.results.map((x) => x.rank)).toEqual([...Array(np).keys()]);
      for (const x of r.results) {
        expect(x.kind).toBe('mpi');
        expect(x.size).toBe(np);
        expect(x.mismatches, show(r)).toBe(0);
        expect(x.digests).toEqual(r.results[0].digests);
      }
    }
  });

  it('a process started without mpirun is a group of one', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/parallel/mpi-rank.ts', 'sums'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^result \{"rank":0,"size":1,"kind":"mpi","mismatches":0,/);
  });

  it('a program that never closes the collective still ends cleanly (finalized when its event loop empties)', () => {
    const r = mpirun(2, 'no-finalize');
    expect(r.status, show(r)).toBe(0);
    expect(r.results).toHaveLength(2);
  });

  it('broadcast copies the root’s values to every rank', () => {
    const r = mpirun(2, 'broadcast');
    expect(r.status, show(r)).toBe(0);
    expect(r.results.map((x) => [x.ok, x.okRoot0])).toEqual([
      [true, true],
      [true, true],
    ]);
  });

  it('barrier lets no rank through before the last one arrives', () => {
    const r = mpirun(2, 'barrier');
    expect(r.status, show(r)).toBe(0);
    const lastIn = Math.max(...r.results.map((x) => x.entered as number));
    for (const x of r.results) expect(x.left as number).toBeGreaterThanOrEqual(lastIn);
    // rank 1 came 400 ms late, so rank 0 really waited
    expect((r.results[0].left as number) - (r.results[0].entered as number)).toBeGreaterThanOrEqual(300);
  });

  it('the JavaScript thread keeps running while a collective waits', () => {
    const r = mpirun(2, 'timers');
    expect(r.status, show(r)).toBe(0);
    // rank 0 waited ~1 s for rank 1: its 20 ms interval kept firing
    expect(r.results[0].ticks as number).toBeGreaterThanOrEqual(10);
  });

  it('a duplicate channel lets ranks interleave two streams of collectives in different orders', () => {
    const r = mpirun(2, 'channels');
    expect(r.status, show(r)).toBe(0);
    expect(r.results.map((x) => x.ok)).toEqual([true, true]);
  });

  it('ranks that call different operations are named, and the group stays usable', () => {
    const r = mpirun(2, 'mismatch');
    expect(r.status, show(r)).toBe(0);
    for (const x of r.results) {
      expect(x.error).toMatch(
        /^mpi collective: rank \d of 2: allReduce\(1[01]\) failed: ranks disagree: rank 1 called allReduce\(11\) as call 0, but rank 0 called allReduce\(10\) as call 0$/,
      );
      expect(x.after).toBe(3);
    }
  });

  it('a killed rank ends the job: mpirun stops the survivor and names the dead rank', () => {
    // Open MPI's default: when a rank dies, mpirun terminates the others (well before the 30 s collective timeout)
    const r = mpirun(2, 'kill');
    expect(r.status, show(r)).not.toBe(0);
    expect(r.seconds).toBeLessThan(25);
    expect(r.stdout + r.stderr).toMatch(/rank 1 .*(signal 9|Killed)/);
  });

  it.skipIf(!openMpi)('a killed rank, when mpirun lets the job run on: the survivor gives up within its timeout, with one line', () => {
    const r = mpirun(2, 'kill', { env: { MPI_TEST_TIMEOUT_MS: '3000' }, mpiArgs: ['--mca', 'orte_enable_recovery', '1'], wrap: true });
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('rank 0 gave up'));
    expect(lines, show(r)).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^rank 0 gave up after (\d+) ms: mpi collective: rank 0 of 2: allReduce\(1000\) \(call 1\) got no answer within 3000 ms: another rank died, hangs or called something else; this MPI job cannot continue$/,
    );
    const waited = Number(/after (\d+) ms/.exec(lines[0])?.[1]);
    expect(waited).toBeGreaterThanOrEqual(3000);
    expect(waited).toBeLessThan(4500);
    // the survivor exited by itself, with status 1, although its MPI thread is still stuck in the reduction
    expect(r.stdout).toContain('rank exit status 1');
    expect(r.seconds).toBeLessThan(30);
  });

  it.skipIf(!openMpi)('abortJob after a timeout ends the job, although the survivor’s MPI thread is stuck in the reduction', () => {
    const env = { MPI_TEST_TIMEOUT_MS: '2000', MPI_TEST_ABORT: '1' };
    const r = mpirun(2, 'kill', { env, mpiArgs: ['--mca', 'orte_enable_recovery', '1'], wrap: true });
    expect(r.stderr, show(r)).toMatch(/rank 0 gave up after \d+ ms: mpi collective: rank 0 of 2: allReduce\(1000\) \(call 1\) got no answer within 2000 ms/);
    expect(r.stdout, show(r)).toContain('rank exit status 4');
    expect(r.seconds).toBeLessThan(30);
  });

  it('abort(reason) on one rank fails every rank’s pending and later calls at once, naming it', () => {
    const r = mpirun(2, 'abort', { wrap: true });
    expect(
      r.results.map((x) => x.rank),
      show(r),
    ).toEqual([0, 1]);
    const [zero, one] = r.results as { errors: string[]; ms: number }[];
    expect(zero.errors).toEqual([
      'CollectiveError: mpi collective: rank 0 of 2: allReduce(10) failed: rank 1 aborted: device 1 was lost',
      expect.stringMatching(
        /^CollectiveError: mpi collective: rank 0 of 2: barrier\(\) refused after an earlier failure \(.*rank 1 aborted: device 1 was lost\)$/,
      ),
    ]);
    // rank 0 waited for rank 1's 300 ms, not for its 30 s timeout
    expect(zero.ms).toBeLessThan(5000);
    for (const e of one.errors) expect(e).toMatch(/^CollectiveError: mpi collective: rank 1 of 2: .*rank 1 aborted: device 1 was lost\)?$/);
    expect(one.errors).toHaveLength(2);
  });

  it('a rank that times out tells the others, so a late rank does not wait in turn', () => {
    const r = mpirun(2, 'slow', { env: { MPI_TEST_TIMEOUT_MS: '1000' }, wrap: true });
    const [zero, one] = r.results as { error: string; ms: number }[];
    expect(zero.error, show(r)).toMatch(/^mpi collective: rank 0 of 2: allReduce\(10\) \(call 1\) got no answer within 1000 ms/);
    expect(one.error).toBe('mpi collective: rank 1 of 2: allReduce(10) failed: rank 0 aborted: allReduce(10) got no answer within 1000 ms');
    expect(one.ms).toBeLessThan(500);
  });

  it('abortJob ends every rank with the given code', () => {
    const r = mpirun(2, 'abort-job');
    expect(r.status, show(r)).toBe(3);
    expect(r.seconds).toBeLessThan(25);
    expect(r.results).toEqual([]);
  });

  it('dataParallel over MPI, one process per device: K=2 equals K=1, and bit for bit K=2 in one trainer (also 3+5)', () => {
    const r = mpirun(2, 'equivalence', { script: 'test/parallel/mpi-trainer-rank.ts' });
    expect(r.status, show(r)).toBe(0);
    const [zero, one] = r.results;
    expect([zero.rank, one.rank, zero.size]).toEqual([0, 1, 2]);
    expect(one.params).toBe(zero.params);
    // the tolerances of the in-process equivalence test (test/parallel/data-parallel.test.ts)
    expect(zero.worstVsK1).toBeLessThan(1e-4);
    expect(zero.worstUnevenVsK1).toBeLessThan(1e-4);
    expect(zero.worstOptVsK1).toBeLessThan(1e-3);
    expect(zero.lossDiff).toBeLessThan(1e-5);
    expect(zero.identicalToOneTrainerK2).toBe(true);
  });

  it('dataParallel over MPI with syncBatchNorm through the group equals K=1', () => {
    const r = mpirun(2, 'sync-bn', { script: 'test/parallel/mpi-trainer-rank.ts' });
    expect(r.status, show(r)).toBe(0);
    const [zero, one] = r.results;
    expect(one.params).toBe(zero.params);
    expect(zero.worstVsK1).toBeLessThan(1e-4);
    expect(zero.worstStateVsK1).toBeLessThan(1e-4);
  });

  it('dataParallel over MPI: a lost device stops both ranks at once, each with one line naming it', () => {
    const r = mpirun(2, 'lost', { script: 'test/parallel/mpi-trainer-rank.ts', wrap: true });
    expect(
      r.results.map((x) => x.rank),
      show(r),
    ).toEqual([0, 1]);
    const [zero, one] = r.results as { error: string; ms: number }[];
    expect(one.error).toMatch(/^DataParallelError: data parallel: device 1 \(dp1, .*\) was lost at step 3$/);
    // rank 1's trainer aborts the group, so rank 0 learns its reason well before its 5 s collective timeout
    expect(zero.error).toMatch(
      /^DataParallelError: data parallel: device 0 \(dp0, .*\) failed at step 3: mpi collective: rank 0 of 2: allReduce\(\d+\) failed: rank 1 aborted: data parallel: device 1 \(dp1, .*\) was lost at step 3$/,
    );
    expect(zero.ms).toBeLessThan(4000);
  });
});
