import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, createDevice, memory, random, tree, type Device } from '../../src/node';
import { saveTrainingCheckpoint, loadTrainingCheckpoint } from '../../src/io/training-checkpoint';
import { createSharedGroup, dataParallel, inProcessGroup, joinSharedGroup, type DataParallel, type ReplicaSpec } from '../../src/parallel';
import mlp from './fixtures/mlp-replica';
import bnReplica from './fixtures/bn-replica';
import { batch, values } from './fixtures/mlp-data';

const REPLICA = new URL('./fixtures/mlp-replica.ts', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'webgrad-dp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function train(dp: DataParallel, steps: number, n = 8, split?: number[], from = 0) {
  const losses: number[] = [];
  for (let s = from; s < from + steps; s++) losses.push((await dp.step(batch(n, s), { split })).loss);
  const snap = await dp.snapshot();
  const v = { params: await values(snap.params), opt: await values(snap.optState.slots), step: snap.step, losses };
  tree.dispose([snap.params, snap.state, snap.optState.slots]);
  return v;
}

function expectClose(a: Record<string, number[]>, b: Record<string, number[]>, tol: number) {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const k of Object.keys(a)) {
    const worst = Math.max(...a[k].map((v, i) => Math.abs(v - b[k][i]) / (1e-3 + Math.abs(b[k][i]))));
    expect(worst, `${k}: largest relative difference`).toBeLessThan(tol);
  }
}

