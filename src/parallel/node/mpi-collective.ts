/**
 * The MPI collective: one process per rank, on one host or many, launched by `mpirun` (Node only). It drives
 * the optional addon build/webgrad_mpi.node (native/mpi/webgrad_mpi.c, built by scripts/build-mpi.mjs).
 *
 * The addon runs every MPI call on its own thread, so JavaScript keeps running while a collective waits and
 * each call here has a timeout: a rank that died or hangs makes the others reject with a CollectiveError
 * instead of waiting for ever. allReduce is the addon's rank-ordered reduce-scatter + all-gather, so its sums
 * are bit-identical to inProcessGroup's (Open MPI's MPI_Allreduce promises no summation order).
 */
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Collective, CollectiveError } from '../../base/collective';
import { ArgumentError } from '../../base/shape';

/** What the addon exports (native/mpi/webgrad_mpi.c). */
interface MpiAddon {
  init(): Promise<{ rank: number; size: number; threadLevel: number; library: string }>;
  allreduce(data: Float32Array, channel: number): Promise<void>;
  broadcast(data: Float32Array, root: number, channel: number): Promise<void>;
  barrier(channel: number): Promise<void>;
  openChannel(id: number): Promise<void>;
  finalize(): Promise<void>;
  release(): void;
  abort(reason: string): void;
  abortJob(code: number): never;
}

/** Options of {@link mpiCollective}. */
export interface MpiCollectiveOptions {
  /**
   * How long one operation may wait for the other ranks, in ms (default 300 000; `Infinity` waits for ever).
   * Past it the call rejects with a {@link CollectiveError} and the collective is failed: MPI cannot recover.
   */
  timeoutMs?: number;
  /** Path of the addon (default: env `WEBGRAD_MPI_ADDON`, else build/webgrad_mpi.node in the package). */
  addon?: string;
}

/** A {@link Collective} over MPI, with MPI's ways to end. */
export interface MpiCollective extends Collective {
  /** The MPI library's version line (e.g. "Open MPI v4.1.4, …"). */
  readonly library: string;
  /**
   * Closes the collective and resolves once MPI_Finalize returned (every rank must finalize). After a failure
   * it resolves at once without finalizing: end the process with a non-zero code, or {@link MpiCollective.abortJob}.
   */
  finalize(): Promise<void>;
  /**
   * Fails the group: this rank's pending and later calls reject, and so do every other rank's (within
   * milliseconds, while they wait in or enter a collective), naming this rank and `reason`. The processes go on.
   */
  abort(reason: string): void;
  /** Ends every process of the job now (MPI_Abort) with exit code `code` (default 1). */
  abortJob(code?: number): never;
  /**
   * A second collective over the same ranks whose operations never wait for this one's (its own communicator
   * and MPI thread): for two streams of collectives that interleave differently on each rank, such as gradient
   * buckets and synchronised BatchNorm's statistics. Every rank calls it, in the same order relative to this
   * collective's operations. Needs MPI_THREAD_MULTIPLE (Open MPI and MPICH provide it). Failures and aborts
   * are shared: one failed channel fails them all.
   */
  duplicate(): Promise<MpiCollective>;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const ADDON_FILE = 'build/webgrad_mpi.node';

/** The package root: the nearest folder above this file with @webgrad/core's package.json (sources or dist). */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === '@webgrad/core') return dir;
      } catch {
        // not ours: keep climbing
      }
    }
    dir = dirname(dir);
  }
  return null;
}

function loadAddon(path?: string): MpiAddon {
  const root = packageRoot();
  const file = path ?? process.env.WEBGRAD_MPI_ADDON ?? (root ? join(root, ADDON_FILE) : ADDON_FILE);
  const howToBuild = `build it with \`node scripts/build-mpi.mjs\` in ${root ?? 'the package'} (needs mpicc: apt-get install libopenmpi-dev openmpi-bin)`;
  if (!existsSync(file)) throw new CollectiveError(`mpiCollective: the MPI addon ${file} is missing; ${howToBuild}`);
  const module = { exports: {} as MpiAddon };
  try {
    // RTLD_GLOBAL: MPI libraries that dlopen their own plugins need libmpi's symbols visible to them
    process.dlopen(module, file, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
  } catch (e) {
    throw new CollectiveError(`mpiCollective: cannot load the MPI addon ${file} (${(e as Error).message.split('\n')[0]}); re${howToBuild}`);
  }
  return module.exports;
}

let session: Promise<MpiCollective> | null = null;

/**
 * Joins the MPI job this process was started in (by `mpirun -np K node program.js`; alone, it is a job of
 * one) and returns its collective: rank and size are MPI_COMM_WORLD's. MPI starts once per process, so later
 * calls return the same collective. Close it (or await {@link MpiCollective.finalize}) before the process
 * ends; a process that ends without it is finalized when its event loop empties.
 */
export function mpiCollective(options: MpiCollectiveOptions = {}): Promise<MpiCollective> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
    return Promise.reject(new ArgumentError('mpiCollective', 'timeoutMs', `is ${timeoutMs}`, 'a positive number of ms'));
  if (session) return session;
  let addon: MpiAddon;
  try {
    addon = loadAddon(options.addon);
  } catch (e) {
    return Promise.reject(e);
  }
  session = addon.init().then((info) => open(addon, info, timeoutMs));
  return session;
}

