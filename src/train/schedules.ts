/**
 * Learning-rate schedules as pure functions of the update count (0 for the first update), the way
 * PyTorch's schedulers behave when stepped once per update. Pass one as an optimizer's `lr`.
 * Options are checked when the schedule is made: a NaN learning rate would silently ruin every parameter.
 */
import { ArgumentError } from '../base/shape';
import { checkOptions, checkNumberOption, describe } from '../base/options';

/** A learning rate as a function of the update count (0 for the first update). */
export type Schedule = (step: number) => number;

const rate = (fn: string, lr: unknown) => {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) throw new ArgumentError(fn, 'lr', `is ${describe(lr)}`, 'a finite number ≥ 0');
};
const opts = (fn: string, o: unknown, keys: readonly string[], required: readonly string[] = []) => {
  checkOptions(fn, 'options', o, keys);
  for (const k of required) {
    if ((o as Record<string, unknown>)[k] === undefined) throw new ArgumentError(fn, k, 'is missing', 'a value');
  }
};
const checkSchedule = (fn: string, arg: string, f: unknown) => {
  if (typeof f !== 'function') throw new ArgumentError(fn, arg, `is ${describe(f)}`, 'a schedule (step) => number');
};

/** The same learning rate at every step (a schedule, for code that always takes one). */
export const constant = (lr: number): Schedule => {
  rate('constant', lr);
  return () => lr;
};

/** StepLR: lr·γ^⌊step/stepSize⌋. */
export const stepLR = (lr: number, o: { stepSize: number; gamma?: number }): Schedule => {
  rate('stepLR', lr);
  opts('stepLR', o, ['stepSize', 'gamma'], ['stepSize']);
  const { stepSize, gamma = 0.1 } = o;
  checkNumberOption('stepLR', 'stepSize', stepSize, { min: 0, minExclusive: true, integer: true });
  checkNumberOption('stepLR', 'gamma', gamma, { min: 0 });
  return (step) => lr * gamma ** Math.floor(step / stepSize);
};

/** MultiStepLR: multiplied by γ at each milestone passed. */
export const multiStepLR = (lr: number, o: { milestones: readonly number[]; gamma?: number }): Schedule => {
  rate('multiStepLR', lr);
  opts('multiStepLR', o, ['milestones', 'gamma'], ['milestones']);
  const { milestones, gamma = 0.1 } = o;
  if (!Array.isArray(milestones) || !milestones.every((m) => Number.isInteger(m) && m >= 0)) {
    throw new ArgumentError('multiStepLR', 'milestones', `is ${describe(milestones)}`, 'an array of non-negative integers');
  }
  checkNumberOption('multiStepLR', 'gamma', gamma, { min: 0 });
  return (step) => lr * gamma ** milestones.filter((m) => step >= m).length;
};

/**
 * The rate multiplied by `gamma` after every update: lr * gamma^step (torch.optim.lr_scheduler.ExponentialLR
 * stepped per update).
 */
export const exponentialLR = (lr: number, o: { gamma: number }): Schedule => {
  rate('exponentialLR', lr);
  opts('exponentialLR', o, ['gamma'], ['gamma']);
  const { gamma } = o;
  checkNumberOption('exponentialLR', 'gamma', gamma, { min: 0 });
  return (step) => lr * gamma ** step;
};

/**
 * CosineAnnealingLR (closed form): ηmin + (lr − ηmin)(1 + cos(π·t/Tmax))/2, held at ηmin past Tmax.
 *
 * @example
 * ```ts
 * import { init, optim, schedules } from '@webgrad/core/node';
 * await init();
 * const lr = schedules.linearWarmup(1e-3, { steps: 100, after: schedules.cosineAnnealingLR(1e-3, { tMax: 900 }) });
 * console.log(lr(0), lr(100), lr(1000)); // warming up, 1e-3, 0
 * const opt = optim.adamw({ lr, weightDecay: 0.01 });
 * ```
 */
export const cosineAnnealingLR = (lr: number, o: { tMax: number; etaMin?: number }): Schedule => {
  rate('cosineAnnealingLR', lr);
  opts('cosineAnnealingLR', o, ['tMax', 'etaMin'], ['tMax']);
  const { tMax, etaMin = 0 } = o;
  checkNumberOption('cosineAnnealingLR', 'tMax', tMax, { min: 0, minExclusive: true, integer: true });
  checkNumberOption('cosineAnnealingLR', 'etaMin', etaMin, { min: 0 });
  return (step) => etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * Math.min(step, tMax)) / tMax))) / 2;
};

/** CosineAnnealingWarmRestarts: restarts after T0, then T0·Tmult, … updates. */
export const cosineWarmRestarts = (lr: number, o: { t0: number; tMult?: number; etaMin?: number }): Schedule => {
  rate('cosineWarmRestarts', lr);
  opts('cosineWarmRestarts', o, ['t0', 'tMult', 'etaMin'], ['t0']);
  const { t0, tMult = 1, etaMin = 0 } = o;
  checkNumberOption('cosineWarmRestarts', 't0', t0, { min: 0, minExclusive: true, integer: true });
  checkNumberOption('cosineWarmRestarts', 'tMult', tMult, { min: 1, integer: true });
  checkNumberOption('cosineWarmRestarts', 'etaMin', etaMin, { min: 0 });
  return (step) => {
    let tCur = step,
      tI = t0;
    while (tCur >= tI) {
      tCur -= tI;
      tI *= tMult;
    }
    return etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
  };
};

/** LinearLR warm-up: factor goes linearly from startFactor to 1 over `steps` updates, then the schedule `after` (or lr). */
export const linearWarmup = (lr: number, o: { steps: number; startFactor?: number; after?: Schedule }): Schedule => {
  rate('linearWarmup', lr);
  opts('linearWarmup', o, ['steps', 'startFactor', 'after'], ['steps']);
  const { steps, startFactor = 1 / 3, after } = o;
  checkNumberOption('linearWarmup', 'steps', steps, { min: 0, integer: true });
  // PyTorch's LinearLR: 0 < start_factor ≤ 1
  checkNumberOption('linearWarmup', 'startFactor', startFactor, { min: 0, minExclusive: true, max: 1 });
  if (after !== undefined) checkSchedule('linearWarmup', 'after', after);
  return (step) => (step < steps ? lr * (startFactor + ((1 - startFactor) * step) / steps) : after ? after(step - steps) : lr);
};

/** SequentialLR: each schedule runs for its span of updates, counted from its own start. */
export const sequential = (parts: readonly { schedule: Schedule; steps: number }[]): Schedule => {
  if (!Array.isArray(parts) || parts.length === 0)
    throw new ArgumentError('sequential', 'parts', `is ${describe(parts)}`, 'a non-empty array of { schedule, steps }');
  parts.forEach((p, i) => {
    checkOptions('sequential', `parts[${i}]`, p, ['schedule', 'steps']);
    checkSchedule('sequential', `parts[${i}].schedule`, p.schedule);
    if (i < parts.length - 1 || p.steps !== undefined) checkNumberOption('sequential', `parts[${i}].steps`, p.steps, { min: 0, integer: true });
  });
  return (step) => {
    let start = 0;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      if (last || step < start + parts[i].steps) return parts[i].schedule(step - start);
      start += parts[i].steps;
    }
    return parts[parts.length - 1].schedule(0);
  };
};
