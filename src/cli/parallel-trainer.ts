/**
 * The CLIs' bridge to the data-parallel trainer (src/parallel/data-parallel.ts): opens it on the devices a
 * `--devices` value names, starts it from the weights the command already set up (fresh, --init or --resume), and
 * brings the weights back to the command's own device for evaluation and checkpoints.
 */
import { type Device, init, tree } from '../node';
import { dataParallel, type DataParallel, type DataParallelStepResult, type HostBatch, type ReplicaSpec, type WorkerAdapter } from '../parallel';
import { listAdapters, requestListedAdapter } from './adapters';
import { type DevicesArg, deviceCount, openDevicesArg, resolveDevicesArg } from './devices-arg';

/** Weights and optimizer state as a training command holds them. */
export interface TrainingTrees {
  params: any;
  state: any;
  optState: { step: number; slots: any };
}

/** A started data-parallel trainer, as the CLIs use it. */
export interface ParallelTrainer {
  /** `2 devices (worker threads): device 0 (…), device 1 (…)` */
  describe(): string;
  /** One step on a host batch (split on dim 0). */
  step(batch: HostBatch): Promise<DataParallelStepResult>;
  /** The trainer's current weights on the command's device; `old` (the command's previous copies) is disposed. */
  pull(old: TrainingTrees): Promise<TrainingTrees>;
  /** Stops the workers and closes the devices the trainer opened. */
  close(): Promise<void>;
  /** The underlying trainer. */
  readonly dp: DataParallel;
}

/**
 * The command's own device for a `--devices` value: on the first listed adapter for an adapter list, else the
 * default adapter (as `init()`), sleeping through GPU waits like the single-device trainers.
 */
export async function initOn(arg: DevicesArg): Promise<Device> {
  if ('count' in arg) return init({ sleepWhileWaiting: true });
  const [first] = resolveDevicesArg({ adapters: [arg.adapters[0]] }, await listAdapters());
  return init({ adapter: await requestListedAdapter(first), sleepWhileWaiting: true });
}

/** Options of {@link openParallelTrainer}. */
export interface OpenParallelOptions {
  /** The parsed `--devices`. */
  devices: DevicesArg;
  /** One worker thread per device (the replica must then be a module URL). */
  threads: boolean;
  /** Synchronised BatchNorm. */
  syncBatchNorm?: boolean;
  /** The replica module's URL (threads) or its spec (this thread). */
  replica: URL | ReplicaSpec;
  /** The weights to start from (copied to every device; the command keeps its copies until {@link ParallelTrainer.pull}). */
  start: TrainingTrees & { step: number };
  /** Seed of the trainer (its init is replaced by `start`). */
  seed?: number;
}

/** Opens the trainer on the devices `--devices` names and loads `start` into every replica. */
export async function openParallelTrainer(o: OpenParallelOptions): Promise<ParallelTrainer> {
  const k = deviceCount(o.devices);
  if (o.threads && !(o.replica instanceof URL)) throw new TypeError('openParallelTrainer: worker threads need the replica as a module URL');
  let devices: number | Device[];
  let adapters: WorkerAdapter[] | undefined;
  if (o.threads) {
    // each worker opens its own device, on the adapter --devices picked for it (a count goes round the adapters)
    adapters = resolveDevicesArg(o.devices, await listAdapters()).map((a) => ({ backend: a.backend, name: a.name }));
    devices = k;
  } else {
    devices = (await openDevicesArg(o.devices, { sleepWhileWaiting: true })).devices;
  }
  const dp = await dataParallel({ replica: o.replica, devices, adapters, threads: o.threads, syncBatchNorm: o.syncBatchNorm, seed: o.seed ?? 0 });
  try {
    await dp.load({ params: o.start.params, state: o.start.state, optState: o.start.optState, step: o.start.step });
  } catch (e) {
    await dp.close();
    throw e;
  }
  let pulledAt = dp.steps;
  return {
    dp,
    describe: () =>
      `${k} devices (${o.threads ? 'worker threads' : 'one thread'}${o.syncBatchNorm ? ', synchronised BatchNorm' : ''}): ${dp.devices.join(', ')}`,
    step: (batch) => dp.step(batch),
    async pull(old) {
      if (dp.steps === pulledAt) return old;
      const snap = await dp.snapshot();
      tree.dispose([old.params, old.state, old.optState.slots]);
      pulledAt = dp.steps;
      return { params: snap.params, state: snap.state, optState: snap.optState };
    },
    async close() {
      await dp.close();
      if (Array.isArray(devices)) for (const d of devices) if (!d.isLost) d.gpu.destroy();
    },
  };
}
