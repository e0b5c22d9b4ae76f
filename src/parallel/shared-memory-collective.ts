/**
 * A {@link Collective} for worker threads over shared memory (SharedArrayBuffer + Atomics: Node and Deno
 * workers, browser workers under cross-origin isolation). The main thread makes a group with
 * {@link createSharedGroup} and posts its descriptor to each worker; each worker calls
 * {@link joinSharedGroup} with its rank.
 *
 * allReduce is a reduce-scatter then an all-gather through the shared area: every rank copies its chunk into its
 * own slot; rank r sums slice r of every slot in rank order (0 + 1 + … in float32, exactly as
 * {@link inProcessGroup}) into a result area; every rank copies the whole result back. Arrays longer than the
 * shared area go through it in chunks. Waiting uses `Atomics.waitAsync` (polling with setTimeout where it is
 * missing), never `Atomics.wait`: workers keep their event loop for GPU callbacks.
 */
import { ArgumentError } from '../base/shape';
import { type Collective, CollectiveError } from '../base/collective';

/** What {@link createSharedGroup} returns: only SharedArrayBuffers and numbers, so `postMessage` shares it with workers. */
export interface SharedGroupDescriptor {
  /** Always 'shared-memory' (checked by {@link joinSharedGroup}). */
  readonly kind: 'shared-memory';
  /** How many ranks the group has. */
  readonly size: number;
  /** Floats each rank passes through the shared area per chunk. */
  readonly maxFloats: number;
  /** How long one rank waits for the others at any step of an operation before it fails the group. */
  readonly timeoutMs: number;
  /** Counters, flags and the abort reason (Int32). */
  readonly control: SharedArrayBuffer;
  /** Each call's operation and length per rank (Float64), to catch ranks that call different things. */
  readonly signatures: SharedArrayBuffer;
  /** The rank slots and two result areas (Float32), `(size + 2) * maxFloats` floats. */
  readonly data: SharedArrayBuffer;
}

/** Options of {@link createSharedGroup}. */
export interface SharedGroupOptions {
  /** Number of ranks (worker threads), ≥ 1. */
  size: number;
  /** Floats per rank per chunk (default 2^20 = 4 MB); the group holds (size + 2) · maxFloats floats. */
  maxFloats?: number;
  /** Milliseconds a rank waits for the others before the call fails (default 600 000: PyTorch's NCCL default). */
  timeoutMs?: number;
}

/** A {@link Collective} over shared memory, with {@link SharedMemoryCollective.abort}. */
export interface SharedMemoryCollective extends Collective {
  /** Fails the whole group: every rank's pending and later calls reject with a message naming this rank and `reason`. */
  abort(reason: string): void;
}

// control words (Int32)
const COUNT = 0; // ranks arrived at the current barrier
const GEN = 1; // barriers completed; waiters wait on this word
const ABORT = 2; // 0, or aborting rank + 1 (set after the reason is written)
const ABORT_CLAIM = 3; // the first aborter claims the reason area
const REASON_LEN = 4;
const JOINED = 5; // size words: 1 once the rank joined
const REASON_MAX = 512;
const controlWords = (size: number) => JOINED + 2 * size + REASON_MAX;
const arrivedWord = (size: number, rank: number) => JOINED + size + rank; // barriers this rank has arrived at
const reasonWord = (size: number) => JOINED + 2 * size;

const OP_CODES = { allReduce: 1, broadcast: 2, barrier: 3 } as const;
type Op = keyof typeof OP_CODES;

/** Slices start at multiples of 16 floats (64-byte cache lines) so ranks do not write the same line. */
function sliceStart(n: number, size: number, r: number): number {
  return Math.min(n, 16 * Math.ceil((r * n) / size / 16));
}

/**
 * Makes the shared memory for a group of `size` ranks; post the descriptor to each worker and join there:
 * ```ts
 * const group = createSharedGroup({ size: 2 });
 * workers.forEach((w, rank) => w.postMessage({ group, rank }));
 * // in each worker:
 * const c = joinSharedGroup(group, rank);
 * await c.allReduce(gradients); // the rank-ordered float32 sum, bit-identical on every rank
 * ```
 * A rank joins once; a group whose rank died is failed by the others' timeout (or an {@link SharedMemoryCollective.abort}).
 */
