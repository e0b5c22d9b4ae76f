/** Creation functions vs creationReference, tensor() round trips, read-back and formatting. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { full, zeros, ones, fullLike, zerosLike, onesLike, arange, linspace, eye, tensor, tidy, ArgumentError, type Tensor, type DType } from '../../src/node';
import { creationReference } from '../../src/tensor/ops/creation';
import { mismatch, type Tol } from '../helpers/close';
import { shape } from '../helpers/arbitraries';
import type { RefTensor } from '../../src/tensor/ops/define';

const exact: Tol = { rtol: 0, atol: 0 };
async function check(make: () => Tensor, want: RefTensor, tol: Tol = exact): Promise<void> {
  const t = tidy(make);
  try {
    expect(t.shape).toEqual(want.shape);
    expect(t.dtype).toBe(want.dtype);
    const m = mismatch(await t.data(), want, tol);
    if (m) throw new Error(m);
  } finally {
    t.dispose();
  }
}
const dtypes: DType[] = ['float32', 'int32', 'uint32', 'bool'];
const runs = { numRuns: 15 };

describe('creation: full, zeros, ones and *Like', () => {
  it('full(shape, value, dtype) matches the reference (values stored as the dtype stores them)', async () => {
    await fc.assert(
      fc.asyncProperty(
        shape({ allowEmpty: true }),
        fc.constantFrom(...dtypes),
        fc.double({ min: -100, max: 100, noNaN: true }).map(Math.fround),
        async (s, dtype, v) => {
          const value = dtype === 'uint32' ? Math.abs(v) : v;
          await check(() => full(s, value, { dtype }), creationReference.full(s, value, dtype));
        },
      ),
      runs,
    );
  });
  it('zeros, ones and the *Like forms take shape, dtype and device from the input', async () => {
    await fc.assert(
      fc.asyncProperty(shape({ allowEmpty: true }), fc.constantFrom(...dtypes), fc.constantFrom(...dtypes), async (s, d1, d2) => {
        await check(() => zeros(s, { dtype: d1 }), creationReference.full(s, 0, d1));
        await check(() => ones(s, { dtype: d1 }), creationReference.full(s, 1, d1));
        const x = zeros(s, { dtype: d1 });
        await check(() => onesLike(x), creationReference.full(s, 1, d1));
        await check(() => zerosLike(x, { dtype: d2 }), creationReference.full(s, 0, d2));
        await check(() => fullLike(x, 7, { dtype: d2 }), creationReference.full(s, 7, d2));
        x.dispose();
      }),
      runs,
    );
  });
  it('full of a boolean gives bool; default float32; bad shapes name "shape"', async () => {
    expect(tidy(() => full([2], true)).dtype).toBe('bool');
    expect(tidy(() => full([2], 3)).dtype).toBe('float32');
    expect(await tidy(() => full([3], 7, { dtype: 'bool' })).toArray()).toEqual([true, true, true]); // non-zero is true
    expect(await tidy(() => full([2], -2.7, { dtype: 'int32' })).toArray()).toEqual([-2, -2]);
    expect(() => full([2, -1], 0)).toThrow(/full: argument 'shape'/);
    expect(() => zeros([1.5])).toThrow(ArgumentError);
  });
});

describe('creation: arange', () => {
  it('integer ranges (int32), any sign of step, empty when the range is empty', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: -7, max: 7 }).filter((s) => s !== 0),
        async (start, end, step) => {
          const want = creationReference.arange(start, end, step, 'int32');
          // independent count: values start + k·step strictly before end
          let n = 0;
          while (step > 0 ? start + n * step < end : start + n * step > end) n++;
          expect(want.shape).toEqual([n]);
          await check(() => arange(start, end, step), want);
        },
      ),
      runs,
    );
  });
  it('float ranges (negative steps too) within float32 rounding', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: 0.05, max: 3, noNaN: true }),
        fc.boolean(),
        async (start, end, mag, neg) => {
          const step = neg ? -mag : mag;
          const n = Math.max(0, Math.ceil((end - start) / step));
          const tol = { rtol: 0, atol: 4e-7 * (Math.abs(start) + n * mag + 1) };
          await check(() => arange(start, end, step), creationReference.arange(start, end, step, 'float32'), tol);
        },
      ),
      runs,
    );
  });
  it('arange(end), dtype overrides, and errors', async () => {
    await check(() => arange(4), { shape: [4], dtype: 'int32', data: Float64Array.of(0, 1, 2, 3) });
    await check(() => arange(0, 1, 0.25), { shape: [4], dtype: 'float32', data: Float64Array.of(0, 0.25, 0.5, 0.75) });
    await check(() => arange(3, 0, -1, { dtype: 'float32' }), { shape: [3], dtype: 'float32', data: Float64Array.of(3, 2, 1) });
    await check(() => arange(0), { shape: [0], dtype: 'int32', data: new Float64Array(0) });
    await check(() => arange(5, 0, 1), { shape: [0], dtype: 'int32', data: new Float64Array(0) });
    expect(() => arange(0, 5, 0)).toThrow(/arange: argument 'step' is 0/);
  });
});

describe('creation: linspace and eye', () => {
  it('linspace: steps 0, 1 and many; endpoints exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: -10, max: 10, noNaN: true }).map(Math.fround),
        fc.double({ min: -10, max: 10, noNaN: true }).map(Math.fround),
        fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 3, max: 300 })),
        async (start, end, steps) => {
          const tol = { rtol: 0, atol: 4e-7 * (Math.abs(start) + Math.abs(end) + 1) };
          await check(() => linspace(start, end, steps), creationReference.linspace(start, end, steps), tol);
          if (steps >= 1) {
            const got = await tidy(() => linspace(start, end, steps)).data();
            expect(got[0] === start, `first value ${got[0]}`).toBe(true);
            if (steps >= 2) expect(got[steps - 1] === end, `last value ${got[steps - 1]}`).toBe(true);
          }
        },
      ),
      runs,
    );
    expect(await tidy(() => linspace(2, 5, 1)).toArray()).toEqual([2]); // torch.linspace(2, 5, 1) is [2.]
    expect(await tidy(() => linspace(0, 1, 5)).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(() => linspace(0, 1, -1)).toThrow(/linspace: argument 'steps' is -1/);
  });
  it('eye: square and rectangular, any dtype', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 9 }),
        fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
        fc.constantFrom(...dtypes),
        async (n, m, dtype) => {
          await check(() => eye(n, m, { dtype }), creationReference.eye(n, m ?? n, dtype));
        },
      ),
      runs,
    );
    expect(() => eye(-1)).toThrow(/eye: argument 'n'/);
  });
});

describe('creation: tensor() round trips', () => {
  it('nested arrays give their shape and values', async () => {
    await fc.assert(
      fc.asyncProperty(shape({ maxRank: 4, maxDim: 4, allowEmpty: true }), fc.integer({ min: 0, max: 1000 }), async (s, seed) => {
        const n = s.reduce((a, b) => a * b, 1);
        const flat = Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed + i) * 10));
        const nest = (d: number, off: number): unknown =>
          d === s.length ? flat[off] : Array.from({ length: s[d] }, (_, i) => nest(d + 1, off + i * s.slice(d + 1).reduce((a, b) => a * b, 1)));
        const t = tensor(nest(0, 0) as number[]);
        // a nested array with an empty dim has no values to tell deeper dims: the shape stops at the first 0
        const cut = s.indexOf(0);
        expect(t.shape).toEqual(cut < 0 ? s : s.slice(0, cut + 1));
        expect(t.dtype).toBe('float32');
        expect([...(await t.data())]).toEqual(flat);
        if (cut < 0) expect(await t.toArray()).toEqual(nest(0, 0));
        t.dispose();
      }),
      runs,
    );
  });
  it('typed arrays with a shape; dtype inferred from the array; dtype overrides', async () => {
    const a = tensor(Int32Array.of(1, -2, 3, 4, 5, 6), { shape: [2, 3] });
    expect([a.dtype, a.shape]).toEqual(['int32', [2, 3]]);
    expect(await a.toArray()).toEqual([
      [1, -2, 3],
      [4, 5, 6],
    ]);
    const b = tensor(Float32Array.of(1.5, 2.25));
    expect([b.dtype, b.shape]).toEqual(['float32', [2]]);
    const c = tensor(Uint32Array.of(7, 4294967295));
    expect(await c.toArray()).toEqual([7, 4294967295]);
    const d = tensor([1.7, -2.2, 3], { dtype: 'int32' });
    expect(await d.toArray()).toEqual([1, -2, 3]);
    const e = tensor([0, 2, 0], { dtype: 'bool' });
    expect(await e.toArray()).toEqual([false, true, false]);
    const f = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'f32' },
    );
    expect(f.dtype).toBe('float32');
    const g = tensor([1, 2, 3, 4], { shape: [2, 2] });
    expect(await g.toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const h = tensor(5);
    expect([h.shape, await h.toArray()]).toEqual([[], 5]);
    [a, b, c, d, e, f, g, h].forEach((t) => t.dispose());
    expect(() => tensor(Float32Array.of(1, 2, 3), { shape: [2, 2] })).toThrow(/tensor: argument 'shape' has 4 elements; expected 3/);
    expect(() => tensor([1, 2], { dtype: 'float64' as never })).toThrow(/dtype/);
  });
  it('booleans give bool tensors', async () => {
    const t = tensor([
      [true, false],
      [false, true],
    ]);
    expect(t.dtype).toBe('bool');
    expect(await t.toArray()).toEqual([
      [true, false],
      [false, true],
    ]);
    expect([...(await t.data())]).toEqual([1, 0, 0, 1]);
    t.dispose();
  });
  it('ragged or mixed input is an error naming data', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ArgumentError);
    expect(() => tensor([[1, 2], [3]])).toThrow(/tensor: argument 'data' is ragged/);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/tensor: argument 'data'/);
    expect(() => tensor([1, null] as never)).toThrow(/tensor: argument 'data' contains null/);
    expect(() => tensor(['a'] as never)).toThrow(/tensor: argument 'data'/);
  });
});

describe('creation: reading back', () => {
  it('item returns the value of one-element tensors and rejects others', async () => {
    const a = tensor(3.5),
      b = tensor([[7]], { dtype: 'int32' }),
      c = tensor([1, 2]);
    expect(await a.item()).toBe(3.5);
    expect(await b.item()).toBe(7);
    await expect(c.item()).rejects.toThrow(/item: tensor has 2 elements \(shape \[2\]\)/);
    [a, b, c].forEach((t) => t.dispose());
  });
  it('format() for small float, int and bool tensors (PyTorch layout)', async () => {
    const f = tensor([
      [1, 2.5, -3],
      [0.125, 4, 1e-3],
    ]);
    expect(await f.format()).toBe('tensor([[1., 2.5, -3.],\n        [0.125, 4., 0.001]])');
    const i = tensor(
      [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, -8],
        ],
      ],
      { dtype: 'int32' },
    );
    expect(await i.format()).toBe('tensor([[[1, 2],\n         [3, 4]],\n\n        [[5, 6],\n         [7, -8]]], dtype=int32)');
    const b = tensor([true, false, true]);
    expect(await b.format()).toBe('tensor([True, False, True], dtype=bool)');
    expect(await tensor(2.5).format()).toBe('tensor(2.5)');
    expect(await tensor([]).format()).toBe('tensor([])');
    [f, i, b].forEach((t) => t.dispose());
  });
});
