/**
 * Explicit, splittable, counter-based PRNG keys (JAX-style). There is no global random state:
 * every random op takes a `Key`, and the same key always gives the same values, on the GPU and
 * on the CPU alike (Node, Deno, browsers).
 *
 * The generator is Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3", SC'11; the variant Random123 and JAX use). It maps a 64-bit key and a 64-bit
 * counter to 64 random bits with 32-bit add, rotate and xor only, so WGSL and JavaScript compute
 * exactly the same words.
 *
 * A `Key` is a frozen pair of uint32 words `[k0, k1]`: plain data, cheap to copy, JSON-printable.
 *
 * Counter domains (word 1 of the counter tells them apart, word 0 is the index):
 * - random tensors: element i of a tensor uses the block `threefry(key, [i, 0])`, so values do not
 *   depend on how the work is dispatched (see src/kernels/wgsl/random.ts for how each op uses the
 *   two output words);
 * - `split(key, n)`: child j is `threefry(key, [j, 1])`;
 * - `foldIn(key, data)`: `threefry(key, [data, 2])`.
 * Reusing one key for two different random ops gives related values (rand and randn draw on the
 * same words): split the key instead, as in JAX.
 */
import { ArgumentError } from './shape';

/**
 * A random key: two 32-bit words for the Threefry generator, as in JAX. Make one with `random.key(seed)` and
 * derive new ones with `random.split` or `random.foldIn`; never reuse one key for two draws.
 */
export type Key = readonly [number, number];

/** Rotation amounts of Threefry-2x32 (Random123's R_32x2). */
const ROT = [13, 15, 26, 6, 17, 29, 16, 24] as const;
/** Key-schedule parity constant for 32-bit words (Skein's C240 truncated). */
const PARITY = 0x1bd11bda;

/** Threefry-2x32-20 block function: `(key, counter)` → two uint32 words. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (PARITY ^ k0 ^ k1) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let r = 0; r < 20; r++) {
    x0 = (x0 + x1) >>> 0;
    const s = ROT[r % 8];
    x1 = ((x1 << s) | (x1 >>> (32 - s))) >>> 0;
    x1 = (x1 ^ x0) >>> 0;
    if (r % 4 === 3) {
      const j = (r + 1) / 4; // key injection number 1..5
      x0 = (x0 + ks[j % 3]) >>> 0;
      x1 = (x1 + ks[(j + 1) % 3] + j) >>> 0;
    }
  }
  return [x0, x1];
}

const isU32 = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/**
 * Keys carry a hidden brand (a non-enumerable symbol: JSON and equality still see two numbers) so that a
 * shape or any other pair of integers passed where a key belongs is an error, not a silent seed.
 * `Symbol.for` so that keys made by one bundle of webgrad are recognised by another.
 */
const BRAND = Symbol.for('webgrad.random.key');

/** Throws unless `k` is a Key made by key(), split(), foldIn() or wrapKeyData(). */
export function checkKey(fn: string, k: unknown, arg = 'key'): Key {
  if (!isKey(k)) {
    const words = Array.isArray(k) && k.length === 2 && isU32(k[0]) && isU32(k[1]);
    throw new ArgumentError(
      fn,
      arg,
      `is ${describe(k)}${words ? ' (a plain array, not a key)' : ''}`,
      'a Key from random.key(seed), split or foldIn (random.wrapKeyData([k0, k1]) turns saved words back into a key)',
    );
  }
  return k;
}

/** True when `k` is a key made by this library (not merely two numbers). */
export function isKey(k: unknown): k is Key {
  return Array.isArray(k) && k.length === 2 && (k as unknown as Record<symbol, unknown>)[BRAND] === true && isU32(k[0]) && isU32(k[1]);
}

const describe = (k: unknown) => {
  try {
    return JSON.stringify(k) ?? String(k);
  } catch {
    return String(k);
  }
};

