/** SGD, Adam, AdamW and RMSprop with PyTorch's exact update formulas, each one fused kernel per tensor. */
import type { UpdateRule } from '../../kernels/wgsl/fused-update';
import { ArgumentError } from '../../base/shape';
import { checkNumberOption, describe } from '../../base/options';
import { checkLearningRate, checkOptimizerOptions, checkBoolean } from './validate';
import { makeOptimizer, type LearningRate, type Optimizer, type ParamGroup, type RuleChoice } from './optimizer';

interface Common {
  /** Learning rate: a number or a schedule of the update count. */
  lr: LearningRate;
  /** L2 penalty (decoupled in adamw); default 0, 0.01 for adamw. */
  weightDecay?: number;
  /** Per-parameter settings by path: frozen parts, learning-rate scales, their own weight decay. */
  groups?: readonly ParamGroup[];
}

/** Options of {@link sgd}, as torch.optim.SGD. */
export interface SGDOptions extends Common {
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/** torch.optim.SGD: g ← g + wd·p; buf ← μ·buf + (1−τ)·g (buf = g on the first step); p ← p − lr·(nesterov ? g + μ·buf : buf). */
const COMMON_KEYS = ['lr', 'weightDecay', 'groups'];

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay (torch.optim.SGD).
 *
 * @example
 * ```ts
 * import { init, tensor, grad, optim, sum, square, schedules } from '@webgrad/core/node';
 * await init();
 * const opt = optim.sgd({ lr: schedules.stepLR(0.1, { stepSize: 10, gamma: 0.5 }), momentum: 0.9 });
 * const params = { w: tensor([1, 2]) };
 * const state = opt.init(params);
 * const grads = grad((p: typeof params) => sum(square(p.w)))(params);
 * console.log(await opt.update(grads, state, params).params.w.data()); // [0.8, 1.6]
 * ```
 */
export function sgd(options: SGDOptions): Optimizer {
  checkOptimizerOptions('sgd', options, [...COMMON_KEYS, 'momentum', 'dampening', 'nesterov']);
  const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0, groups } = options;
  checkLearningRate('sgd', lr);
  checkNumberOption('sgd', 'momentum', momentum, { min: 0 });
  checkNumberOption('sgd', 'dampening', dampening);
  checkBoolean('sgd', 'nesterov', nesterov);
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('sgd: nesterov needs momentum > 0 and dampening = 0 (as PyTorch)');
  const plain: UpdateRule = { name: 'sgd', state: [], scalars: ['lr', 'wd'], body: 'let d = g + s.wd * p; p = p - s.lr * d;' };
  const withMomentum: UpdateRule = {
    name: `sgd-momentum${nesterov ? '-nesterov' : ''}`,
    state: ['buf'],
    scalars: ['lr', 'wd', 'momentum', 'dampening', 'first'],
    body: `let d = g + s.wd * p;
  buf = select(s.momentum * buf + (1.0 - s.dampening) * d, d, s.first > 0.5);
  p = p - s.lr * ${nesterov ? '(d + s.momentum * buf)' : 'buf'};`,
  };
  return makeOptimizer({
    name: 'sgd',
    lr,
    weightDecay,
    groups,
    state: momentum ? ['buf'] : [],
    rule: (t, lr, wd): RuleChoice =>
      momentum ? { rule: withMomentum, scalars: { lr, wd, momentum, dampening, first: t === 1 ? 1 : 0 } } : { rule: plain, scalars: { lr, wd } },
  });
}

/** Options of {@link adam} and {@link adamw}, as torch.optim.Adam. */
export interface AdamOptions extends Common {
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Use the maximum of past second moments (AMSGrad; default false). */
  amsgrad?: boolean;
}

