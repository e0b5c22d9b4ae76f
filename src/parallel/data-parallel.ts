/**
 * The data-parallel trainer: a replica (model, optimizer, loss) on K devices, each step's batch split on dim 0,
 * gradients all-reduced in buckets through host memory, the same optimizer update on every device. Ranks run in
 * this thread (`threads: false`) or one worker thread per device (`threads: true`, Node).
 */
import type { Device } from '../kernels/webgpu/device';
import { createDevice, getDefaultDevice, init, setDefaultDevice } from '../kernels/webgpu/devices';
import { PeerFailedError, abortable } from './abortable';
import type { Collective } from '../base/collective';
import { DEFAULT_BUCKET_BYTES } from './buckets';
import { fromSkeleton, toHostLeaves, type HostTrainingState } from './host-tree';
import { localRanks } from './local-ranks';
import { threadLauncher, type RankHandle, type WorkerAdapter } from './rank-handle';
import { importReplica, resolveReplica, type ReplicaFactory, type ReplicaOptimizerState, type ReplicaSpec } from './replica';
import { batchRows, checkSplit, sliceBatch, splitSizes, type HostBatch } from './split';

/** Options of {@link dataParallel}. */
export interface DataParallelOptions {
  /**
   * The replica: a module URL or path whose default export is {@link defineReplica}'s result, or the spec (or
   * factory) itself (threads: false only).
   */
  replica: URL | string | ReplicaSpec | ReplicaFactory;
  /** Passed to a replica factory (`defineReplica((config) => ...)`) in every thread; structured-cloneable for threads: true. */
  config?: unknown;
  /** How many devices to open (on the default adapter), or the devices to use (threads: false only). */
  devices: number | readonly Device[];
  /** One worker thread per device (Node, via `@webgrad/core/node`); default false: all replicas in this thread. */
  threads?: boolean;
  /**
   * With threads: true, the adapter each worker opens its device on, one entry per device, as `webgrad devices`
   * lists them (Dawn's backend and adapter name; Node). Default: every worker opens the default adapter.
   */
  adapters?: readonly WorkerAdapter[];
  /**
   * BatchNorm statistics over the whole batch (all ranks; torch.nn.SyncBatchNorm) instead of per replica. Default
   * false: each replica normalises with its slice's statistics (as PyTorch's DDP), and after every step the running
   * statistics are averaged over replicas weighted by their share of the batch (for the running mean exactly the
   * full batch's update), so every replica, and every checkpoint, holds the same state.
   */
  syncBatchNorm?: boolean;
  /** Gradient bucket size in bytes (default 25 MiB, PyTorch DDP's bucket_cap_mb). */
  bucketBytes?: number;
  /**
   * Read each gradient bucket back as soon as its gradients are final, while the rest of backward is still being
   * encoded and run, so the all-reduce overlaps backward (default true; false waits for the whole backward, e.g. to
   * measure what overlapping gains).
   */
  overlap?: boolean;
  /** Seed of the replica's init (when {@link DataParallel.load} is not called). Default 0. */
  seed?: number;
  /**
   * A group this process is one rank of (e.g. MPI: one process per device, `mpirun -np 2`): the trainer drives one
   * device (devices: 1) as rank `collective.rank` of `collective.size`. Every process passes the same whole batch
   * to {@link DataParallel.step}; each takes its own slice. With syncBatchNorm the statistics go through the same
   * group (gradient buckets are then read back after backward, so that every rank calls it in the same order).
   */
  collective?: Collective;
}

/** Timings of one step, in milliseconds, the maximum over ranks unless said otherwise. */
export interface DataParallelStats {
  /** Rows per device. */
  split: number[];
  /** Encoding forward and backward on the host. */
  encodeMs: number;
  /** Time in the collective's allReduce (gradient buckets), per rank, maximum over ranks. */
  allReduceMs: number;
  /** Of allReduceMs, the time before the last bucket's values arrived (spent while the GPU still ran backward), maximum over ranks. */
  hiddenMs: number;
  /** hiddenMs / allReduceMs summed over ranks (0 when nothing was reduced). */
  hiddenFraction: number;
  /** The whole step. */
  stepMs: number;
  /** Gradient buckets per step. */
  buckets: number;
  /** Gradient bytes all-reduced per rank. */
  bytes: number;
  /** Per rank: live tensors and their GPU bytes on its device after the step (flat from step to step: no leak). */
  memory: { liveTensors: number; liveBytes: number }[];
}

