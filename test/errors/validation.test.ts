/**
 * Mistakes the API refuses instead of computing nonsense (issue 11): PyTorch's positional dim, unknown
 * option keys, misplaced random keys, bad optimizer/schedule/layer options. Each message is pinned.
 */
import { describe, it, expect } from 'vitest';
import {
  tensor,
  sum,
  mean,
  max,
  min,
  prod,
  argmax,
  argmin,
  variance,
  std,
  logsumexp,
  all,
  any,
  randn,
  rand,
  uniform,
  normal,
  random,
  optim,
  schedules,
  nn,
  tidy,
  type Tensor,
} from '../../src/node';

const msg = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  throw new Error('expected an error; none was thrown');
};
const vals = async (t: Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};
const x23 = () =>
  tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);

describe('reductions: PyTorch positional dim', () => {
  it('sum/mean/max/min/prod/logsumexp/all/any(x, dim, keepdim?) reduce over dim only', async () => {
    const x = x23();
    expect(await vals(sum(x, 1))).toEqual([6, 15]);
    expect(await vals(sum(x, 0))).toEqual([5, 7, 9]);
    expect(await vals(sum(x, [0, 1]))).toEqual([21]);
    const k = sum(x, 1, true);
    expect(k.shape).toEqual([2, 1]);
    k.dispose();
    expect(await vals(mean(x, 0))).toEqual([2.5, 3.5, 4.5]);
    expect(await vals(max(x, 1))).toEqual([3, 6]);
    expect(await vals(min(x, 1))).toEqual([1, 4]);
    expect(await vals(prod(x, 1))).toEqual([6, 120]);
    expect((await vals(logsumexp(x, 1))).map((v) => +v.toFixed(4))).toEqual([3.4076, 6.4076]);
    expect(await vals(all(x, 1))).toEqual([1, 1]);
    expect(await vals(any(x, 0))).toEqual([1, 1, 1]);
    x.dispose();
  });

  it('argmax/argmin(x, dim, keepdim?) take one dim', async () => {
    const x = tensor([
      [1, 9, 3],
      [7, 5, 6],
    ]);
    expect(await vals(argmax(x, 1))).toEqual([1, 0]);
    expect(await vals(argmin(x, 0))).toEqual([0, 1, 0]);
    const k = argmax(x, 1, true);
    expect(k.shape).toEqual([2, 1]);
    k.dispose();
    expect(await vals(argmax(x))).toEqual([1]);
    expect(msg(() => argmax(x, [0, 1] as unknown as number))).toBe(
      "ArgumentError: argmax: argument 'dim' is [0,1]; expected a single integer (or omitted: the flattened tensor)",
    );
    x.dispose();
  });

  it('variance/std(x, dim, { correction, keepdim }) and a boolean third argument is refused', async () => {
    const x = x23();
    expect(await vals(variance(x, 1))).toEqual([1, 1]);
    expect(await vals(variance(x, 1, { correction: 0 })).then((v) => v.map((a) => +a.toFixed(5)))).toEqual([0.66667, 0.66667]);
    expect(await vals(std(x, 0, { keepdim: true })).then((v) => v.map((a) => +a.toFixed(5)))).toEqual([2.12132, 2.12132, 2.12132]);
    expect(msg(() => std(x, 1, true as never))).toBe(
      "ArgumentError: std: argument 'options' is true; expected an options object with keys among keepdim, correction",
    );
    x.dispose();
  });

  it('unknown option keys (axis, keepDim) are errors naming the key and the valid ones', () => {
    const x = x23();
    expect(msg(() => sum(x, { axis: 1 } as never))).toBe("ArgumentError: sum: argument 'options' has unknown key 'axis'; expected only dim, keepdim");
    for (const [name, f] of [
      ['mean', mean],
      ['max', max],
      ['min', min],
      ['prod', prod],
      ['logsumexp', logsumexp],
      ['all', all],
      ['any', any],
      ['argmax', argmax],
      ['argmin', argmin],
    ] as const) {
      expect(msg(() => (f as (x: Tensor, o: unknown) => Tensor)(x, { axis: 1 }))).toBe(
        `ArgumentError: ${name}: argument 'options' has unknown key 'axis'; expected only dim, keepdim`,
      );
    }
    expect(msg(() => variance(x, { dim: 1, unbiased: false } as never))).toBe(
      "ArgumentError: variance: argument 'options' has unknown key 'unbiased'; expected only dim, keepdim, correction",
    );
    expect(msg(() => std(x, { keepDim: true } as never))).toMatch(/std: argument 'options' has unknown key 'keepDim'/);
    expect(msg(() => sum(x, 1, 1 as never))).toBe("ArgumentError: sum: argument 'keepdim' is 1; expected a boolean");
    expect(msg(() => sum(x, '1' as never))).toMatch(/sum: argument 'dim' is "1"; expected an integer, an array of integers or an options object/);
    expect(msg(() => mean(x, { dim: 0 }, true))).toMatch(/mean: argument 'keepdim' is true after an options object/);
    x.dispose();
  });
});