function adamFamily(name: 'adam' | 'adamw', options: AdamOptions): Optimizer {
  checkOptimizerOptions(name, options, [...COMMON_KEYS, 'betas', 'eps', 'amsgrad']);
  const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay, amsgrad = false, groups } = options;
  checkLearningRate(name, lr);
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) {
    throw new ArgumentError(name, 'betas', `is ${describe(betas)}`, 'two numbers in [0, 1)');
  }
  checkNumberOption(name, 'eps', eps, { min: 0 });
  checkBoolean(name, 'amsgrad', amsgrad);
  const decoupled = name === 'adamw';
  const rule: UpdateRule = {
    name: `${name}${amsgrad ? '-amsgrad' : ''}`,
    state: amsgrad ? ['m', 'v', 'vmax'] : ['m', 'v'],
    scalars: ['lr', 'wd', 'b1', 'b2', 'eps', 'bc1', 'bc2sqrt'],
    // PyTorch: step_size = lr / bc1; denom = sqrt(v) / sqrt(bc2) + eps (eps outside the root)
    body: `${decoupled ? 'p = p * (1.0 - s.lr * s.wd);\n  let d = g;' : 'let d = g + s.wd * p;'}
  m = s.b1 * m + (1.0 - s.b1) * d;
  v = s.b2 * v + (1.0 - s.b2) * d * d;
  ${amsgrad ? 'vmax = max(vmax, v);\n  let vhat = vmax;' : 'let vhat = v;'}
  p = p - (s.lr / s.bc1) * m / (sqrt(vhat) / s.bc2sqrt + s.eps);`,
  };
  return makeOptimizer({
    name,
    lr,
    weightDecay: weightDecay ?? (decoupled ? 1e-2 : 0),
    groups,
    state: rule.state,
    rule: (t, lr, wd) => ({ rule, scalars: { lr, wd, b1: betas[0], b2: betas[1], eps, bc1: 1 - betas[0] ** t, bc2sqrt: Math.sqrt(1 - betas[1] ** t) } }),
  });
}

/**
 * torch.optim.Adam (L2 weight decay added to the gradient; default 0).
 *
 * @example
 * ```ts
 * import { init, tensor, valueAndGrad, tidy, optim, sum, square } from '@webgrad/core/node';
 * await init();
 * let params = { w: tensor([1, -2, 3]) };
 * const opt = optim.adam({ lr: 0.1 });
 * let state = opt.init(params);
 * for (let step = 0; step < 50; step++) {
 *   ({ params, state } = tidy(() => {
 *     const [, grads] = valueAndGrad((p: typeof params) => sum(square(p.w)))(params);
 *     return opt.update(grads, state, params, { donate: true });
 *   }));
 * }
 * console.log(await params.w.data()); // close to [0, 0, 0]
 * ```
 */
export const adam = (o: AdamOptions) => adamFamily('adam', o);
/** torch.optim.AdamW (decoupled weight decay, default 0.01). */
export const adamw = (o: AdamOptions) => adamFamily('adamw', o);

/** Options of {@link rmsprop}, as torch.optim.RMSprop. */
export interface RMSpropOptions extends Common {
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha?: number;
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Normalise by the estimated variance instead of the second moment (default false). */
  centered?: boolean;
}

/** torch.optim.RMSprop: v ← αv + (1−α)g²; avg = sqrt(v − ḡ²[centered]) + eps; p ← p − lr·g/avg (or through a momentum buffer). */
export function rmsprop(options: Partial<RMSpropOptions> = {}): Optimizer {
  checkOptimizerOptions('rmsprop', options, [...COMMON_KEYS, 'alpha', 'eps', 'momentum', 'centered']);
  const { lr = 1e-2, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0, centered = false, groups } = options;
  checkLearningRate('rmsprop', lr);
  checkNumberOption('rmsprop', 'alpha', alpha, { min: 0 });
  checkNumberOption('rmsprop', 'eps', eps, { min: 0 });
  checkNumberOption('rmsprop', 'momentum', momentum, { min: 0 });
  checkBoolean('rmsprop', 'centered', centered);
  const state = ['v', ...(centered ? ['gavg'] : []), ...(momentum ? ['buf'] : [])];
  const rule: UpdateRule = {
    name: `rmsprop${centered ? '-centered' : ''}${momentum ? '-momentum' : ''}`,
    state,
    scalars: ['lr', 'wd', 'alpha', 'eps', 'momentum'],
    body: `let d = g + s.wd * p;
  v = s.alpha * v + (1.0 - s.alpha) * d * d;
  ${centered ? 'gavg = s.alpha * gavg + (1.0 - s.alpha) * d;\n  let avg = sqrt(v - gavg * gavg) + s.eps;' : 'let avg = sqrt(v) + s.eps;'}
  ${momentum ? 'buf = s.momentum * buf + d / avg;\n  p = p - s.lr * buf;' : 'p = p - s.lr * d / avg;'}`,
  };
  return makeOptimizer({ name: 'rmsprop', lr, weightDecay, groups, state, rule: (_t, lr, wd) => ({ rule, scalars: { lr, wd, alpha, eps, momentum } }) });
}
