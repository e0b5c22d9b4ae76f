/** Tensor#format (PyTorch-style text) and toString. */
import { describe, it, expect } from 'vitest';
import { tensor, arange, reshape } from '../../src/node';
import { formatTensor } from '../../src/tensor/format';

describe('format', () => {
  it('prints floats, ints and bools like PyTorch', async () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(await a.format()).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    const b = tensor([1.5, -0.25, 1 / 3]);
    expect(await b.format()).toBe('tensor([1.5, -0.25, 0.3333])');
    const c = tensor([1, -2], { dtype: 'int32' });
    expect(await c.format()).toBe('tensor([1, -2], dtype=int32)');
    const d = tensor([true, false]);
    expect(await d.format()).toBe('tensor([True, False], dtype=bool)');
    const e = tensor(3.5);
    expect(await e.format()).toBe('tensor(3.5)');
    expect(a.toString()).toBe('Tensor(shape=[2, 2], dtype=float32)');
    for (const t of [a, b, c, d, e]) t.dispose();
    expect(a.toString()).toBe('Tensor(shape=[2, 2], dtype=float32, disposed)');
  });

  it('prints nan and inf, and a blank line between 3-d blocks', async () => {
    expect(formatTensor([3], 'float32', [NaN, Infinity, -Infinity])).toBe('tensor([nan, inf, -inf])');
    const t = reshape(arange(0, 8, 1, { dtype: 'float32' }), [2, 2, 2]);
    expect(await t.format()).toBe('tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])');
    t.dispose();
  });

  it('elides the middle of large tensors', () => {
    const s = formatTensor(
      [2000],
      'int32',
      Array.from({ length: 2000 }, (_, i) => i),
    );
    expect(s).toBe('tensor([0, 1, 2, ..., 1997, 1998, 1999], dtype=int32)');
  });
});
