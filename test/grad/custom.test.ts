/** customVjp and customOp: user-defined gradients and ops on the built-in op contract. */
import { describe, it, expect } from 'vitest';
import { tensor, add, mul, div, abs, clamp, sign, sum, square, grad, customOp, customVjp, type Tensor } from '../../src/node';
import { registeredOps } from '../../src/tensor/ops/define';

const vals = async (t: Tensor) => [...(await t.data())];

describe('customVjp', () => {
  it('replaces the gradient of the function it wraps (straight-through sign)', async () => {
    // sign has zero gradient; a straight-through estimator passes dy unchanged
    const ste = customVjp(
      (x: Tensor) => sign(x),
      ({ dy }) => [dy],
    );
    const x = tensor([0.2, 1.7, -2.6]);
    expect(await vals(ste(x))).toEqual([1, 1, -1]);
    const g = grad((t: Tensor) => sum(mul(ste(t), tensor([1, 2, 3]))))(x);
    expect(await vals(g)).toEqual([1, 2, 3]);
    // without it, the gradient would be sign's (zero)
    expect(await vals(grad((t: Tensor) => sum(mul(sign(t), tensor([1, 2, 3]))))(x))).toEqual([0, 0, 0]);
  });

  it('gives one cotangent per input, null for none, and a function returning its input stays separate', async () => {
    const clipped = customVjp(
      (a: Tensor, b: Tensor) => mul(a, b),
      ({ dy, inputs: [a, b] }) => [clamp(mul(dy, b), -1, 1), null],
    );
    const a = tensor([1, 2]),
      b = tensor([5, 0.5]);
    const [ga, gb] = grad((p: Tensor, q: Tensor) => sum(clipped(p, q)), { argnums: [0, 1] })(a, b) as Tensor[];
    expect(await vals(ga)).toEqual([1, 0.5]);
    expect(await vals(gb)).toEqual([0, 0]);
    const ident = customVjp(
      (t: Tensor) => t,
      ({ dy }) => [mul(dy, 3)],
    );
    const y = ident(a);
    expect(y).not.toBe(a);
    expect(await vals(grad((t: Tensor) => sum(ident(t)))(a))).toEqual([3, 3]);
  });

  it('stays out of the built-in registry', () => {
    customVjp(
      (x: Tensor) => x,
      ({ dy }) => [dy],
      'myCustomGrad',
    );
    expect(registeredOps().has('myCustomGrad')).toBe(false);
  });
});

describe('customOp', () => {
  // softsign(x) = x / (1 + |x|), d/dx = 1 / (1 + |x|)²
  const softsign = customOp({
    name: 'softsign',
    inputs: { x: 'tensor' },
    shape: ({ x }) => ({ shape: x.shape, dtype: 'float32' }),
    produce: ({ x }) => div(x, add(abs(x), 1)),
    reference: ({ x }) => ({ shape: [...x.shape], dtype: 'float32', data: x.data.map((v) => v / (1 + Math.abs(v))) }),
    vjp: ({ dy, inputs: { x } }) => [div(dy, square(add(abs(x), 1)))],
  });

  it('runs with named inputs and differentiates through its VJP', async () => {
    const x = tensor([-3, 0.5, 1]);
    const y = softsign({ x }) as Tensor;
    const want = [-0.75, 1 / 3, 0.5];
    (await vals(y)).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    const g = grad((t: Tensor) => sum(softsign({ x: t }) as Tensor))(x);
    (await vals(g)).forEach((v, i) => expect(v).toBeCloseTo(1 / (1 + Math.abs([-3, 0.5, 1][i])) ** 2, 6));
    expect(registeredOps().has('softsign')).toBe(false);
  });

  it('checks a produced output against the shape rule', () => {
    const wrong = customOp({
      name: 'wrongRule',
      inputs: { x: 'tensor' },
      shape: ({ x }) => ({ shape: [...x.shape, 1], dtype: 'float32' }),
      produce: ({ x }) => mul(x, 2),
      noGrad: 'test',
    });
    expect(() => wrong({ x: tensor([1, 2]) })).toThrow(/wrongRule: the forward gave \[2\] float32 but the shape rule says \[2, 1\] float32/);
  });

  it('refuses undefined for a required input, as built-in ops do', () => {
    const x = tensor([1, 2]);
    expect(() => add(x, undefined as unknown as Tensor)).toThrow(/add: argument 'input 1' is a undefined; expected a Tensor or a number/);
    const opt = customOp({
      name: 'optionalBias',
      inputs: { x: 'tensor', bias: 'tensor?' },
      shape: ({ x: t }) => ({ shape: t.shape, dtype: 'float32' }),
      produce: ({ x: t, bias }) => (bias ? add(t, bias) : mul(t, 1)),
      noGrad: 'test',
    });
    expect(opt({ x, bias: undefined })).toBeTruthy();
  });

  it('refuses dtypes it does not declare', () => {
    const floatsOnly = customOp({
      name: 'floatsOnly',
      inputs: { x: 'tensor' },
      dtypes: ['float32'],
      shape: ({ x }) => ({ shape: x.shape, dtype: 'float32' }),
      produce: ({ x }) => mul(x, 1),
      noGrad: 'test',
    });
    expect(() => floatsOnly({ x: tensor([1, 2], { dtype: 'int32' }) })).toThrow(
      /floatsOnly: argument 'input' has dtype int32; expected a dtype other than bool, uint32, int32/,
    );
  });
});
