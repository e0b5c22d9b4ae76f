/**
 * Random tensors from explicit keys (src/tensor/random.ts). Element i of every result uses counter
 * i of the key, so the values are the same on any device and dispatch layout, and the float64
 * references in ./ref/random.ts reproduce them. None of these ops has a gradient.
 *
 * Methods (see src/kernels/wgsl/random.ts):
 * - rand / uniform: 24 random bits → u = m / 2^24 ∈ [0, 1), exactly representable in float32;
 *   uniform(low, high) = low + (high − low)·u (computed in float32: it may round up to `high`
 *   when |low| is much larger than high − low, as in PyTorch).
 * - randn / normal: Box–Muller from two 24-bit uniforms, z = √(−2 ln(1 − u1)) · cos(2π u2);
 *   1 − u1 ∈ [2^-24, 1] so |z| ≤ 5.77 and log(0) never happens. One normal per counter.
 * - randint(low, high): low + ⌊x · (high − low) / 2^64⌋ for the counter's 64 bits x (multiply-shift,
 *   no rejection): each value has probability within (high − low) / 2^64 of uniform (below 1e-9).
 * - bernoulli(p): 1 when u < p (so p = 0 never, p = 1 always); float32 0/1 like PyTorch for float p.
 * - randperm / permutation: Fisher–Yates on the host (same bits as randint's method).
 */
import type { Device } from '../../kernels/webgpu/device';
import { grid } from '../../kernels/webgpu/device';
import { getDefaultDevice } from '../../kernels/webgpu/devices';
import { randomKernel, RANDOM_WG, type RandomKind } from '../../kernels/wgsl/random';
import { refBernoulli, refNormal, refRandint, refUniform } from './ref/random';
import { parseDType, type DType } from '../../base/dtype';
import { type Key, checkKey, isKey, permutation } from '../../base/random';
import { checkOptions } from '../../base/options';
import { ArgumentError, broadcastShapes, checkShape, fmtShape, sameShape } from '../../base/shape';
import type { Tensor } from '../tensor';
import { checkOperands, defineOp } from './define';
import { broadcastTo } from './shape-ops';
import { cast } from './elementwise';
import { tensor } from './creation';

export interface RandomOptions {
  dtype?: DType | string;
  device?: Device;
}

interface Base {
  key: Key;
  shape: number[];
  device?: Device;
}
interface UniformAttrs extends Base {
  low: number;
  high: number;
}
interface NormalAttrs extends Base {
  mean: number;
  std: number;
}
interface BernoulliAttrs extends Base {
  p?: number;
}

function launch(kind: RandomKind, a: Base, y: Tensor, values: Record<string, number>, input?: Tensor): void {
  const k = randomKernel(kind);
  y.device.run(kind, k.key, k.source, input ? [input.binding, y.binding] : [y.binding], grid(y.size, RANDOM_WG), {
    layout: k.layout,
    values: { n: y.size, k0: a.key[0], k1: a.key[1], ...values },
  });
}

/** The rule and device of a random op: `a.shape` of `dtype` on the attrs' device (or the default one). */
const sampled = <A extends Base>(dtype: DType) => ({
  shape: (_: unknown, a: A) => ({ shape: a.shape, dtype }),
  device: (a: A) => a.device ?? getDefaultDevice(),
});

const randOp = defineOp({
  name: 'rand',
  inputs: {},
  ...sampled<Base>('float32'),
  forward: (_, a, [y]) => launch('uniform', a, y, { low: 0, high: 1 }),
  reference: (_, a) => refUniform(a.key, a.shape, 0, 1),
  noGrad: 'random',
});
const uniformOp = defineOp({
  name: 'uniform',
  inputs: {},
  ...sampled<UniformAttrs>('float32'),
  forward: (_, a, [y]) => launch('uniform', a, y, { low: a.low, high: a.high }),
  reference: (_, a) => refUniform(a.key, a.shape, a.low, a.high),
  noGrad: 'random',
});
const normalOp = defineOp({
  name: 'randn',
  inputs: {},
  ...sampled<NormalAttrs>('float32'),
  forward: (_, a, [y]) => launch('normal', a, y, { mean: a.mean, sd: a.std }),
  reference: (_, a) => refNormal(a.key, a.shape, a.mean, a.std),
  noGrad: 'random',
});
const randintOp = defineOp({
  name: 'randint',
  inputs: {},
  ...sampled<UniformAttrs>('int32'),
  forward: (_, a, [y]) => launch('randint', a, y, { low: a.low, range: a.high - a.low }),
  reference: (_, a) => refRandint(a.key, a.shape, a.low, a.high),
  noGrad: 'random',
});
const bernoulliOp = defineOp({
  name: 'bernoulli',
  inputs: { p: 'tensor?' },
  ...sampled<BernoulliAttrs>('float32'),
  forward({ p }, a, [y]) {
    if (p === undefined) return launch('bernoulli', a, y, { threshold: Math.ceil((a.p ?? 0.5) * 16777216) });
    let probs = p;
    if (probs.dtype !== 'float32') probs = cast(probs, 'float32');
    if (!sameShape(probs.shape, a.shape)) probs = broadcastTo(probs, a.shape);
    launch('bernoulliTensor', a, y, {}, probs);
    if (probs !== p) probs.dispose();
  },
  reference: ({ p }, a) => refBernoulli(a.key, a.shape, p === undefined ? (a.p ?? 0.5) : p),
  noGrad: 'random',
});

