/**
 * Optimizers in the optax style: `init(params) → state`, `update(grads, state, params) → { params, state }`.
 * Each parameter is updated by one fused kernel dispatch. Parameter groups select parameters by path
 * (dotted, as PyTorch's state_dict keys) to freeze them or scale their learning rate and weight decay.
 */
import type { UpdateRule } from '../../kernels/wgsl/fused-update';
import { ArgumentError } from '../../base/shape';
import { Tensor } from '../../tensor/tensor';
import * as tree from '../../tensor/tree';
import { zerosLike } from '../../tensor/ops/creation';
import { applyRule } from './fused';
import { checkScheduledRate } from './validate';

// the public types live in ./index.ts (see there why); re-exported for this folder's modules and the rest of src
import type { LearningRate, Optimizer, OptimizerState, ParamGroup, UpdateOptions } from './index';
export type { LearningRate, Optimizer, OptimizerState, ParamGroup, UpdateOptions };

export interface RuleChoice {
  rule: UpdateRule;
  scalars: Record<string, number>;
}

export interface OptimizerDef {
  name: string;
  lr: LearningRate;
  weightDecay: number;
  groups?: readonly ParamGroup[];
  /** State names for a parameter (created as zeros by init). */
  state: readonly string[];
  /** The rule and its per-step scalars, given the update number (1-based, as PyTorch's `step`), lr and weight decay. */
  rule(t: number, lr: number, weightDecay: number): RuleChoice;
}

const matches = (g: ParamGroup, path: string) =>
  typeof g.match === 'function' ? g.match(path) : typeof g.match === 'string' ? path === g.match || path.startsWith(`${g.match}.`) : g.match.test(path);

/** Builds an optimizer from a per-parameter update rule; sgd, adam, adamw and rmsprop are made with it. */
export function makeOptimizer(def: OptimizerDef): Optimizer {
  const groupOf = (path: string) => def.groups?.find((g) => matches(g, path));
  const lrAt = (step: number) => (typeof def.lr === 'function' ? checkScheduledRate(def.name, def.lr(step), step) : def.lr);
  const flat = (params: unknown, what: string) => {
    const leaves = tree.flatten(params);
    for (const { path, value } of leaves) {
      if (!(value instanceof Tensor)) throw new ArgumentError(def.name, `${what}.${path}`, `is ${typeof value}`, 'a Tensor');
    }
    return leaves as { path: string; value: Tensor }[];
  };
  return {
    name: def.name,
    init(params) {
      const slots: OptimizerState['slots'] = {};
      for (const { path, value } of flat(params, 'params')) {
        if (groupOf(path)?.frozen) continue;
        slots[path] = Object.fromEntries(def.state.map((s) => [s, zerosLike(value)]));
      }
      return { step: 0, slots };
    },
    update(grads, state, params, options = {}) {
      if (!state || typeof state !== 'object' || !Number.isInteger(state.step) || typeof state.slots !== 'object') {
        throw new ArgumentError(def.name, 'state', `is ${state === null ? 'null' : typeof state}`, 'the state returned by init() (or the previous update)');
      }
      const gradByPath = new Map(tree.flatten(grads).map((l) => [l.path, l.value]));
      const t = state.step + 1;
      const baseLr = lrAt(state.step);
      const slots: OptimizerState['slots'] = {};
      const newLeaves: Tensor[] = [];
      const old: Tensor[] = [];
      for (const { path, value: p } of flat(params, 'params')) {
        const group = groupOf(path);
        if (group?.frozen) {
          newLeaves.push(p);
          continue;
        }
        const slot = state.slots[path];
        if (!slot) throw new ArgumentError(def.name, 'state', `has no entry for parameter '${path}'`, 'the state returned by init() for these params');
        const lr = baseLr * (group?.lrScale ?? 1);
        const { rule, scalars } = def.rule(t, lr, group?.weightDecay ?? def.weightDecay);
        const r = applyRule(
          rule,
          p,
          gradByPath.get(path) as Tensor,
          rule.state.map((s) => slot[s]),
          scalars,
          path,
        );
        newLeaves.push(r.p);
        slots[path] = Object.fromEntries(rule.state.map((s, i) => [s, r.state[i]]));
        old.push(p, ...rule.state.map((s) => slot[s]));
      }
      if (options.donate) for (const o of old) o.dispose();
      return { params: tree.unflatten(params, newLeaves), state: { step: t, slots } };
    },
    learningRate(state, path) {
      return lrAt(state.step) * (path ? (groupOf(path)?.lrScale ?? 1) : 1);
    },
  };
}
