/**
 * K participants in one thread (the single-thread data-parallel fallback and the tests): each call waits until
 * all K ranks made the same call, then every rank gets the rank-ordered sum (or the root's values).
 */
import { type Collective, CollectiveError } from '../base/collective';

interface Round {
  op: string;
  length: number;
  parts: (Float32Array | null)[];
  arrived: number;
  resolvers: (() => void)[];
}

/** Makes `size` collectives that reduce among themselves in this thread; give one to each replica. */
export function inProcessGroup(size: number): Collective[] {
  if (!Number.isInteger(size) || size < 1) throw new CollectiveError(`inProcessGroup: size must be a positive integer; got ${size}`);
  const rounds = new Map<number, Round>();
  const calls = new Array<number>(size).fill(0);
  let closed = false;

  function join(rank: number, op: string, data: Float32Array | null, finish: (r: Round) => void): Promise<void> {
    if (closed) return Promise.reject(new CollectiveError(`in-process collective: rank ${rank} called ${op} after close()`));
    const n = calls[rank]++;
    let round = rounds.get(n);
    if (!round) {
      round = { op, length: data?.length ?? 0, parts: new Array(size).fill(null), arrived: 0, resolvers: [] };
      rounds.set(n, round);
    }
    if (round.op !== op || round.length !== (data?.length ?? 0))
      return Promise.reject(
        new CollectiveError(
          `in-process collective: rank ${rank} called ${op}(${data?.length ?? 0}) as call ${n}, but another rank called ${round.op}(${round.length})`,
        ),
      );
    round.parts[rank] = data;
    round.arrived++;
    return new Promise<void>((resolve) => {
      round.resolvers.push(resolve);
      if (round.arrived === size) {
        finish(round);
        for (const r of round.resolvers) r();
        rounds.delete(n);
      }
    });
  }

  const sum = (r: Round) => {
    const parts = r.parts as Float32Array[];
    const total = new Float32Array(r.length);
    for (const p of parts) for (let i = 0; i < total.length; i++) total[i] += p[i];
    for (const p of parts) p.set(total);
  };

  return Array.from({ length: size }, (_, rank) => ({
    rank,
    size,
    kind: 'in-process',
    allReduce: (data: Float32Array) => join(rank, 'allReduce', data, sum),
    broadcast: (data: Float32Array, root = 0) =>
      join(rank, `broadcast(root ${root})`, data, (r) => {
        for (const p of r.parts as Float32Array[]) if (p !== r.parts[root]) p.set(r.parts[root] as Float32Array);
      }),
    barrier: () => join(rank, 'barrier', null, () => {}),
    close: () => {
      closed = true;
    },
  }));
}
