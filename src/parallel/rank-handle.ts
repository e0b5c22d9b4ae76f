/** How the trainer drives one rank, whether it runs in the trainer's thread or in a worker. */
import type { HostTrainingState } from './host-tree';
import type { RankStepResult } from './replica-rank';
import type { HostBatch } from './split';

/** A rank as the trainer sees it. */
export interface RankHandle {
  /** 'device 1 (webgpu:3, llvmpipe: …)': how errors name it. */
  readonly name: string;
  setup(seed: number, host?: HostTrainingState): Promise<void>;
  load(host: HostTrainingState): Promise<void>;
  step(slice: HostBatch, weight: number): Promise<RankStepResult>;
  snapshot(): Promise<HostTrainingState>;
  /** True if the rank's device was lost (after a failure). */
  lost(error: unknown): Promise<boolean>;
  /** Stops the rank's pending collective calls (another rank failed). */
  abort(reason: Error): void;
  close(): Promise<void>;
}

/** An adapter as Dawn lists it (`webgrad devices`): its backend ('vulkan', 'metal', 'd3d12', …) and name. */
export interface WorkerAdapter {
  /** Dawn's backend name. */
  backend: string;
  /** Dawn's adapter name (the `adapter=` flag matches a part of it). */
  name: string;
}

/** Registered by `@webgrad/core/node`: starts one worker thread per device. */
export type ThreadLauncher = (options: {
  replica: string;
  config: unknown;
  devices: number;
  /** The adapter each worker opens (Dawn's backend and name); absent: the default adapter. */
  adapters?: readonly WorkerAdapter[];
  syncBatchNorm: boolean;
  bucketBytes: number;
  overlap: boolean;
}) => Promise<RankHandle[]>;

let launcher: ThreadLauncher | null = null;

/** Lets a runtime entry point (Node) supply worker threads for `dataParallel({ threads: true })`. */
export function registerThreadLauncher(l: ThreadLauncher): void {
  launcher = l;
}

export function threadLauncher(): ThreadLauncher | null {
  return launcher;
}