/** The result of {@link DataParallel.step}. */
export interface DataParallelStepResult {
  /** The batch's loss: the slices' losses weighted by their share of the batch. */
  loss: number;
  /** Per-rank losses (each a mean over its slice). */
  losses: number[];
  /** Timings. */
  stats: DataParallelStats;
}

/** Parameters, model state and optimizer state on the trainer's device, and the number of steps taken. */
export interface DataParallelSnapshot {
  /** The replica's parameters. */
  params: any;
  /** The replica's model state (BatchNorm statistics). */
  state: any;
  /** The optimizer's state. */
  optState: ReplicaOptimizerState;
  /** Steps taken (since init, or the loaded checkpoint's step). */
  step: number;
}

/** What {@link DataParallel.load} accepts: Tensor trees or host tensors ({ data, shape }), e.g. a training checkpoint. */
export interface DataParallelLoad {
  /** Parameters, shaped like the replica's init(). */
  params: unknown;
  /** Model state, shaped like the replica's init(). */
  state: unknown;
  /** Optimizer state; a fresh one when omitted. */
  optState?: { step: number; slots: unknown };
  /** The step to continue from (default: optState.step, or 0). */
  step?: number;
}

/** Options of {@link DataParallel.step}. */
export interface DataParallelStepOptions {
  /** Rows per device (summing to the batch's rows, each ≥ 1), e.g. to give a faster device more; default: as equal as possible. */
  split?: readonly number[];
}

/** A data-parallel trainer made by {@link dataParallel}. */
export interface DataParallel {
  /** Number of ranks (devices; with a collective, processes of the group). */
  readonly size: number;
  /** The devices this process drives, as errors name them ('device 1 (webgpu:3, llvmpipe …)'). */
  readonly devices: readonly string[];
  /** Steps taken so far. */
  readonly steps: number;
  /** Replaces every replica's parameters, state and optimizer state (e.g. from a training checkpoint). */
  load(values: DataParallelLoad): Promise<void>;
  /** One training step on `batch` (split on dim 0 across the devices). */
  step(batch: HostBatch, options?: DataParallelStepOptions): Promise<DataParallelStepResult>;
  /** Rank 0's parameters, state and optimizer state as tensors on the trainer's (default) device. */
  snapshot(): Promise<DataParallelSnapshot>;
  /** Frees the replicas, stops the workers and closes the devices the trainer opened. */
  close(): Promise<void>;
}

/** A replica failed: names the device and the step (e.g. 'data parallel: device 1 (webgpu:3, …) was lost at step 5'). */
export class DataParallelError extends Error {
  /** Wraps the one-line message. */
  constructor(
    message: string,
    /** The rank that failed. */
    readonly rank: number,
    /** The step that failed (1-based). */
    readonly step: number,
    /** True when the failure was a lost device. */
    readonly deviceLost: boolean,
  ) {
    super(message);
    this.name = 'DataParallelError';
  }
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];

/**
 * Starts a data-parallel trainer over `devices`: the replica's parameters initialised from `seed` on rank 0 and
 * broadcast, then each {@link DataParallel.step} splits the batch, runs forward and backward on every device,
 * all-reduces the gradients and applies the same update everywhere.
 *
 * @example
 * ```ts
 * import { init, optim, randn, matmul, mean, square, sub } from '@webgrad/core/node';
 * import { dataParallel, defineReplica } from '@webgrad/core/parallel';
 * await init();
 * // usually a module of its own (`export default defineReplica({...})`), so that worker threads can import it
 * const replica = defineReplica({
 *   init: (key) => ({ params: { w: randn(key, [4, 1]) }, state: {} }),
 *   optimizer: () => optim.sgd({ lr: 0.1 }),
 *   loss: (p, state, batch) => [mean(square(sub(matmul(batch.x, p.w), batch.y))), { state }],
 * });
 * const dp = await dataParallel({ replica, devices: 2 }); // threads: true takes the module's URL instead
 * const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
 * const { loss, stats } = await dp.step({ x: { data: x, shape: [8, 4] }, y: { data: new Float32Array(8).fill(1), shape: [8, 1] } });
 * console.log(stats.split, loss > 0); // [4, 4] true
 * await dp.close();
 * ```
 */