describe('random keys are recognisable', () => {
  it('randn(shape, key) (arguments swapped) is an error, not an empty tensor', () => {
    const k = random.key(42);
    expect(msg(() => randn([2, 3] as never, k as never))).toBe(
      "ArgumentError: randn: argument 'key' is [2,3] and 'shape' is a key; expected the key first: randn(key, shape, ...)",
    );
    expect(msg(() => rand([0, 42] as never, [2, 3]))).toBe(
      "ArgumentError: rand: argument 'key' is [0,42] (a plain array, not a key); expected a Key from random.key(seed), split or foldIn (random.wrapKeyData([k0, k1]) turns saved words back into a key)",
    );
  });

  it("random ops refuse option keys they do not know (uniform's bounds are low/high, not min/max)", () => {
    expect(msg(() => uniform(random.key(0), [2], { min: 0, max: 2 } as never))).toBe(
      "ArgumentError: uniform: argument 'options' has unknown key 'min'; expected only dtype, device, low, high",
    );
    expect(msg(() => normal(random.key(0), [2], { sigma: 2 } as never))).toMatch(/normal: argument 'options' has unknown key 'sigma'/);
  });

  it('keys still print and compare as two words, and wrapKeyData restores a saved one', async () => {
    const k = random.key(42);
    expect(JSON.stringify(k)).toBe('[0,42]');
    const back = random.wrapKeyData(JSON.parse(JSON.stringify(k)));
    const a = randn(k, [4]),
      b = randn(back, [4]);
    expect(await vals(a)).toEqual(await vals(b));
    expect(random.split(k).every((c) => random.isKey(c))).toBe(true);
    expect(random.isKey([0, 42])).toBe(false);
  });
});