const make = (a: number, b: number): Key => {
  const k = [a >>> 0, b >>> 0];
  Object.defineProperty(k, BRAND, { value: true, enumerable: false });
  return Object.freeze(k) as unknown as Key;
};

/** A key from its two uint32 words, e.g. read back from JSON (`JSON.stringify(key)` gives `[k0, k1]`). Like JAX's wrap_key_data. */
export function wrapKeyData(words: readonly number[]): Key {
  if (!Array.isArray(words) || words.length !== 2 || !isU32(words[0]) || !isU32(words[1])) {
    throw new ArgumentError('wrapKeyData', 'words', `is ${describe(words)}`, 'two uint32 words [k0, k1]');
  }
  return make(words[0], words[1]);
}

/**
 * A key from an integer seed (any safe integer; negative seeds wrap like 64-bit two's complement).
 * The key is the seed's 64 bits, high word first: `key(s) = [floor(s / 2^32), s mod 2^32]`.
 */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new ArgumentError('key', 'seed', `is ${seed}`, 'a safe integer');
  return make(Math.floor(seed / 4294967296), seed >>> 0);
}

/** `n` new independent keys derived from `key` (n = 2 by default). */
export function split(k: Key, n = 2): Key[] {
  checkKey('split', k);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new ArgumentError('split', 'n', `is ${n}`, 'a non-negative integer');
  return Array.from({ length: n }, (_, j) => make(...threefry2x32(k[0], k[1], j, 1)));
}

/** A new key from `key` and an integer (e.g. a step or worker index): like JAX's fold_in. */
export function foldIn(k: Key, data: number): Key {
  checkKey('foldIn', k);
  if (!Number.isInteger(data) || data < -0x80000000 || data > 0xffffffff)
    throw new ArgumentError('foldIn', 'data', `is ${data}`, 'an integer in [-2^31, 2^32)');
  return make(...threefry2x32(k[0], k[1], data >>> 0, 2));
}

/** The raw 64 bits of element `i`'s block: `threefry(key, [i, 0])`. */
export const randomBits = (k: Key, i: number): [number, number] => threefry2x32(k[0], k[1], i, 0);

/**
 * `floor(x · range / 2^64)` where x = hi·2^32 + lo: maps 64 random bits to [0, range) with a bias
 * below range / 2^64. Exact, using only integers below 2^53.
 */
export function scaleBits64(hi: number, lo: number, range: number): number {
  const top = (w: number): [number, number] => {
    // w · range as (high 32 bits, low 32 bits)
    const rl = range % 65536,
      rh = Math.floor(range / 65536);
    const a = w * rl,
      b = w * rh; // both < 2^48
    const bl = b % 65536,
      bh = Math.floor(b / 65536);
    const mid = bl * 65536 + a; // < 2^49
    return [bh + Math.floor(mid / 4294967296), mid % 4294967296];
  };
  const [h0, l0] = top(hi);
  const [h1] = top(lo);
  // (h0·2^32 + l0)·2^32 + (h1·2^32 + …): bits 64..95 are h0 plus the carry of l0 + h1
  return h0 + Math.floor((l0 + h1) / 4294967296);
}

/**
 * A random permutation of 0..n-1 (Fisher–Yates on the host), e.g. to shuffle a data set.
 * Step t (t = 0..n-2) swaps position n-1-t with a position drawn uniformly from [0, n-1-t]
 * using the 64 bits of element t of `key`'s stream. `randperm` gives the same order as a tensor.
 */
export function permutation(k: Key, n: number): Int32Array {
  checkKey('permutation', k);
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new ArgumentError('permutation', 'n', `is ${n}`, 'a non-negative integer below 2^31');
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let t = 0; t < n - 1; t++) {
    const i = n - 1 - t;
    const [hi, lo] = randomBits(k, t);
    const j = scaleBits64(hi, lo, i + 1);
    const tmp = p[i];
    p[i] = p[j];
    p[j] = tmp;
  }
  return p;
}
