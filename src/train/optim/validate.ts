/** Checks on optimizer options: a bad learning rate would turn every parameter into NaN without a word. */
import { ArgumentError } from '../../base/shape';
import { checkOptions, checkNumberOption, describe } from '../../base/options';
import type { LearningRate, ParamGroup } from './optimizer';

/** `lr`: a non-negative finite number or a schedule function (checked again at each update). */
export function checkLearningRate(fn: string, lr: unknown): LearningRate {
  if (typeof lr === 'function') return lr as LearningRate;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new ArgumentError(fn, 'lr', `is ${describe(lr)}`, 'a finite number ≥ 0 or a schedule (step) => number');
  }
  return lr;
}

/** A schedule's value at one update: the same rule, with the step named. */
export function checkScheduledRate(fn: string, lr: unknown, step: number): number {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new ArgumentError(fn, 'lr', `schedule returned ${describe(lr)} at step ${step}`, 'a finite number ≥ 0');
  }
  return lr;
}

const GROUP_KEYS = ['match', 'frozen', 'lrScale', 'weightDecay'];

export function checkGroups(fn: string, groups: unknown): void {
  if (groups === undefined) return;
  if (!Array.isArray(groups)) throw new ArgumentError(fn, 'groups', `is ${describe(groups)}`, 'an array of { match, frozen?, lrScale?, weightDecay? }');
  groups.forEach((g: ParamGroup, i) => {
    const arg = `groups[${i}]`;
    checkOptions(fn, arg, g, GROUP_KEYS);
    if (!(typeof g.match === 'function' || typeof g.match === 'string' || g.match instanceof RegExp)) {
      throw new ArgumentError(fn, `${arg}.match`, `is ${describe(g.match)}`, 'a path prefix string, a RegExp or a function (path) => boolean');
    }
    if (g.frozen !== undefined && typeof g.frozen !== 'boolean') throw new ArgumentError(fn, `${arg}.frozen`, `is ${describe(g.frozen)}`, 'a boolean');
    checkNumberOption(fn, `${arg}.lrScale`, g.lrScale, { min: 0 });
    checkNumberOption(fn, `${arg}.weightDecay`, g.weightDecay, { min: 0 });
  });
}

/** Options object with known keys only; `lr` and `groups` checked; other numbers by the caller. */
export function checkOptimizerOptions(fn: string, o: unknown, keys: readonly string[]): void {
  checkOptions(fn, 'options', o, keys);
  const r = o as { weightDecay?: unknown; groups?: unknown };
  checkNumberOption(fn, 'weightDecay', r.weightDecay, { min: 0 });
  checkGroups(fn, r.groups);
}

export function checkBoolean(fn: string, arg: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') throw new ArgumentError(fn, arg, `is ${describe(v)}`, 'a boolean');
}
