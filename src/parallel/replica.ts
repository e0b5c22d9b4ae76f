/**
 * The replica: what a data-parallel trainer runs on each device. The user writes it once, in a module of its own
 * (`export default defineReplica({...})`), so that worker threads can import it too.
 */
import type { Key } from '../base/random';
import type { Tensor } from '../tensor/tensor';
import type { Optimizer } from '../train/optim/optimizer';

/** The batch a replica's loss gets: its slice of every input, as tensors on its device. */
export type ReplicaBatch = Record<string, Tensor>;

/**
 * A model, its optimizer and its loss, as the data-parallel trainer runs them on every device. `loss` is the same
 * function as for one device: a mean over the batch it is given (the trainer weights each slice by its share).
 */
export interface ReplicaSpec<P = any, S = any> {
  /** Parameters and model state (BatchNorm statistics); called with the same key on every rank (rank 0's values are broadcast). */
  init(key: Key): { params: P; state: S };
  /** The optimizer (a fresh one per replica; every replica applies the same update). */
  optimizer(): Optimizer;
  /** `[loss, { state }]`: the mean loss over `batch` and the new model state (return the old one if there is none). */
  loss(params: P, state: S, batch: ReplicaBatch): [Tensor, { state: S }];
}

/**
 * A replica made from a configuration (model size, learning rate…): the trainer calls it with its `config` option
 * in every thread, so a module can serve several configurations (`export default defineReplica((config) => ({...}))`).
 */
export type ReplicaFactory<C = any, P = any, S = any> = (config: C) => ReplicaSpec<P, S>;

/**
 * Marks a replica definition (identity, for type checking): `export default defineReplica({ init, optimizer, loss })`,
 * or a factory of one, `export default defineReplica((config) => ({ init, optimizer, loss }))`.
 */
export function defineReplica<P, S>(spec: ReplicaSpec<P, S>): ReplicaSpec<P, S>;
export function defineReplica<C, P, S>(factory: ReplicaFactory<C, P, S>): ReplicaFactory<C, P, S>;
export function defineReplica(spec: ReplicaSpec | ReplicaFactory): ReplicaSpec | ReplicaFactory {
  if (typeof spec !== 'function') checkReplica(spec, 'defineReplica');
  return spec;
}

/** The spec: `replica` itself, or what the factory makes of `config`. */
export function resolveReplica(replica: unknown, config: unknown, where: string): ReplicaSpec {
  const spec = typeof replica === 'function' ? (replica as ReplicaFactory)(config) : replica;
  checkReplica(spec, where);
  return spec;
}

export function checkReplica(spec: unknown, where: string): asserts spec is ReplicaSpec {
  const s = spec as Partial<ReplicaSpec> | null;
  for (const f of ['init', 'optimizer', 'loss'] as const) {
    if (!s || typeof s[f] !== 'function')
      throw new TypeError(`${where}: the replica has no ${f}() function; expected defineReplica({ init, optimizer, loss })`);
  }
}

/** Imports a replica module (its default export, or `replica`: a spec or a factory called with `config`) from a URL or path. */
export async function importReplica(where: string | URL, config?: unknown): Promise<ReplicaSpec> {
  const url = String(where);
  let mod: { default?: unknown; replica?: unknown };
  try {
    mod = await import(/* @vite-ignore */ url);
  } catch (e) {
    throw new Error(`dataParallel: cannot import the replica module '${url}': ${(e as Error).message.split('\n')[0]}`);
  }
  return resolveReplica(mod.default ?? mod.replica, config, `dataParallel: the replica module '${url}'`);
}
