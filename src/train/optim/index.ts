// The optimizer's public types are declared here, in the module behind the `optim` namespace: re-exported from
// optimizer.ts, the declaration bundler emitted them as values in the namespace (`declare const index_Optimizer:
// typeof Optimizer`) once optimizer.ts sat in a chunk of its own, which broke every user's type-check.
import type { Tensor } from '../../tensor/tensor';

export { makeOptimizer } from './optimizer';
export { sgd, adam, adamw, rmsprop, type SGDOptions, type AdamOptions, type RMSpropOptions } from './optimizers';
export { clipGradNorm, clipGradValue } from './clip';

/** A learning rate, or a schedule: the rate for a given update count (0 for the first update). */
export type LearningRate = number | ((step: number) => number);

/**
 * Settings for the parameters whose paths match: frozen, a learning-rate scale or its own weight decay
 * (PyTorch's param_groups).
 */
export interface ParamGroup {
  /** Which parameters (by dotted path) belong to the group; the first matching group wins. */
  match: ((path: string) => boolean) | RegExp | string;
  /** No update, no optimizer state (and the caller need not compute their gradients). */
  frozen?: boolean;
  /** Multiplies the learning rate (e.g. 10 for a new head). */
  lrScale?: number;
  /** Overrides the optimizer's weight decay. */
  weightDecay?: number;
}

/** An optimizer's state: the update count and its tensors per parameter (momenta, moments). */
export interface OptimizerState {
  /** Updates done so far. */
  step: number;
  /** State tensors by parameter path (e.g. `{ 'fc.weight': { m, v } }`). */
  slots: Record<string, Record<string, Tensor>>;
}

/** Options of {@link Optimizer.update}. */
export interface UpdateOptions {
  /** Dispose the old parameters and state once the new ones are computed (keeps memory flat). */
  donate?: boolean;
}

/**
 * A functional optimizer: `init(params)` makes its state, `update(grads, state, params)` returns new parameters
 * and state.
 */
export interface Optimizer {
  /** The optimizer's name, as in error messages ('adam', 'sgd', …). */
  readonly name: string;
  /** The initial state for a parameter tree (zero moments, step 0). */
  init(params: unknown): OptimizerState;
  /** One step: new parameters and state from the gradients (a tree shaped like the parameters). */
  update<P>(grads: unknown, state: OptimizerState, params: P, options?: UpdateOptions): { params: P; state: OptimizerState };
  /** The learning rate the next update will use for a parameter at `path` (after schedules and group scales). */
  learningRate(state: OptimizerState, path?: string): number;
}
