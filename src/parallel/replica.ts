/**
 * The replica: what a data-parallel trainer runs on each device. The user writes it once, in a module of its own
 * (`export default defineReplica({...})`), so that worker threads can import it too.
 */
import type { Key } from '../base/random';
import type { Tensor } from '../tensor/tensor';

// The optimizer types are restated structurally here (any optim.* optimizer fits): referring to the optim module's
// own types from this entry point makes the declaration bundler split them from the `optim` namespace and emit
// them as values there (broken .d.ts for users).

/** An optimizer's state as the trainer sees it (the same shape as optim's OptimizerState). */
export interface ReplicaOptimizerState {
  /** Updates done so far. */
  step: number;
  /** State tensors by parameter path (e.g. `{ 'fc.weight': { m, v } }`). */
  slots: Record<string, Record<string, Tensor>>;
}

/** What the trainer needs of an optimizer: optim.sgd, optim.adam and the others all fit. */
export interface ReplicaOptimizer {
  /** The initial state for a parameter tree. */
  init(params: any): ReplicaOptimizerState;
  /** One step: new parameters and state from the gradients. */
  update(grads: any, state: ReplicaOptimizerState, params: any, options?: { donate?: boolean }): { params: any; state: ReplicaOptimizerState };
}

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
  optimizer(): ReplicaOptimizer;
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