/** A key passed where the shape belongs (`randn(shape, key)`) says so instead of a vague key error. */
export function checkKeyFirst(fn: string, k: unknown, second: unknown, secondName: string): void {
  if (!isKey(k) && isKey(second)) {
    throw new ArgumentError(fn, 'key', `is ${JSON.stringify(k)} and '${secondName}' is a key`, `the key first: ${fn}(key, ${secondName}, ...)`);
  }
  checkKey(fn, k);
}

function base(fn: string, k: Key, shape: readonly number[], o: RandomOptions, allowed: DType): Base {
  checkKeyFirst(fn, k, shape, 'shape');
  const s = checkShape(fn, 'shape', shape);
  if (o.dtype !== undefined && parseDType(o.dtype, fn) !== allowed) throw new ArgumentError(fn, 'dtype', `is '${o.dtype}'`, `'${allowed}'`);
  return { key: [k[0], k[1]], shape: s, ...(o.device ? { device: o.device } : {}) };
}
const finite = (fn: string, arg: string, v: number) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(fn, arg, `is ${v}`, 'a finite number');
  return v;
};

/** Uniform samples in [0, 1) with 24 random mantissa bits (float32). */
export const rand = (k: Key, shape: readonly number[], o: RandomOptions = {}): Tensor => {
  checkOptions('rand', 'options', o, ['dtype', 'device']);
  return randOp.call1([], base('rand', k, shape, o, 'float32'));
};

/** Uniform samples in [low, high) (defaults 0, 1), like torch's uniform_. */
export function uniform(k: Key, shape: readonly number[], o: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkOptions('uniform', 'options', o, ['dtype', 'device', 'low', 'high']);
  const low = finite('uniform', 'low', o.low ?? 0),
    high = finite('uniform', 'high', o.high ?? 1);
  if (!(low <= high)) throw new ArgumentError('uniform', 'high', `is ${high}, below low = ${low}`, 'high ≥ low');
  return uniformOp.call1([], { ...base('uniform', k, shape, o, 'float32'), low, high });
}

/** Standard normal samples (float32). */
export const randn = (k: Key, shape: readonly number[], o: RandomOptions = {}): Tensor => {
  checkOptions('randn', 'options', o, ['dtype', 'device']);
  return normalOp.call1([], { ...base('randn', k, shape, o, 'float32'), mean: 0, std: 1 });
};

/** Normal samples with the given mean and standard deviation (defaults 0, 1). */
export function normal(k: Key, shape: readonly number[], o: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkOptions('normal', 'options', o, ['dtype', 'device', 'mean', 'std']);
  const mean = finite('normal', 'mean', o.mean ?? 0),
    std = finite('normal', 'std', o.std ?? 1);
  if (std < 0) throw new ArgumentError('normal', 'std', `is ${std}`, 'a non-negative number');
  return normalOp.call1([], { ...base('normal', k, shape, o, 'float32'), mean, std });
}

/** Integers uniform in [low, high) as int32 (torch.randint's low/high). */
export function randint(k: Key, shape: readonly number[], low: number, high: number, o: { device?: Device } = {}): Tensor {
  const int = (arg: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ArgumentError('randint', arg, `is ${v}`, `an integer in [${lo}, ${hi}]`);
    return v;
  };
  int('low', low, -2147483648, 2147483647);
  int('high', high, -2147483647, 2147483648);
  if (!(high > low)) throw new ArgumentError('randint', 'high', `is ${high}, not above low = ${low}`, 'high > low');
  if (high - low > 0xffffffff) throw new ArgumentError('randint', 'high', `gives a range of ${high - low}`, 'high − low ≤ 2^32 − 1');
  return randintOp.call1([], { ...base('randint', k, shape, o, 'int32'), low, high });
}

/**
 * Bernoulli samples: 1 with probability p, as float32 0/1 (PyTorch returns the dtype of a float p).
 * `p` is a number in [0, 1] (then `shape` is required) or a tensor of probabilities (the result has
 * `shape` when given, which p must broadcast to, else p's shape). Tensor values are not checked:
 * p ≤ 0 gives 0, p ≥ 1 gives 1, NaN gives 0.
 */
export function bernoulli(k: Key, p: number | Tensor, shape?: readonly number[], o: { device?: Device } = {}): Tensor {
  if (typeof p === 'number') {
    if (!(p >= 0 && p <= 1)) throw new ArgumentError('bernoulli', 'p', `is ${p}`, 'a probability in [0, 1]');
    if (shape === undefined) throw new ArgumentError('bernoulli', 'shape', 'is missing', 'a shape when p is a number');
    return bernoulliOp.call1([], { ...base('bernoulli', k, shape, o, 'float32'), p });
  }
  checkOperands('bernoulli', [p], ['p']);
  if (p.dtype === 'bool') throw new ArgumentError('bernoulli', 'p', 'has dtype bool', 'float probabilities');
  const out = shape === undefined ? p.shape.slice() : checkShape('bernoulli', 'shape', shape);
  if (!sameShape(broadcastShapes('bernoulli', out, p.shape, ['shape', 'p']), out)) {
    throw new ArgumentError('bernoulli', 'p', `of shape ${fmtShape(p.shape)} does not broadcast to ${fmtShape(out)}`, 'a shape whose dims are 1 or match');
  }
  return bernoulliOp.call1([p], { ...base('bernoulli', k, out, {}, 'float32') });
}

/** A random permutation of 0..n−1 as an int32 tensor (computed on the host; same order as `permutation`). */
export function randperm(k: Key, n: number, o: { device?: Device } = {}): Tensor {
  checkKey('randperm', k);
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new ArgumentError('randperm', 'n', `is ${n}`, 'a non-negative integer below 2^31');
  return tensor(permutation(k, n), { dtype: 'int32', device: o.device });
}
