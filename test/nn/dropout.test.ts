/** dropout: PyTorch's F.dropout semantics with an explicit key. */
import { describe, it, expect } from 'vitest';
import { key } from '../../src/base/random';
import { dropout, bernoulli, tensor, full, grad, sum, mul, tidy, ArgumentError } from '../../src/node';

describe('dropout', () => {
  it('keeps exactly where bernoulli(key, 1 − p) is 1, scaled by 1/(1 − p)', async () => {
    const k = key(3),
      p = 0.3;
    const x = tensor(
      Float32Array.from({ length: 600 }, (_, i) => 1 + (i % 7)),
      { shape: [20, 30] },
    );
    const y = await dropout(x, p, k).data();
    const mask = await bernoulli(k, 1 - p, [20, 30]).data();
    const xs = await x.data();
    for (let i = 0; i < 600; i++) expect(y[i], `element ${i}`).toBe(mask[i] ? Math.fround(xs[i] * Math.fround(1 / (1 - p))) : 0);
    x.dispose();
  });
  it('E[output] ≈ input (100k elements)', async () => {
    const p = 0.4,
      n = 100_000;
    const y = await tidy(() => dropout(full([n], 2), p, key(8))).data();
    let s = 0;
    for (const v of y) s += v;
    // each element is 2/(1−p) with probability 1−p: variance 4p/(1−p)
    expect(Math.abs(s / n - 2)).toBeLessThan(4 * Math.sqrt((4 * p) / (1 - p) / n));
    const dropped = y.filter((v) => v === 0).length / n;
    expect(Math.abs(dropped - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
  });
  it('identity when not training or p = 0; zeros when p = 1', async () => {
    const x = tensor([
      [1, -2, 3],
      [4, 5, -6],
    ]);
    expect(dropout(x, 0.5, key(1), { training: false })).toBe(x);
    expect(dropout(x, 0, key(1))).toBe(x);
    // x · 0, as PyTorch: negative inputs give -0
    expect([...(await dropout(x, 1, key(1)).data())].every((v) => v === 0)).toBe(true);
    x.dispose();
  });
  it('the gradient flows through the mask: d/dx sum(w · dropout(x)) = w · mask / (1 − p)', async () => {
    const p = 0.25,
      k = key(12);
    const x = tensor(
      Float32Array.from({ length: 50 }, (_, i) => i / 10 - 2),
      { shape: [5, 10] },
    );
    const w = tensor(
      Float32Array.from({ length: 50 }, (_, i) => (i % 3) - 1 + 0.5),
      { shape: [5, 10] },
    );
    const g = await tidy(() => grad((xx) => sum(mul(dropout(xx, p, k), w)))(x)).data();
    const mask = await bernoulli(k, 1 - p, [5, 10]).data();
    const ws = await w.data();
    for (let i = 0; i < 50; i++) expect(g[i]).toBeCloseTo((mask[i] * ws[i]) / (1 - p), 6);
    x.dispose();
    w.dispose();
  });
  it('names bad arguments', () => {
    const x = tensor([1, 2]);
    expect(() => dropout(x, 1.5, key(1))).toThrow(ArgumentError);
    expect(() => dropout(x, 1.5, key(1))).toThrow(/dropout: argument 'p' is 1.5/);
    expect(() => dropout(x, 0.5, [1] as never)).toThrow(/dropout: argument 'key'/);
    x.dispose();
  });
});