describe('optimizer and schedule options', () => {
  it('adam({}), lr: "abc", lr: NaN and unknown keys are refused before any update', () => {
    expect(msg(() => optim.adam({} as never))).toBe(
      "ArgumentError: adam: argument 'lr' is undefined; expected a finite number ≥ 0 or a schedule (step) => number",
    );
    expect(msg(() => optim.adam({ lr: 'abc' } as never))).toBe(
      'ArgumentError: adam: argument \'lr\' is "abc"; expected a finite number ≥ 0 or a schedule (step) => number',
    );
    expect(msg(() => optim.adam({ lr: NaN }))).toBe("ArgumentError: adam: argument 'lr' is NaN; expected a finite number ≥ 0 or a schedule (step) => number");
    expect(msg(() => optim.sgd({ lr: -1 }))).toMatch(/sgd: argument 'lr' is -1/);
    expect(msg(() => optim.adamw({ lr: 1e-3, beta1: 0.9 } as never))).toBe(
      "ArgumentError: adamw: argument 'options' has unknown key 'beta1'; expected only lr, weightDecay, groups, betas, eps, amsgrad",
    );
    expect(msg(() => optim.adam({ lr: 1e-3, betas: [0.9, 1] }))).toBe("ArgumentError: adam: argument 'betas' is [0.9, 1]; expected two numbers in [0, 1)");
    expect(msg(() => optim.adam({ lr: 1e-3, eps: -1 }))).toBe("ArgumentError: adam: argument 'eps' is -1; expected a finite number ≥ 0");
    expect(msg(() => optim.rmsprop({ lr: Infinity }))).toMatch(/rmsprop: argument 'lr' is Infinity/);
    expect(msg(() => optim.sgd({ lr: 0.1, weightDecay: NaN }))).toMatch(/sgd: argument 'weightDecay' is NaN/);
    expect(msg(() => optim.sgd({ lr: 0.1, groups: [{ match: 'fc', lrScale: NaN }] }))).toMatch(/sgd: argument 'groups\[0\].lrScale' is NaN/);
    expect(msg(() => optim.sgd({ lr: 0.1, groups: [{ match: 'fc', lr: 1 } as never] }))).toMatch(/sgd: argument 'groups\[0\]' has unknown key 'lr'/);
  });

  it('a schedule that returns NaN stops the update before it touches (or donates) the parameters', async () => {
    const opt = optim.sgd({ lr: () => NaN });
    const params = { w: tensor([1, 2]) };
    const state = opt.init(params);
    const g = { w: tensor([1, 1]) };
    expect(msg(() => opt.update(g, state, params, { donate: true }))).toBe(
      "ArgumentError: sgd: argument 'lr' schedule returned NaN at step 0; expected a finite number ≥ 0",
    );
    expect(await vals(params.w)).toEqual([1, 2]); // still alive and unchanged
    g.w.dispose();
  });

  it('schedules check their options', () => {
    expect(msg(() => schedules.stepLR(0.1, { stepSize: 0 }))).toBe("ArgumentError: stepLR: argument 'stepSize' is 0; expected an integer > 0");
    expect(msg(() => schedules.stepLR(NaN, { stepSize: 3 }))).toBe("ArgumentError: stepLR: argument 'lr' is NaN; expected a finite number ≥ 0");
    expect(msg(() => schedules.cosineAnnealingLR(0.1, { Tmax: 10 } as never))).toBe(
      "ArgumentError: cosineAnnealingLR: argument 'options' has unknown key 'Tmax'; expected only tMax, etaMin",
    );
    expect(msg(() => schedules.cosineAnnealingLR(0.1, {} as never))).toBe("ArgumentError: cosineAnnealingLR: argument 'tMax' is missing; expected a value");
    expect(msg(() => schedules.linearWarmup(0.1, { steps: 5, startFactor: 0 }))).toMatch(
      /linearWarmup: argument 'startFactor' is 0; expected a finite number in \(0, 1\]/,
    );
    expect(msg(() => schedules.multiStepLR(0.1, { milestones: [1.5] }))).toMatch(/multiStepLR: argument 'milestones' is \[1.5\]/);
    expect(msg(() => schedules.sequential([]))).toMatch(/sequential: argument 'parts' is \[\]/);
    expect(msg(() => schedules.exponentialLR('0.1' as never, { gamma: 0.9 }))).toMatch(/exponentialLR: argument 'lr' is "0.1"/);
    expect(schedules.stepLR(1, { stepSize: 2, gamma: 0.5 })(3)).toBe(0.5);
  });
});