/** What every collective of this process's MPI session shares. */
interface Session {
  addon: MpiAddon;
  rank: number;
  size: number;
  library: string;
  timeoutMs: number;
  /** The first failure of any channel: the whole group is failed (MPI cannot recover). */
  failure: CollectiveError | null;
  /** Channels opened so far (0 is the world's). */
  channels: number;
  /** Settles once each channel's queued operations have (for finalize). */
  idle: (() => Promise<unknown>)[];
  /** Channel 0's collective. */
  world?: MpiCollective;
}

function open(addon: MpiAddon, info: { rank: number; size: number; library: string }, timeoutMs: number): MpiCollective {
  const session: Session = { addon, rank: info.rank, size: info.size, library: info.library, timeoutMs, failure: null, channels: 1, idle: [] };
  return channelCollective(session, 0);
}

/** The collective of channel `channel` (0: the world's communicator; others: duplicates with threads of their own). */
function channelCollective(session: Session, channel: number): MpiCollective {
  const { addon, rank, size, timeoutMs } = session;
  const who = `mpi collective${channel ? ` (channel ${channel})` : ''}: rank ${rank} of ${size}`;
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;
  let finalizing: Promise<void> | null = null;
  let calls = 0;
  session.idle[channel] = () => tail;

  /** Runs one native operation after the previous ones, with the timeout; a failure (but a disagreement) fails the group. */
  function enqueue(what: string, start: () => Promise<unknown>): Promise<void> {
    const call = ++calls;
    const run = async () => {
      const failure = session.failure;
      if (failure) throw new CollectiveError(`${who}: ${what} refused after an earlier failure (${failure.message})`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        if (Number.isFinite(timeoutMs))
          timer = setTimeout(() => {
            reject(
              new CollectiveError(
                `${who}: ${what} (call ${call}) got no answer within ${timeoutMs} ms: another rank died, hangs or called something else; this MPI job cannot continue`,
              ),
            );
            // the group is broken: stop the other ranks now rather than at their own timeouts
            addon.abort(`${what} got no answer within ${timeoutMs} ms`);
          }, timeoutMs);
      });
      try {
        await Promise.race([start(), timeout]);
      } catch (e) {
        const error = e instanceof CollectiveError ? e : new CollectiveError(`${who}: ${what} failed: ${(e as Error).message}`);
        // a disagreement is seen by every rank in the same call: MPI stays in step and later calls may work
        if ((e as { recoverable?: boolean }).recoverable) throw error;
        if (!session.failure) {
          session.failure = error;
          // the MPI threads may never answer now: their pending calls must not keep the process alive
          addon.release();
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    };
    const result = tail.then(run, run);
    tail = result.catch(() => {});
    return result;
  }

  function operation(what: string, start: () => Promise<unknown>): Promise<void> {
    if (closed) return Promise.reject(new CollectiveError(`${who}: ${what} called after close()`));
    return enqueue(what, start);
  }

  function floats(fn: string, data: Float32Array): Float32Array {
    if (!(data instanceof Float32Array)) throw new ArgumentError(`${fn}`, 'data', `is ${Object.prototype.toString.call(data)}`, 'a Float32Array');
    return data;
  }

  function close(): void {
    if (closed) return;
    closed = true;
    if (channel !== 0) return;
    process.off('beforeExit', onBeforeExit);
    if (!session.failure) {
      // after every channel's last operation: MPI_Finalize frees their communicators
      finalizing = enqueue('finalize', () => Promise.all(session.idle.slice(1).map((idle) => idle())).then(() => addon.finalize()));
      finalizing.catch(() => {}); // close() returns nothing: whoever wants the outcome awaits finalize()
    }
  }
  const onBeforeExit = () => close();
  if (channel === 0) process.on('beforeExit', onBeforeExit);

  const collective: MpiCollective = {
    rank,
    size,
    kind: 'mpi',
    library: session.library,
    allReduce: (data) => {
      const x = floats('allReduce', data);
      return operation(`allReduce(${x.length})`, () => addon.allreduce(x, channel));
    },
    broadcast: (data, root = 0) => {
      const x = floats('broadcast', data);
      if (!Number.isInteger(root) || root < 0 || root >= size) throw new ArgumentError('broadcast', 'root', `is ${root}`, `an integer rank in [0, ${size})`);
      return operation(`broadcast(${x.length}, root ${root})`, () => addon.broadcast(x, root, channel));
    },
    barrier: () => operation('barrier()', () => addon.barrier(channel)),
    close,
    finalize: () => {
      if (channel !== 0) return world.finalize();
      close();
      return finalizing ?? Promise.resolve();
    },
    duplicate: async () => {
      if (channel !== 0) return world.duplicate();
      const id = session.channels++;
      await operation(`openChannel(${id})`, () => addon.openChannel(id));
      return channelCollective(session, id);
    },
    abort: (reason) => {
      const text = String(reason).split('\n')[0];
      session.failure ??= new CollectiveError(`${who}: rank ${rank} aborted: ${text}`);
      addon.abort(text);
      addon.release();
    },
    abortJob: (code = 1) => addon.abortJob(code),
  };
  if (channel === 0) session.world = collective;
  const world = session.world as MpiCollective;
  return collective;
}