export function createSharedGroup(options: SharedGroupOptions): SharedGroupDescriptor {
  const { size, maxFloats = 1 << 20, timeoutMs = 600_000 } = options ?? ({} as SharedGroupOptions);
  if (!Number.isInteger(size) || size < 1) throw new ArgumentError('createSharedGroup', 'size', `is ${size}`, 'a positive integer');
  if (!Number.isInteger(maxFloats) || maxFloats < 16) throw new ArgumentError('createSharedGroup', 'maxFloats', `is ${maxFloats}`, 'an integer ≥ 16');
  if (!(timeoutMs > 0)) throw new ArgumentError('createSharedGroup', 'timeoutMs', `is ${timeoutMs}`, 'a positive number of milliseconds');
  if (typeof SharedArrayBuffer === 'undefined')
    throw new CollectiveError('createSharedGroup: SharedArrayBuffer is not available (browsers need cross-origin isolation)');
  return {
    kind: 'shared-memory',
    size,
    maxFloats,
    timeoutMs,
    control: new SharedArrayBuffer(4 * controlWords(size)),
    signatures: new SharedArrayBuffer(8 * 2 * 2 * size),
    data: new SharedArrayBuffer(4 * (size + 2) * maxFloats),
  };
}

/** This rank's {@link Collective} in the group `descriptor` describes (made by {@link createSharedGroup}). */
export function joinSharedGroup(descriptor: SharedGroupDescriptor, rank: number): SharedMemoryCollective {
  const d = descriptor;
  if (
    d?.kind !== 'shared-memory' ||
    !(d.control instanceof SharedArrayBuffer) ||
    !(d.signatures instanceof SharedArrayBuffer) ||
    !(d.data instanceof SharedArrayBuffer)
  )
    throw new ArgumentError('joinSharedGroup', 'descriptor', `is ${d === null ? 'null' : typeof d}`, 'the object createSharedGroup returned');
  const { size, maxFloats, timeoutMs } = d;
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new ArgumentError('joinSharedGroup', 'rank', `is ${rank}`, `an integer in [0, ${size - 1}]`);
  const ctl = new Int32Array(d.control);
  const sig = new Float64Array(d.signatures);
  if (Atomics.compareExchange(ctl, JOINED + rank, 0, 1) !== 0) throw new CollectiveError(`joinSharedGroup: rank ${rank} has already joined this group`);
  const slot = (r: number) => new Float32Array(d.data, 4 * r * maxFloats, maxFloats);
  const slots = Array.from({ length: size }, (_, r) => slot(r));
  const results = [slot(size), slot(size + 1)];
  const name = `shared-memory collective (rank ${rank} of ${size})`;

  let barriers = Atomics.load(ctl, GEN); // = GEN when in step (GEN cannot move before every rank joined); wraps like an Int32
  let calls = 0; // operations this rank started
  let resultUses = 0; // which result area is next (they alternate; see the note on safety below)
  let closed = false;
  let localAbort: string | null = null;
  let queue: Promise<void> = Promise.resolve();

  function abortMessage(): string | null {
    const who = Atomics.load(ctl, ABORT);
    if (who === 0) return localAbort;
    const len = Atomics.load(ctl, REASON_LEN);
    let reason = '';
    for (let i = 0; i < len; i++) reason += String.fromCharCode(Atomics.load(ctl, reasonWord(size) + i));
    return `rank ${who - 1} aborted: ${reason}`;
  }

  function abort(reason: string): void {
    localAbort ??= `rank ${rank} aborted: ${String(reason).slice(0, REASON_MAX)}`;
    markAborted(ctl, size, rank, reason);
  }

  const fail = (op: string, why: string) => new CollectiveError(`${name}: ${op} failed: ${why}`);

  /** Resolves once every rank arrived at this rank's next barrier; rejects on abort or timeout. */
  async function barrierWait(op: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const target = (barriers + 1) | 0;
    Atomics.store(ctl, arrivedWord(size, rank), target);
    if (Atomics.add(ctl, COUNT, 1) === size - 1) {
      Atomics.store(ctl, COUNT, 0); // reset before releasing: nobody arrives at the next barrier until GEN moves
      Atomics.add(ctl, GEN, 1);
      Atomics.notify(ctl, GEN);
    }
    const gen = barriers;
    for (let spin = 0; ; spin++) {
      const now = Atomics.load(ctl, GEN);
      if (now !== gen) {
        const aborted = abortMessage();
        if (aborted) throw fail(op, aborted);
        barriers = target;
        return;
      }
      const aborted = abortMessage();
      if (aborted) throw fail(op, aborted);
      if (spin < 64) continue; // a short spin: the others are often a few microseconds behind
      const left = deadline - Date.now();
      if (left <= 0) {
        const missing: number[] = [];
        for (let r = 0; r < size; r++) if (Atomics.load(ctl, arrivedWord(size, r)) !== target) missing.push(r); // nobody is past it
        const why = `timed out after ${timeoutMs} ms waiting for rank${missing.length === 1 ? '' : 's'} ${missing.join(', ')} (call ${calls})`;
        abort(`${op} ${why}`); // the group is broken: stop the others now rather than at their own timeout
        throw fail(op, why);
      }
      await waitForChange(ctl, GEN, gen, Math.min(left, 1000));
    }
  }

  /** Publishes this call's signature, waits for the first barrier and checks every rank made the same call. */
  async function enter(op: Op, length: number, root: number): Promise<void> {
    const base = 2 * size * (calls % 2); // alternate: a rank can be at most one call ahead of the slowest checker
    sig[base + 2 * rank] = OP_CODES[op] + 4 * root;
    sig[base + 2 * rank + 1] = length;
    await barrierWait(op);
    for (let r = 0; r < size; r++) {
      if (sig[base + 2 * r] !== sig[base] || sig[base + 2 * r + 1] !== sig[base + 1]) {
        const describe = (q: number) => {
          const code = sig[base + 2 * q];
          const which = (Object.keys(OP_CODES) as Op[]).find((k) => OP_CODES[k] === code % 4) ?? '?';
          return `rank ${q} called ${which}(${sig[base + 2 * q + 1]}${which === 'broadcast' ? `, root ${Math.floor(code / 4)}` : ''})`;
        };
        const why = `ranks disagree on call ${calls}: ${describe(0)}, ${describe(r)}`;
        abort(why);
        throw fail(op, why);
      }
    }
  }

  function run(op: Op, body: () => Promise<void>): Promise<void> {
    if (closed) return Promise.reject(new CollectiveError(`${name}: ${op} called after close()`));
    const next = queue.then(async () => {
      const aborted = abortMessage();
      if (aborted) throw fail(op, aborted);
      calls++;
      await body();
    });
    queue = next.catch(() => {});
    return next;
  }

  // Safety: slots are written only after the barrier that ends the previous chunk's reduce (everyone is done
  // reading them). Result area u % 2 is written only after the barrier that followed the write of use u - 1,
  // which every rank reached after it had finished reading use u - 2 (the same area).
  async function allReduce(data: Float32Array): Promise<void> {
    const n = data.length;
    await run('allReduce', async () => {
      if (n === 0) return enter('allReduce', n, 0);
      for (let offset = 0; offset < n; offset += maxFloats) {
        const m = Math.min(maxFloats, n - offset);
        slots[rank].set(data.subarray(offset, offset + m));
        if (offset === 0) await enter('allReduce', n, 0);
        else await barrierWait('allReduce');
        const out = results[resultUses++ % 2];
        const a = sliceStart(m, size, rank);
        const b = sliceStart(m, size, rank + 1);
        sumInRankOrder(out, slots, a, b);
        await barrierWait('allReduce');
        data.set(out.subarray(0, m), offset);
      }
    });
  }

  async function broadcast(data: Float32Array, root = 0): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= size)
      return Promise.reject(new ArgumentError('broadcast', 'root', `is ${root}`, `an integer in [0, ${size - 1}]`));
    const n = data.length;
    await run('broadcast', async () => {
      if (n === 0) return enter('broadcast', n, root);
      for (let offset = 0; offset < n; offset += maxFloats) {
        const m = Math.min(maxFloats, n - offset);
        const area = results[resultUses++ % 2];
        if (rank === root) area.set(data.subarray(offset, offset + m));
        if (offset === 0) await enter('broadcast', n, root);
        else await barrierWait('broadcast');
        if (rank !== root) data.set(area.subarray(0, m), offset);
      }
    });
  }

  return {
    rank,
    size,
    kind: 'shared-memory',
    allReduce,
    broadcast,
    barrier: () => run('barrier', () => enter('barrier', 0, 0)),
    abort,
    close: () => {
      closed = true;
    },
  };
}