describe('dataParallel, one thread', () => {
  it('K=2 on split batches equals K=1 on whole batches, also for an uneven split (3+5), and the loss is the batch mean', async () => {
    await init();
    const one = await dataParallel({ replica: mlp, devices: 1, seed: 3 });
    const ref = await train(one, 4);
    await one.close();
    const two = await dataParallel({ replica: REPLICA, devices: 2, seed: 3 });
    expect(two.devices[1]).toMatch(/^device 1 \(dp1/);
    const even = await train(two, 4);
    await two.close();
    expectClose(even.params, ref.params, 1e-4);
    expectClose(even.opt, ref.opt, 1e-3);
    even.losses.forEach((l, i) => expect(l).toBeCloseTo(ref.losses[i], 5));
    const uneven = await dataParallel({ replica: mlp, devices: 2, seed: 3 });
    const r = await train(uneven, 4, 8, [3, 5]);
    await uneven.close();
    expectClose(r.params, ref.params, 1e-4);
  });

  it('the same seed and K give bit-identical parameters run to run; another seed does not', async () => {
    const run = async (seed: number) => {
      const dp = await dataParallel({ replica: mlp, devices: 2, seed, bucketBytes: 256 });
      const v = await train(dp, 3);
      await dp.close();
      return v;
    };
    const a = await run(5);
    const b = await run(5);
    expect(a.params).toEqual(b.params);
    expect(a.opt).toEqual(b.opt);
    expect((await run(6)).params).not.toEqual(a.params);
  });

  it('small buckets read during backward, or after it, give the result of one large bucket bit for bit', async () => {
    const run = async (bucketBytes: number, overlap = true) => {
      const dp = await dataParallel({ replica: mlp, devices: 2, seed: 1, bucketBytes, overlap });
      const r = await dp.step(batch(6, 0));
      const v = await train(dp, 1, 6, undefined, 1);
      await dp.close();
      return { v, stats: r.stats };
    };
    const small = await run(300);
    const late = await run(300, false);
    const large = await run(1 << 20);
    expect(large.stats.buckets).toBe(1);
    expect(small.stats.buckets).toBeGreaterThan(2);
    expect(small.v.params).toEqual(large.v.params);
    expect(late.v.params).toEqual(large.v.params);
    // one bucket arrives when backward is done: nothing of its all-reduce can be hidden
    expect(large.stats.hiddenFraction).toBe(0);
    expect(small.stats.hiddenFraction).toBeGreaterThanOrEqual(0);
    expect(small.stats.hiddenFraction).toBeLessThanOrEqual(1);
    expect(small.stats.bytes).toBe(large.stats.bytes);
  });

  it('a checkpoint saved at K=2 resumes at K=1 on the trajectory of a continuous K=1 run', async () => {
    const cont = await dataParallel({ replica: mlp, devices: 1, seed: 2 });
    const whole = await train(cont, 6);
    await cont.close();

    const two = await dataParallel({ replica: mlp, devices: 2, seed: 2 });
    await train(two, 3);
    const snap = await two.snapshot();
    const path = join(dir, 'k2.safetensors');
    await saveTrainingCheckpoint(path, snap);
    tree.dispose([snap.params, snap.state, snap.optState.slots]);
    await two.close();

    const t = mlp.init(random.key(0));
    const ck = await loadTrainingCheckpoint(path, { params: t.params, state: t.state, optState: mlp.optimizer().init(t.params) });
    expect(ck.step).toBe(3);
    const one = await dataParallel({ replica: mlp, devices: 1, seed: 99 });
    await one.load(ck);
    tree.dispose([ck.params, ck.state, ck.optState.slots]);
    expect(one.steps).toBe(3);
    const resumed = await train(one, 3, 8, undefined, 3);
    await one.close();
    expect(resumed.step).toBe(6);
    expectClose(resumed.params, whole.params, 1e-4);
    resumed.losses.forEach((l, i) => expect(l).toBeCloseTo(whole.losses[3 + i], 5));
  });

  it('GPU memory is flat across steps on every device', async () => {
    const devices = [await createDevice(), await createDevice()];
    const dp = await dataParallel({ replica: mlp, devices, seed: 0, bucketBytes: 400 });
    const seen: number[][] = [];
    for (let s = 0; s < 6; s++) {
      await dp.step(batch(5, s));
      seen.push(devices.flatMap((d) => [memory(d).liveTensors, memory(d).liveBytes]));
    }
    await dp.close();
    expect(seen[5]).toEqual(seen[1]);
    for (const d of devices) expect(memory(d).liveTensors).toBe(0);
    for (const d of devices) d.destroy();
  });

  it('a lost device stops every replica with one line naming it and the step; the checkpoint stays; the rest resumes', async () => {
    const devices: Device[] = [await createDevice({ label: 'keep' }), await createDevice({ label: 'doomed' })];
    const dp = await dataParallel({ replica: mlp, devices, seed: 4 });
    await train(dp, 2);
    const snap = await dp.snapshot();
    const path = join(dir, 'last.safetensors');
    await saveTrainingCheckpoint(path, snap);
    tree.dispose([snap.params, snap.state, snap.optState.slots]);
    const bytes = readFileSync(path);
    await dp.step(batch(8, 2));
    devices[1].gpu.destroy();
    const err = await dp.step(batch(8, 3)).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^data parallel: device 1 \(doomed, .*\) was lost at step 4$/);
    await expect(dp.step(batch(8, 4))).rejects.toThrow(/stopped after an earlier failure/);
    await dp.close();
    expect(readFileSync(path).equals(bytes)).toBe(true);

    const t = mlp.init(random.key(0));
    const ck = await loadTrainingCheckpoint(path, { params: t.params, state: t.state, optState: mlp.optimizer().init(t.params) });
    const rest = await dataParallel({ replica: mlp, devices: [devices[0]], seed: 0 });
    await rest.load(ck);
    tree.dispose([ck.params, ck.state, ck.optState.slots]);
    const r = await train(rest, 2, 8, undefined, 2);
    await rest.close();
    expect(r.step).toBe(4);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    devices[0].destroy();
  });
});

