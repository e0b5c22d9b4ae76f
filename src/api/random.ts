/** The public `random` namespace: key handling only (the generator's internals stay in src/base/random.ts). */
import { key, split, foldIn, isKey, wrapKeyData } from '../base/random';

export const random = Object.freeze({ key, split, foldIn, isKey, wrapKeyData });