/** Records the first abort of the group (later ones are ignored) and wakes every waiting rank. */
function markAborted(ctl: Int32Array, size: number, rank: number, reason: string): void {
  const text = String(reason).slice(0, REASON_MAX);
  if (Atomics.compareExchange(ctl, ABORT_CLAIM, 0, rank + 1) !== 0) return; // another rank aborted first
  for (let i = 0; i < text.length; i++) Atomics.store(ctl, reasonWord(size) + i, text.charCodeAt(i));
  Atomics.store(ctl, REASON_LEN, text.length);
  Atomics.store(ctl, ABORT, rank + 1);
  // change the word waiters wait on, so a waiter that checked just before still wakes
  Atomics.add(ctl, GEN, 1);
  Atomics.notify(ctl, GEN);
}

/**
 * Fails the group on behalf of `rank`, from any thread holding the descriptor (e.g. the main thread when that
 * rank's worker exited): every rank's pending and later calls reject with "rank `rank` aborted: `reason`".
 */
export function abortSharedGroup(descriptor: SharedGroupDescriptor, rank: number, reason: string): void {
  if (!(descriptor?.control instanceof SharedArrayBuffer))
    throw new ArgumentError(
      'abortSharedGroup',
      'descriptor',
      `is ${descriptor === null ? 'null' : typeof descriptor}`,
      'the object createSharedGroup returned',
    );
  if (!Number.isInteger(rank) || rank < 0 || rank >= descriptor.size)
    throw new ArgumentError('abortSharedGroup', 'rank', `is ${rank}`, `an integer in [0, ${descriptor.size - 1}]`);
  markAborted(new Int32Array(descriptor.control), descriptor.size, rank, reason);
}