export async function dataParallel(options: DataParallelOptions): Promise<DataParallel> {
  const { threads = false, syncBatchNorm = false, bucketBytes = DEFAULT_BUCKET_BYTES, seed = 0, overlap = true } = options ?? ({} as DataParallelOptions);
  const fn = 'dataParallel';
  if (!Number.isFinite(bucketBytes) || bucketBytes < 4) throw new TypeError(`${fn}: bucketBytes is ${bucketBytes}; expected at least 4`);
  if (!Number.isInteger(seed) || seed < 0) throw new TypeError(`${fn}: seed is ${seed}; expected a non-negative integer`);
  const devs = options.devices;
  const local = typeof devs === 'number' ? devs : Array.isArray(devs) ? devs.length : NaN;
  if (!Number.isInteger(local) || local < 1) throw new TypeError(`${fn}: devices is ${String(devs)}; expected a positive integer or a list of devices`);
  const external = options.collective ? abortable(options.collective) : null;
  if (external && (local !== 1 || threads))
    throw new TypeError(`${fn}: with a collective, this process is one rank: give devices: 1 (or one device) and threads: false`);
  // ranks in the whole group, and this process's first rank
  const k = external ? external.size : local;
  const myRank = external ? external.rank : 0;

  // the trainer's own device: snapshots land there, and it is the default again after each step
  const main = await init();
  let ranks: RankHandle[];
  let owned: Device[] = [];
  if (threads) {
    const launch = threadLauncher();
    if (!launch) throw new TypeError(`${fn}: threads: true needs worker threads: import '@webgrad/core/node' (or use threads: false)`);
    if (typeof devs !== 'number') throw new TypeError(`${fn}: with threads: true, devices must be a count (each worker opens its own device)`);
    if (typeof options.replica !== 'string' && !(options.replica instanceof URL))
      throw new TypeError(`${fn}: with threads: true, replica must be a module URL or path (workers import it)`);
    const adapters = options.adapters;
    if (
      adapters !== undefined &&
      (!Array.isArray(adapters) || adapters.length !== local || !adapters.every((a) => typeof a?.backend === 'string' && typeof a?.name === 'string'))
    )
      throw new TypeError(`${fn}: adapters must list one { backend, name } per device (${local}); got ${JSON.stringify(adapters)}`);
    ranks = await launch({ replica: String(options.replica), config: options.config, devices: local, adapters, syncBatchNorm, bucketBytes, overlap });
  } else {
    const spec =
      typeof options.replica === 'string' || options.replica instanceof URL
        ? await importReplica(options.replica, options.config)
        : resolveReplica(options.replica, options.config, fn);
    if (typeof devs === 'number') owned = await Promise.all(Array.from({ length: local }, (_, i) => createDevice({ label: `dp${myRank + i}` })));
    ranks = localRanks(spec, typeof devs === 'number' ? owned : devs, { bucketBytes, syncBatchNorm, overlap }, external);
  }

  let steps = 0;
  let failure: DataParallelError | null = null;
  let closed = false;
  let busy: string | null = null;

  /** Runs `call` on every rank; the first rank to fail stops the others and names itself in the error. */
  async function all<T>(what: string, stepNo: number, call: (r: RankHandle, k: number) => Promise<T>): Promise<T[]> {
    if (closed) throw new Error(`${fn}: ${what} after close()`);
    if (failure) throw new Error(`data parallel: stopped after an earlier failure (${failure.message})`);
    // every rank must see the calls in the same order: one at a time
    if (busy) throw new Error(`${fn}: ${what} called while ${busy} is running; await each call first`);
    busy = what;
    let first: { k: number; error: unknown } | null = null;
    const settled = await Promise.allSettled(
      ranks.map((r, k) =>
        call(r, k).catch((error) => {
          if (!first && !(error instanceof PeerFailedError)) {
            first = { k, error };
            const reason = new PeerFailedError(`data parallel: ${r.name} failed`);
            ranks.forEach((o, j) => j !== k && o.abort(reason));
          }
          throw error;
        }),
      ),
    );
    busy = null;
    try {
      setDefaultDevice(main);
    } catch {
      // the trainer's device is the caller's; leave it
    }
    if (first) {
      const { k: bad, error } = first as { k: number; error: unknown };
      const lost = await ranks[bad].lost(error);
      const at = stepNo > 0 ? ` at step ${stepNo}` : ` during ${what}`;
      failure = new DataParallelError(
        lost ? `data parallel: ${ranks[bad].name} was lost${at}` : `data parallel: ${ranks[bad].name} failed${at}: ${firstLine(error)}`,
        myRank + bad,
        stepNo,
        lost,
      );
      // the other processes of an external group wait for this one: fail the group (where the collective can)
      external?.stop(new PeerFailedError(failure.message));
      throw failure;
    }
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  }

  try {
    await all('setup', 0, (r) => r.setup(seed));
  } catch (e) {
    await Promise.allSettled(ranks.map((r) => r.close()));
    for (const d of owned) d.destroy();
    throw e;
  }

  const dp: DataParallel = {
    size: k,
    devices: ranks.map((r) => r.name),
    get steps() {
      return steps;
    },
    async load(values) {
      if (!values || typeof values !== 'object') throw new TypeError(`${fn}.load: expected { params, state, optState? }; got ${typeof values}`);
      const host: HostTrainingState = {
        params: await toHostLeaves(values.params, 'params'),
        state: await toHostLeaves(values.state ?? {}, 'state'),
        optState: values.optState ? { step: values.optState.step, slots: await toHostLeaves(values.optState.slots, 'optState.slots') } : undefined,
      };
      await all('load', 0, (r) => r.load(host));
      steps = values.step ?? values.optState?.step ?? 0;
    },
    async step(batch, stepOptions = {}) {
      const n = batchRows(batch, k);
      const sizes = stepOptions.split ? checkSplit(stepOptions.split, n, k) : splitSizes(n, k);
      const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
      const t0 = performance.now();
      const results = await all('step', steps + 1, (r, i) => r.step(sliceBatch(batch, starts[myRank + i], sizes[myRank + i]), sizes[myRank + i] / n));
      steps++;
      let losses = results.map((r) => r.loss);
      if (external) {
        // every rank's loss, in one all-reduce (each fills its own slot)
        const all = new Float32Array(k);
        all[myRank] = losses[0];
        await external.allReduce(all);
        losses = Array.from(all);
      }
      const max = (f: (s: (typeof results)[0]['stats']) => number) => Math.max(...results.map((r) => f(r.stats)));
      const reduceSum = results.reduce((a, r) => a + r.stats.allReduceMs, 0);
      return {
        loss: losses.reduce((a, l, i) => a + (sizes[i] / n) * l, 0),
        losses,
        stats: {
          split: sizes,
          encodeMs: max((s) => s.encodeMs),
          allReduceMs: max((s) => s.allReduceMs),
          hiddenMs: max((s) => s.hiddenMs),
          hiddenFraction: reduceSum > 0 ? results.reduce((a, r) => a + r.stats.hiddenMs, 0) / reduceSum : 0,
          stepMs: performance.now() - t0,
          buckets: results[0].stats.buckets,
          bytes: results[0].stats.bytes,
          memory: results.map((r) => ({ liveTensors: r.stats.liveTensors, liveBytes: r.stats.liveBytes })),
        },
      };
    },
    async snapshot() {
      const [host] = await all('snapshot', 0, (r, i) => (i === 0 ? r.snapshot() : Promise.resolve(null as unknown as HostTrainingState)));
      const sk = host.skeleton!;
      const params = fromSkeleton(sk.params, host.params, main);
      const state = fromSkeleton(sk.state, host.state, main);
      const slots = fromSkeleton(sk.slots, host.optState!.slots, main) as ReplicaOptimizerState['slots'];
      return { params, state, optState: { step: host.optState!.step, slots }, step: steps };
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled(ranks.map((r) => r.close()));
      for (const d of owned) {
        try {
          d.destroy();
        } catch {
          // already lost
        }
      }
      try {
        if (getDefaultDevice() !== main) setDefaultDevice(main);
      } catch {
        // no default device
      }
    },
  };
  return dp;
}
