/**
 * Learning-rate schedules as pure functions of the update count (0 for the first update), the way
 * PyTorch's schedulers behave when stepped once per update. Pass one as an optimizer's `lr`.
 */
export type Schedule = (step: number) => number;

export const constant = (lr: number): Schedule => () => lr;

/** StepLR: lr·γ^⌊step/stepSize⌋. */
export const stepLR = (lr: number, { stepSize, gamma = 0.1 }: { stepSize: number; gamma?: number }): Schedule =>
  (step) => lr * gamma ** Math.floor(step / stepSize);

/** MultiStepLR: multiplied by γ at each milestone passed. */
export const multiStepLR = (lr: number, { milestones, gamma = 0.1 }: { milestones: readonly number[]; gamma?: number }): Schedule =>
  (step) => lr * gamma ** milestones.filter((m) => step >= m).length;

export const exponentialLR = (lr: number, { gamma }: { gamma: number }): Schedule => (step) => lr * gamma ** step;

/** CosineAnnealingLR (closed form): ηmin + (lr − ηmin)(1 + cos(π·t/Tmax))/2, held at ηmin past Tmax. */
export const cosineAnnealingLR = (lr: number, { tMax, etaMin = 0 }: { tMax: number; etaMin?: number }): Schedule =>
  (step) => etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * Math.min(step, tMax)) / tMax))) / 2;

/** CosineAnnealingWarmRestarts: restarts after T0, then T0·Tmult, … updates. */
export const cosineWarmRestarts = (lr: number, { t0, tMult = 1, etaMin = 0 }: { t0: number; tMult?: number; etaMin?: number }): Schedule =>
  (step) => {
    let tCur = step, tI = t0;
    while (tCur >= tI) { tCur -= tI; tI *= tMult; }
    return etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
  };

/** LinearLR warm-up: factor goes linearly from startFactor to 1 over `steps` updates, then the schedule `after` (or lr). */
export const linearWarmup = (lr: number, { steps, startFactor = 1 / 3, after }: { steps: number; startFactor?: number; after?: Schedule }): Schedule =>
  (step) => (step < steps ? lr * (startFactor + ((1 - startFactor) * step) / steps) : after ? after(step - steps) : lr);

/** SequentialLR: each schedule runs for its span of updates, counted from its own start. */
export const sequential = (parts: readonly { schedule: Schedule; steps: number }[]): Schedule =>
  (step) => {
    let start = 0;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      if (last || step < start + parts[i].steps) return parts[i].schedule(step - start);
      start += parts[i].steps;
    }
    return parts[parts.length - 1].schedule(0);
  };