describe('dataParallel: bad input', () => {
  it('says what is wrong in one line', async () => {
    await expect(dataParallel({ replica: mlp, devices: 0 })).rejects.toThrow(/^dataParallel: devices is 0; expected a positive integer or a list of devices$/);
    await expect(dataParallel({ replica: {} as never, devices: 1 })).rejects.toThrow(/the replica has no init\(\) function/);
    await expect(dataParallel({ replica: mlp, devices: 2, threads: true })).rejects.toThrow(/with threads: true, replica must be a module URL or path/);
    await expect(dataParallel({ replica: new URL('./fixtures/missing.ts', import.meta.url), devices: 1 })).rejects.toThrow(/cannot import the replica module/);
    const dp = await dataParallel({ replica: mlp, devices: 2 });
    await expect(dp.step(batch(1, 0))).rejects.toThrow(/the batch has 1 rows; expected at least one per device \(2\)/);
    await expect(dp.step(batch(8, 0), { split: [2, 5] })).rejects.toThrow(/split is \[2,5\]; expected 2 positive integers summing to the batch's 8 rows/);
    const b = batch(4, 0);
    await expect(dp.step({ ...b, y: { data: b.y.data, shape: [3, 4] } })).rejects.toThrow(/batch.y has 3 rows; other inputs have 4/);
    const first = dp.step(batch(4, 0));
    await expect(dp.step(batch(4, 1))).rejects.toThrow(/step called while step is running; await each call first/);
    await first;
    await dp.close();
    await expect(dp.step(batch(4, 0))).rejects.toThrow(/step after close/);
  });
});

describe('dataParallel, worker threads', () => {
  it('K=2 in worker threads is bit-identical to K=2 in one thread, and matches K=1 (also for 3+5)', async () => {
    const local = await dataParallel({ replica: mlp, devices: 2, seed: 7, bucketBytes: 300 });
    const a = await train(local, 3);
    const au = await train(local, 2, 8, [3, 5], 3);
    await local.close();
    const threaded = await dataParallel({ replica: REPLICA, devices: 2, threads: true, seed: 7, bucketBytes: 300 });
    expect(threaded.devices).toHaveLength(2);
    expect(threaded.devices[1]).toMatch(/^device 1 \(dp1, /);
    const b = await train(threaded, 3);
    const bu = await train(threaded, 2, 8, [3, 5], 3);
    await threaded.close();
    expect(b.params).toEqual(a.params);
    expect(b.opt).toEqual(a.opt);
    expect(bu.params).toEqual(au.params);
    expect(bu.losses).toEqual(au.losses);
    const one = await dataParallel({ replica: mlp, devices: 1, seed: 7 });
    await train(one, 3);
    const ou = await train(one, 2, 8, undefined, 3);
    await one.close();
    expectClose(bu.params, ou.params, 1e-4);
  });

  it('adapters: each worker opens the adapter named for it, and an adapter that does not exist is a clear error', async () => {
    const listed = { backend: 'vulkan', name: 'llvmpipe' };
    const dp = await dataParallel({ replica: REPLICA, devices: 2, threads: true, adapters: [listed, listed], seed: 7 });
    expect(dp.devices[1]).toMatch(/^device 1 \(dp1, llvmpipe/);
    const a = await train(dp, 2);
    await dp.close();
    const plain = await dataParallel({ replica: REPLICA, devices: 2, threads: true, seed: 7 });
    expect((await train(plain, 2)).params).toEqual(a.params);
    await plain.close();
    await expect(dataParallel({ replica: REPLICA, devices: 2, threads: true, adapters: [listed] })).rejects.toThrow(
      /adapters must list one \{ backend, name \} per device \(2\)/,
    );
    await expect(dataParallel({ replica: REPLICA, devices: 1, threads: true, adapters: [{ backend: 'vulkan', name: 'no-such-gpu' }] })).rejects.toThrow(
      /starting the worker of device 0 failed: .*no-such-gpu/,
    );
  });

  it('a replica factory gets the config option in every worker', async () => {
    const factory = new URL('./fixtures/configured-replica.ts', import.meta.url);
    const run = async (lr: number, threads: boolean) => {
      const dp = await dataParallel({ replica: factory, config: { lr }, devices: 2, threads, seed: 2 });
      const v = await train(dp, 2);
      await dp.close();
      return v.params;
    };
    const slow = await run(0.001, true);
    expect(slow).toEqual(await run(0.001, false));
    expect(await run(0.1, true)).not.toEqual(slow);
  });

  it('GPU memory in the workers is flat across steps', async () => {
    const dp = await dataParallel({ replica: REPLICA, devices: 2, threads: true, bucketBytes: 400 });
    const seen = [];
    for (let s = 0; s < 5; s++) seen.push((await dp.step(batch(6, s))).stats.memory);
    await dp.close();
    expect(seen[1][0].liveTensors).toBeGreaterThan(0);
    expect(seen[4]).toEqual(seen[1]);
  });

  it('a device lost in a worker stops the others with one line naming it; a new trainer resumes from the checkpoint', async () => {
    process.env.DP_LOSE_LABEL = 'dp1';
    process.env.DP_LOSE_AT = '3';
    const lossy = new URL('./fixtures/lossy-replica.ts', import.meta.url);
    const dp = await dataParallel({ replica: lossy, devices: 2, threads: true, seed: 4 });
    delete process.env.DP_LOSE_LABEL;
    await train(dp, 2);
    const snap = await dp.snapshot();
    const path = join(dir, 'threads-last.safetensors');
    await saveTrainingCheckpoint(path, snap);
    tree.dispose([snap.params, snap.state, snap.optState.slots]);
    const bytes = readFileSync(path);
    const t0 = performance.now();
    const err = await dp.step(batch(8, 2)).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^data parallel: device 1 \(dp1, .*\) was lost at step 3$/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    await dp.close();
    expect(readFileSync(path).equals(bytes)).toBe(true);
    const t = mlp.init(random.key(0));
    const ck = await loadTrainingCheckpoint(path, { params: t.params, state: t.state, optState: mlp.optimizer().init(t.params) });
    const rest = await dataParallel({ replica: REPLICA, devices: 1, threads: true });
    await rest.load(ck);
    tree.dispose([ck.params, ck.state, ck.optState.slots]);
    const r = await train(rest, 1, 8, undefined, 2);
    await rest.close();
    expect(r.step).toBe(3);
    expect(r.losses.every(Number.isFinite)).toBe(true);
  });
});

describe('dataParallel with BatchNorm', () => {
  const BN = new URL('./fixtures/bn-replica.ts', import.meta.url);
  const run = async (options: { devices: number; syncBatchNorm?: boolean; threads?: boolean }, split?: number[]) => {
    const dp = await dataParallel({ replica: options.threads ? BN : bnReplica, seed: 1, ...options });
    const losses: number[] = [];
    for (let s = 0; s < 3; s++) losses.push((await dp.step(batch(8, s), { split })).loss);
    const snap = await dp.snapshot();
    const v = { params: await values(snap.params), state: await values(snap.state), losses };
    tree.dispose([snap.params, snap.state, snap.optState.slots]);
    await dp.close();
    return v;
  };

  it('syncBatchNorm: K=2 (even and 3+5, one thread and worker threads) equals K=1; per-replica statistics do not', async () => {
    const one = await run({ devices: 1 });
    const synced = await run({ devices: 2, syncBatchNorm: true });
    expectClose(synced.params, one.params, 1e-4);
    expectClose(synced.state, one.state, 1e-4);
    synced.losses.forEach((l, i) => expect(l).toBeCloseTo(one.losses[i], 5));
    expectClose((await run({ devices: 2, syncBatchNorm: true }, [3, 5])).params, one.params, 1e-4);
    const threaded = await run({ devices: 2, syncBatchNorm: true, threads: true });
    expect(threaded.params).toEqual(synced.params);
    expect(threaded.state).toEqual(synced.state);
    // per-replica statistics normalise each half with its own mean and variance: another trajectory
    const local = await run({ devices: 2 });
    expect(() => expectClose(local.params, one.params, 1e-4)).toThrow();
    // their running means are averaged (weighted by the split), which for the mean is exactly the full batch's update
    expect(local.state['bn.num_batches_tracked']).toEqual([3]);
  });
});

describe('dataParallel with a collective (one rank per process, as under MPI)', () => {
  /** Two trainers, each one rank of a group, stepping together (as two processes would). */
  const pair = async (replica: ReplicaSpec, options: { syncBatchNorm?: boolean; bucketBytes?: number } = {}, steps = 3, split?: number[]) => {
    const group = inProcessGroup(2);
    const dps = await Promise.all(group.map((collective) => dataParallel({ replica, devices: 1, collective, seed: 1, ...options })));
    expect(dps.map((d) => d.size)).toEqual([2, 2]);
    expect(dps[1].devices[0]).toMatch(/^device 1 \(dp1, /);
    const losses: number[][] = [];
    for (let s = 0; s < steps; s++) {
      const rs = await Promise.all(dps.map((d) => d.step(batch(8, s), { split })));
      expect(rs[1].loss).toBe(rs[0].loss);
      expect(rs[1].losses).toEqual(rs[0].losses);
      losses.push(rs[0].losses);
    }
    const out = [];
    for (const d of dps) {
      const snap = await d.snapshot();
      out.push({ params: await values(snap.params), state: await values(snap.state) });
      tree.dispose([snap.params, snap.state, snap.optState.slots]);
      await d.close();
    }
    expect(out[1]).toEqual(out[0]);
    return { ...out[0], losses };
  };

  it('two one-device ranks equal K=2 in one trainer bit for bit (also 3+5), and K=1 within float tolerance', async () => {
    const ranks = await pair(mlp, {}, 3, [3, 5]);
    const two = await dataParallel({ replica: mlp, devices: 2, seed: 1 });
    const ref = await train(two, 3, 8, [3, 5]);
    await two.close();
    expect(ranks.params).toEqual(ref.params);
    const one = await dataParallel({ replica: mlp, devices: 1, seed: 1 });
    const single = await train(one, 3);
    await one.close();
    expectClose(ranks.params, single.params, 1e-4);
  });

  it('syncBatchNorm through the same collective (buckets read after backward) equals K=1', async () => {
    const ranks = await pair(bnReplica, { syncBatchNorm: true, bucketBytes: 64 });
    const one = await dataParallel({ replica: bnReplica, devices: 1, seed: 1 });
    for (let s = 0; s < 3; s++) await one.step(batch(8, s));
    const snap = await one.snapshot();
    const ref = { params: await values(snap.params), state: await values(snap.state) };
    tree.dispose([snap.params, snap.state, snap.optState.slots]);
    await one.close();
    expectClose(ranks.params, ref.params, 1e-4);
    expectClose(ranks.state, ref.state, 1e-4);
  });

  it("a rank whose device is lost fails the group: the other process's trainer stops with the reason instead of hanging", async () => {
    const group = createSharedGroup({ size: 2, timeoutMs: 60_000 });
    const devices = [await createDevice({ label: 'p0' }), await createDevice({ label: 'p1' })];
    const dps = await Promise.all([0, 1].map((r) => dataParallel({ replica: mlp, devices: [devices[r]], collective: joinSharedGroup(group, r) })));
    await Promise.all(dps.map((d) => d.step(batch(8, 0))));
    devices[1].gpu.destroy();
    const t0 = performance.now();
    const errors = await Promise.all(
      dps.map((d) =>
        d.step(batch(8, 1)).then(
          () => null,
          (e: Error) => e.message,
        ),
      ),
    );
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(errors[1]).toMatch(/^data parallel: device 1 \(p1, .*\) was lost at step 2$/);
    expect(errors[0]).toMatch(/^data parallel: device 0 \(p0, .*\) failed at step 2: .*device 1 \(p1, .*\) was lost at step 2/);
    for (const d of dps) await d.close();
    devices[0].destroy();
  });
});
