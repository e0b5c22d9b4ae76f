/**
 * A collective whose pending and later calls can be cancelled: when one replica fails, the trainer aborts the
 * others' collectives so that none waits forever for a rank that will not arrive.
 */
import { type Collective, CollectiveError } from '../base/collective';

/** The error a replica gets when another one failed and the trainer stopped the group. */
export class PeerFailedError extends CollectiveError {
  /** Wraps the reason (which rank failed). */
  constructor(message: string) {
    super(message);
    this.name = 'PeerFailedError';
  }
}

/** A collective with stop(): rejects pending and later calls with `reason` (and aborts the underlying group if it can). */
export interface AbortableCollective extends Collective {
  /** Stops the group: every pending and later call rejects with `reason`. */
  stop(reason: Error): void;
}

/** Wraps `inner` so that its calls can be aborted. */
export function abortable(inner: Collective): AbortableCollective {
  let reason: Error | null = null;
  const pending = new Set<(e: Error) => void>();
  const guard = (call: () => Promise<void>): Promise<void> => {
    if (reason) return Promise.reject(reason);
    return new Promise<void>((resolve, reject) => {
      pending.add(reject);
      call().then(
        () => {
          pending.delete(reject);
          resolve();
        },
        (e) => {
          pending.delete(reject);
          reject(e);
        },
      );
    });
  };
  return {
    rank: inner.rank,
    size: inner.size,
    kind: inner.kind,
    allReduce: (data) => guard(() => inner.allReduce(data)),
    broadcast: (data, root) => guard(() => inner.broadcast(data, root)),
    barrier: () => guard(() => inner.barrier()),
    close: () => inner.close(),
    stop(e) {
      if (reason) return;
      reason = e;
      for (const reject of pending) reject(e);
      pending.clear();
      try {
        inner.abort?.(e.message);
      } catch {
        // the group may already be closed
      }
    },
  };
}
