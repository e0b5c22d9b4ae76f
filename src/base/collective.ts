/**
 * The collective a data-parallel group communicates through: every rank calls the same operations with
 * equal lengths in the same order. Implementations: in one thread (src/parallel/in-process-collective.ts),
 * across worker threads over shared memory, and across processes and hosts over MPI.
 */
export interface Collective {
  /** This participant's index, 0 ≤ rank < size. */
  readonly rank: number;
  /** How many participants the group has. */
  readonly size: number;
  /** A name for errors and logs (e.g. 'in-process', 'shared-memory', 'mpi'). */
  readonly kind: string;
  /**
   * Sums `data` element-wise over all ranks, in place. The sum is taken in rank order (0 + 1 + … + size-1) on
   * every rank, so the result is bit-identical everywhere and from run to run.
   */
  allReduce(data: Float32Array): Promise<void>;
  /** Overwrites `data` on every rank with rank `root`'s values (default 0). */
  broadcast(data: Float32Array, root?: number): Promise<void>;
  /** Resolves when every rank has called it. */
  barrier(): Promise<void>;
  /** Leaves the group; later calls throw. */
  close(): void;
  /** Where supported: fails the group, so every rank's pending and later calls reject naming this rank and `reason`. */
  abort?(reason: string): void;
}

/** A collective failed: a participant left, timed out or reported an error. The message names it. */
export class CollectiveError extends Error {
  /** Wraps a message naming the collective, the operation and the participant. */
  constructor(message: string) {
    super(message);
    this.name = 'CollectiveError';
  }
}