const fr = Math.fround;

/**
 * out[a:b] = ((0 + slots[0]) + slots[1]) + … in float32, each step rounded, exactly as inProcessGroup (a double sum
 * of two float32 values rounded to float32 is the float32 sum). Up to four ranks per pass over memory.
 */
function sumInRankOrder(out: Float32Array, slots: Float32Array[], a: number, b: number): void {
  out.fill(0, a, b);
  for (let from = 0; from < slots.length; from += 4) {
    const [p, q, r, s] = slots.slice(from, from + 4);
    if (s) for (let i = a; i < b; i++) out[i] = fr(fr(fr(out[i] + p[i]) + q[i]) + r[i]) + s[i];
    else if (r) for (let i = a; i < b; i++) out[i] = fr(fr(out[i] + p[i]) + q[i]) + r[i];
    else if (q) for (let i = a; i < b; i++) out[i] = fr(out[i] + p[i]) + q[i];
    else for (let i = a; i < b; i++) out[i] = out[i] + p[i];
  }
}

/**
 * Resolves when `array[index]` may no longer be `value` (or after `ms`). A timer is kept while waiting: Node does
 * not count a pending waitAsync as work, and a worker with nothing else to do would exit.
 */
async function waitForChange(array: Int32Array, index: number, value: number, ms: number): Promise<void> {
  if (typeof (Atomics as { waitAsync?: unknown }).waitAsync !== 'function') {
    await new Promise((resolve) => setTimeout(resolve, Math.min(ms, 1)));
    return;
  }
  const w = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: unknown } }).waitAsync(
    array,
    index,
    value,
    ms,
  );
  if (!w.async) return;
  const keepAlive = setTimeout(() => {}, ms + 50);
  try {
    await w.value;
  } finally {
    clearTimeout(keepAlive);
  }
}