describe('layer configs', () => {
  it('PyTorch positional configs, misspelt and missing keys, bad sizes', () => {
    expect(msg(() => nn.conv2d(3 as never))).toBe(
      "ArgumentError: nn.conv2d: argument 'config' is 3; expected a config object, e.g. nn.conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3 })",
    );
    expect(msg(() => nn.conv2d({ inChannels: 3, outChannels: 8, kernel_size: 3 } as never))).toBe(
      "ArgumentError: nn.conv2d: argument 'config' has unknown key 'kernel_size'; expected only inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias",
    );
    expect(msg(() => nn.conv2d({ inChannels: 3, outChannels: 8 } as never))).toMatch(/nn.conv2d: argument 'kernelSize' is missing/);
    expect(msg(() => nn.conv2d({ inChannels: 0, outChannels: 8, kernelSize: 3 }))).toBe(
      "ArgumentError: nn.conv2d: argument 'inChannels' is 0; expected a positive integer",
    );
    expect(msg(() => nn.conv2d({ inChannels: 3, outChannels: 8, kernelSize: [3, 0] }))).toMatch(
      /nn.conv2d: argument 'kernelSize' is \[3,0\]; expected an integer ≥ 1 or a pair of them/,
    );
    expect(msg(() => nn.conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, groups: 2 }))).toBe(
      "ArgumentError: nn.conv2d: argument 'groups' is 2; expected a divisor of inChannels (3) and outChannels (8)",
    );
    expect(msg(() => nn.conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 'full' as never }))).toMatch(/nn.conv2d: argument 'padding' is "full"/);
    expect(msg(() => nn.convTranspose2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 'same' as never }))).toMatch(
      /nn.convTranspose2d: argument 'padding' is "same"; expected an integer ≥ 0 or a pair of them/,
    );
    expect(msg(() => nn.convTranspose2d({ inChannels: 3, outChannels: 8, kernelSize: 3, outputPadding: -1 }))).toMatch(
      /nn.convTranspose2d: argument 'outputPadding' is -1/,
    );
    expect(msg(() => nn.linear({ inFeatures: 4, outFeatures: 2.5 }))).toBe(
      "ArgumentError: nn.linear: argument 'outFeatures' is 2.5; expected a positive integer",
    );
    expect(msg(() => nn.linear({ in: 4, out: 2 } as never))).toMatch(
      /nn.linear: argument 'config' has unknown key 'in'; expected only inFeatures, outFeatures, bias/,
    );
    expect(msg(() => nn.batchNorm2d({ numFeatures: 8, momentum: 2 }))).toBe(
      "ArgumentError: nn.batchNorm2d: argument 'momentum' is 2; expected a number in [0, 1]",
    );
    expect(msg(() => nn.batchNorm2d({ num_features: 8 } as never))).toMatch(/nn.batchNorm2d: argument 'config' has unknown key 'num_features'/);
    expect(msg(() => nn.batchNorm2d({ numFeatures: 8, activation: 'gelu' as never }))).toMatch(
      /nn.batchNorm2d: argument 'activation' is "gelu"; expected 'none' or 'relu'/,
    );
    expect(msg(() => nn.layerNorm({ normalizedShape: [0] }))).toMatch(/nn.layerNorm: argument 'normalizedShape' is \[0\]/);
    expect(msg(() => nn.groupNorm({ numGroups: 3, numChannels: 8 }))).toBe(
      "ArgumentError: nn.groupNorm: argument 'numGroups' is 3; expected a divisor of numChannels (8)",
    );
    expect(msg(() => nn.groupNorm({ numGroups: 2, numChannels: 8, eps: -1 }))).toMatch(/nn.groupNorm: argument 'eps' is -1/);
    expect(msg(() => nn.dropout({ p: 1.5 }))).toBe("ArgumentError: nn.dropout: argument 'p' is 1.5; expected a probability in [0, 1]");
    expect(msg(() => nn.dropout({ rate: 0.5 } as never))).toMatch(/nn.dropout: argument 'config' has unknown key 'rate'; expected only p/);
    expect(msg(() => nn.sequential(nn.linear({ inFeatures: 2, outFeatures: 2 }), ((x: Tensor) => x) as never))).toBe(
      "ArgumentError: nn.sequential: argument 'layers[1]' is a function; expected a module { init, apply } (e.g. nn.linear({...}) or nn.lambda(relu))",
    );
  });

  it('valid configs still build', () => {
    const m = nn.sequential(
      nn.conv2d({ inChannels: 3, outChannels: 4, kernelSize: [3, 3], padding: 'same', groups: 1 }),
      nn.batchNorm2d({ numFeatures: 4, activation: 'relu' }),
      nn.groupNorm({ numGroups: 2, numChannels: 4 }),
      nn.dropout(),
      nn.convTranspose2d({ inChannels: 4, outChannels: 2, kernelSize: 2, stride: 2, outputPadding: 0 }),
    );
    const { params } = m.init(random.key(0));
    expect(Object.keys(params)).toEqual(['0', '1', '2', '4']);
    tidy(() => params);
  });
});
