/** The public `random` namespace: key handling only (the generator's internals stay in src/base/random.ts). */
import { key, split, foldIn, isKey, wrapKeyData } from '../base/random';

/**
 * Random keys, as in JAX: every random function takes a key, so results never depend on hidden global state.
 *
 * @example
 * ```ts
 * import { init, random, randn } from '@webgrad/core/node';
 * await init();
 * const [kInit, kData] = random.split(random.key(42));
 * const x = randn(kData, [2, 3]); // the same numbers for the same key, on every device
 * const perEpoch = random.foldIn(kInit, 7); // a key for epoch 7
 * ```
 */
export const random = Object.freeze({
  /** A key from an integer seed (jax.random.key). */
  key,
  /** `n` new independent keys from one (jax.random.split); n = 2 by default. */
  split,
  /** A new key from a key and an integer, e.g. a step number (jax.random.fold_in). */
  foldIn,
  /** True for a key made by this library (a plain pair of numbers is not one). */
  isKey,
  /** A key from its two uint32 words, e.g. read back from JSON (jax.random.wrap_key_data). */
  wrapKeyData,
});
