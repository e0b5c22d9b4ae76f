/**
 * NaN goes through relu, clamp and the fused ReLUs of conv2d and batchNorm on the GPU, as in PyTorch:
 * hiding a diverged value as 0 is worse than showing it. WGSL's max/min may return either operand
 * for NaN, so the kernels test for it explicitly; these tests put NaN through each GPU path.
 */
import { describe, it, expect } from 'vitest';
import { tensor, relu, clamp, conv2d, batchNormAct, grad, sum, mul, type Tensor } from '../../src/node';

const vals = async (t: Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};

describe('NaN propagation', () => {
  it('relu keeps NaN (and ±Inf behave as PyTorch)', async () => {
    const x = tensor([NaN, -1, 2, -Infinity, Infinity, -0.5]);
    const y = await vals(relu(x));
    expect(y[0]).toBeNaN();
    expect(y.slice(1)).toEqual([0, 2, 0, Infinity, 0]);
    x.dispose();
  });

  it('clamp keeps NaN in the input and in a bound', async () => {
    const x = tensor([NaN, -5, 0.5, 5]);
    const y = await vals(clamp(x, -1, 1));
    expect(y[0]).toBeNaN();
    expect(y.slice(1)).toEqual([-1, 0.5, 1]);
    const lo = await vals(clamp(x, NaN, 1));
    expect(lo.every(Number.isNaN)).toBe(true);
    const hiOnly = await vals(clamp(x, undefined, 1));
    expect(hiOnly[0]).toBeNaN();
    expect(hiOnly.slice(1)).toEqual([-5, 0.5, 1]);
    x.dispose();
  });

  it("conv2d's fused ReLU keeps NaN", async () => {
    // 1×1 kernel of weight 1 over [NaN, −2, 3]: the output equals the input before the ReLU
    const x = tensor([[[[NaN, -2, 3]]]]),
      w = tensor([[[[1]]]]),
      b = tensor([0]);
    const y = await vals(conv2d(x, w, { bias: b, activation: 'relu' }));
    expect(y[0]).toBeNaN();
    expect(y.slice(1)).toEqual([0, 3]);
    x.dispose();
    w.dispose();
    b.dispose();
  });

  it("batchNormAct's fused ReLU keeps NaN (eval mode, running statistics 0 and 1)", async () => {
    const x = tensor([[[[NaN, -2, 3]]]]),
      rm = tensor([0]),
      rv = tensor([1]);
    const r = batchNormAct(x, rm, rv, null, null, { training: false, eps: 0, activation: 'relu' });
    const y = await vals(r.y);
    r.runningMean?.dispose();
    r.runningVar?.dispose();
    expect(y[0]).toBeNaN();
    expect(y.slice(1)).toEqual([0, 3]);
    x.dispose();
    rm.dispose();
    rv.dispose();
  });

  it("gradients as PyTorch's threshold_backward: zero where the ReLU output is ≤ 0, passed on at NaN", async () => {
    // d/dx Σ relu(x)·c = c where x > 0 or x is NaN; 0 where x ≤ 0. clamp's gradient is 0 at NaN (PyTorch's clamp_backward)
    const c = tensor([1, 2, 3, 4]);
    const at = tensor([NaN, -1, 0, 2]);
    expect(await vals(grad((x: Tensor) => sum(mul(relu(x), c)))(at))).toEqual([1, 0, 0, 4]);
    const gc = await vals(grad((x: Tensor) => sum(mul(clamp(x, -1, 1), c)))(at));
    expect(gc).toEqual([0, 2, 3, 0]);
    // the fused conv ReLU, through the same 1×1 identity conv (its output equals its input)
    const w = tensor([[[[1]]]]);
    const x4 = tensor([[[[NaN, -1, 0, 2]]]]);
    const gconv = await vals(grad((x: Tensor) => sum(mul(conv2d(x, w, { activation: 'relu' }), c)))(x4));
    expect(gconv).toEqual([1, 0, 0, 4]);
    // batchNormAct in eval mode (mean 0, variance 1, eps 0): the same identity before the ReLU
    const rm = tensor([0]),
      rv = tensor([1]);
    const gbn = await vals(
      grad((x: Tensor) => {
        const r = batchNormAct(x, rm, rv, null, null, { training: false, eps: 0, activation: 'relu' });
        return sum(mul(r.y, c));
      })(x4),
    );
    expect(gbn).toEqual([1, 0, 0, 4]);
    for (const t of [c, at, w, x4, rm, rv]) t.dispose();
  });
});
