/**
 * `@webgrad/core/parallel`: data-parallel training (runtime-neutral): a batch split across K devices, gradients
 * all-reduced in buckets through a pluggable {@link Collective} (in one thread, or between worker threads over shared
 * memory), synchronised BatchNorm. Importing `@webgrad/core/node` lets `dataParallel({ threads: true })` start worker
 * threads; the MPI collective (`mpiCollective`) is exported there too.
 *
 * @module
 */
// collectives (owner: lead)
export { type Collective, CollectiveError } from './base/collective';
export { inProcessGroup } from './parallel/in-process-collective';
// owner: dp-gate — collectives inside a step: the allReduce op and synchronised BatchNorm
export { allReduce, syncBatchNorm, syncBatchNormGroup } from './tensor/ops/collective';
// owner: dp-shm
export {
  abortSharedGroup,
  createSharedGroup,
  joinSharedGroup,
  type SharedGroupDescriptor,
  type SharedGroupOptions,
  type SharedMemoryCollective,
} from './parallel/shared-memory-collective';
// owner: dp-trainer
export {
  dataParallel,
  DataParallelError,
  type DataParallel,
  type DataParallelOptions,
  type DataParallelStats,
  type DataParallelStepResult,
  type DataParallelSnapshot,
  type DataParallelLoad,
  type DataParallelStepOptions,
} from './parallel/data-parallel';
export {
  defineReplica,
  type ReplicaSpec,
  type ReplicaFactory,
  type ReplicaBatch,
  type ReplicaOptimizer,
  type ReplicaOptimizerState,
} from './parallel/replica';
export type { HostBatch, HostBatchInput } from './parallel/split';
export type { WorkerAdapter } from './parallel/rank-handle';
