/** Layout ops: known values (checked against PyTorch by hand), public-wrapper semantics and error messages. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  tensor,
  arange,
  reshape,
  tidy,
  grad,
  sum,
  mul,
  flatten,
  squeeze,
  unsqueeze,
  permute,
  transpose,
  t,
  slice,
  sliceAxes,
  narrow,
  flip,
  roll,
  tile,
  repeat,
  repeatInterleave,
  expand,
  concat,
  cat,
  stack,
  split,
  chunk,
  pad,
  gather,
  indexSelect,
  scatterAdd,
  indexAdd,
  oneHot,
  type Tensor,
} from '../../src/node';
import { view } from '../../src/tensor/ops/layout';

const arr = (x: Tensor) => x.toArray();
const a23 = () =>
  tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
const idx = (v: unknown) => tensor(v as number[], { dtype: 'int32' });

describe('layout: views', () => {
  it('flatten, squeeze, unsqueeze, view', async () => {
    const x = reshape(arange(24, undefined, 1, { dtype: 'float32' }), [2, 3, 4]);
    expect(flatten(x).shape).toEqual([24]);
    expect(flatten(x, 1).shape).toEqual([2, 12]);
    expect(flatten(x, 0, 1).shape).toEqual([6, 4]);
    expect(flatten(tensor(3)).shape).toEqual([1]);
    const y = reshape(x, [1, 2, 1, 3, 4]);
    expect(squeeze(y).shape).toEqual([2, 3, 4]);
    expect(squeeze(y, 2).shape).toEqual([1, 2, 3, 4]);
    expect(squeeze(y, 1).shape).toEqual([1, 2, 1, 3, 4]);
    expect(squeeze(y, [0, -3]).shape).toEqual([2, 3, 4]);
    expect(unsqueeze(x, 0).shape).toEqual([1, 2, 3, 4]);
    expect(unsqueeze(x, -1).shape).toEqual([2, 3, 4, 1]);
    expect(unsqueeze(x, 3).shape).toEqual([2, 3, 4, 1]);
    expect(view(x, [4, -1]).shape).toEqual([4, 6]);
    expect(() => unsqueeze(x, 4)).toThrow("unsqueeze: argument 'dim' is 4; expected an integer in [-4, 3] for a tensor of rank 4");
    expect(() => flatten(x, 2, 1)).toThrow(/flatten: argument 'startDim'/);
  });
});

describe('layout: permute, transpose, t', () => {
  it('known values', async () => {
    expect(await arr(permute(a23(), [1, 0]))).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(await arr(t(a23()))).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(await arr(transpose(a23(), -1, 0))).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    const x = reshape(arange(6, undefined, 1, { dtype: 'float32' }), [1, 2, 3]);
    expect(await arr(permute(x, [2, 0, 1]))).toEqual([[[0, 3]], [[1, 4]], [[2, 5]]]);
  });
  it('errors name the argument', () => {
    expect(() => permute(a23(), [0, 0])).toThrow("permute: argument 'dims' is [0,0], which is not a permutation; expected each of 0..1 exactly once");
    expect(() => permute(a23(), [0])).toThrow("permute: argument 'dims' has 1 entries ([0]); expected 2, one per dim of the input of shape [2, 3]");
    expect(() => permute(a23(), [0, 2])).toThrow("permute: argument 'dims' is 2; expected an integer in [-2, 1] for a tensor of rank 2");
    expect(() => t(tensor([[[1]]]))).toThrow(/t: argument 'input' has shape \[1, 1, 1\]/);
  });
});

describe('layout: slicing', () => {
  const ten = () => arange(10, undefined, 1, { dtype: 'float32' });
  it('follows Python slicing (negative bounds, clamping, steps)', async () => {
    expect(await arr(slice(ten(), 0, -3))).toEqual([7, 8, 9]);
    expect(await arr(slice(ten(), 0, 2, -2, 3))).toEqual([2, 5]);
    expect(await arr(slice(ten(), 0, -100, 3))).toEqual([0, 1, 2]);
    expect(await arr(slice(ten(), 0, 5, 2))).toEqual([]);
    expect(await arr(slice(ten(), 0, 8, 100, 2))).toEqual([8]);
    expect(await arr(slice(ten(), -1, undefined, undefined, 4))).toEqual([0, 4, 8]);
    expect(await arr(sliceAxes(reshape(ten(), [2, 5]), [null, [1, -1]]))).toEqual([
      [1, 2, 3],
      [6, 7, 8],
    ]);
    expect(await arr(sliceAxes(reshape(ten(), [2, 5]), [[-1], [undefined, undefined, 2]]))).toEqual([[5, 7, 9]]);
    expect(await arr(narrow(ten(), 0, -4, 2))).toEqual([6, 7]);
  });
  it('matches a brute-force Python slice on random bounds', async () => {
    const bound = fc.option(fc.integer({ min: -9, max: 9 }), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 7 }), bound, bound, fc.integer({ min: 1, max: 3 }), async (n, s, e, k) => {
        // Python: indices i of range(n) with lo <= i < hi, i ≡ lo (mod k)
        const norm = (v: number | undefined, d: number) => (v === undefined ? d : v < 0 ? Math.max(v + n, 0) : Math.min(v, n));
        const lo = norm(s, 0),
          hi = norm(e, n);
        const want = Array.from({ length: n }, (_, i) => i).filter((i) => i >= lo && i < hi && (i - lo) % k === 0);
        const got = tidy(() => slice(arange(n, undefined, 1, { dtype: 'float32' }), 0, s, e, k));
        expect(await arr(got)).toEqual(want);
        got.dispose();
      }),
      { numRuns: 25 },
    );
  });
  it('errors', () => {
    expect(() => slice(ten(), 0, 0, 5, 0)).toThrow(
      "slice: argument 'step' is 0; expected a positive integer (PyTorch slicing has no negative steps; use flip)",
    );
    expect(() => slice(ten(), 1)).toThrow("slice: argument 'dim' is 1; expected an integer in [-1, 0] for a tensor of rank 1");
    expect(() => narrow(ten(), 0, 8, 5)).toThrow("narrow: argument 'length' is 5; expected an integer in [0, 2] (start 8, dim size 10)");
  });
  it('slice gradient scatters into zeros', async () => {
    const g = grad((x: Tensor) => sum(mul(slice(x, 0, 1, undefined, 2), 3)))(ten());
    expect(await arr(g)).toEqual([0, 3, 0, 3, 0, 3, 0, 3, 0, 3]);
  });
});

describe('layout: flip, roll, tile, repeat, expand', () => {
  it('known values', async () => {
    expect(await arr(flip(a23(), [0, 1]))).toEqual([
      [6, 5, 4],
      [3, 2, 1],
    ]);
    expect(await arr(flip(a23(), -1))).toEqual([
      [3, 2, 1],
      [6, 5, 4],
    ]);
    expect(await arr(roll(a23(), 1))).toEqual([
      [6, 1, 2],
      [3, 4, 5],
    ]);
    expect(await arr(roll(a23(), [1, -1], [0, 1]))).toEqual([
      [5, 6, 4],
      [2, 3, 1],
    ]);
    expect(await arr(roll(a23(), 4, 1))).toEqual([
      [3, 1, 2],
      [6, 4, 5],
    ]);
    expect(await arr(tile(tensor([1, 2]), [2, 2]))).toEqual([
      [1, 2, 1, 2],
      [1, 2, 1, 2],
    ]);
    expect(await arr(tile(a23(), [2]))).toEqual([
      [1, 2, 3, 1, 2, 3],
      [4, 5, 6, 4, 5, 6],
    ]);
    expect(await arr(repeat(tensor([1, 2]), [3, 1]))).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    expect(await arr(repeatInterleave(a23(), 2, 0))).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [4, 5, 6],
      [4, 5, 6],
    ]);
    expect(await arr(repeatInterleave(a23(), 2))).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
    expect(await arr(repeatInterleave(a23(), 2, -1))).toEqual([
      [1, 1, 2, 2, 3, 3],
      [4, 4, 5, 5, 6, 6],
    ]);
    expect(await arr(expand(tensor([[1], [2]]), [3, -1, 2]))).toEqual([
      [
        [1, 1],
        [2, 2],
      ],
      [
        [1, 1],
        [2, 2],
      ],
      [
        [1, 1],
        [2, 2],
      ],
    ]);
  });
  it('errors', () => {
    expect(() => repeat(a23(), [2])).toThrow("repeat: argument 'repeats' has 1 entries ([2]); expected at least 2, the input's rank (shape [2, 3])");
    expect(() => flip(a23(), [1, -1])).toThrow(/flip: argument 'dims' repeats a dim/);
    expect(() => expand(a23(), [-1, 3, 3])).toThrow(/expand: argument 'shape' has -1 at new leading dim 0/);
    expect(() => roll(a23(), [1, 2])).toThrow(/roll: argument 'shifts'/);
  });
  it('tile gradient sums the copies', async () => {
    const g = grad((x: Tensor) => sum(mul(tile(x, [3, 1]), tensor([[1, 2]]))))(tensor([[1, 1]]));
    expect(await arr(g)).toEqual([[3, 6]]);
  });
});

describe('layout: concat, stack, split, chunk', () => {
  it('known values', async () => {
    expect(await arr(concat([a23(), tensor([[7, 8, 9]])]))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    expect(await arr(cat([a23(), tensor([[0], [0]])], -1))).toEqual([
      [1, 2, 3, 0],
      [4, 5, 6, 0],
    ]);
    expect(await arr(concat([idx([1]), idx([]), idx([2, 3])]))).toEqual([1, 2, 3]);
    expect(concat([idx([1]), idx([2])]).dtype).toBe('int32');
    expect(await arr(stack([tensor([1, 2]), tensor([3, 4])], 1))).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(await Promise.all(split(arange(5), 2).map(arr))).toEqual([[0, 1], [2, 3], [4]]);
    expect(await Promise.all(split(arange(5), [1, 4]).map(arr))).toEqual([[0], [1, 2, 3, 4]]);
    expect(await Promise.all(chunk(arange(6), 4).map(arr))).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(await Promise.all(chunk(arange(5), 2).map(arr))).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
  });
  it('errors name the tensor, its shape and the expected shape', () => {
    expect(() => concat([a23(), tensor([[1, 2]])])).toThrow(
      "concat: argument 'tensors[1]' has shape [1, 2]; expected shape [*, 3] (that of tensors[0], [2, 3], except along dim 0)",
    );
    expect(() => concat([a23(), a23(), tensor([1, 2, 3])], 1)).toThrow(
      "concat: argument 'tensors[2]' has shape [3]; expected shape [2, *] (that of tensors[0], [2, 3], except along dim 1)",
    );
    expect(() => concat([a23(), idx([[1, 2, 3]])])).toThrow(
      "concat: argument 'tensors[1]' has dtype int32; expected float32, the dtype of tensors[0] (cast first)",
    );
    expect(() => concat([])).toThrow("concat: argument 'tensors' is an empty array; expected a non-empty array of Tensors");
    expect(() => stack([a23(), tensor([1])])).toThrow("stack: argument 'tensors[1]' has shape [1]; expected [2, 3], the shape of tensors[0]");
    expect(() => split(arange(5), [1, 2])).toThrow(
      "split: argument 'splitSizeOrSections' sums to 3 ([1,2]); expected sizes summing to 5, the size of the split dim",
    );
  });
});

describe('layout: pad', () => {
  const x = () =>
    tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  it('F.pad order, modes and cropping', async () => {
    expect(await arr(pad(x(), [1, 0]))).toEqual([
      [0, 1, 2, 3],
      [0, 4, 5, 6],
    ]);
    expect(await arr(pad(x(), [0, 0, 1, 0], { value: 9 }))).toEqual([
      [9, 9, 9],
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(await arr(pad(x(), [2, 1], { mode: 'reflect' }))).toEqual([
      [3, 2, 1, 2, 3, 2],
      [6, 5, 4, 5, 6, 5],
    ]);
    expect(await arr(pad(x(), [1, 2, 1, 0], { mode: 'replicate' }))).toEqual([
      [1, 1, 2, 3, 3, 3],
      [1, 1, 2, 3, 3, 3],
      [4, 4, 5, 6, 6, 6],
    ]);
    expect(await arr(pad(x(), [-1, 1]))).toEqual([
      [2, 3, 0],
      [5, 6, 0],
    ]);
  });
  it('reflect/replicate gradients sum the border contributions', async () => {
    const g = grad((v: Tensor) => sum(pad(v, [2, 1], { mode: 'reflect' })))(tensor([[1, 2, 3]]));
    expect(await arr(g)).toEqual([[1, 3, 2]]);
    const h = grad((v: Tensor) => sum(pad(v, [2, 1], { mode: 'replicate' })))(tensor([[1, 2, 3]]));
    expect(await arr(h)).toEqual([[3, 1, 2]]);
  });
  it('errors', () => {
    expect(() => pad(x(), [3, 0], { mode: 'reflect' })).toThrow(
      "pad: argument 'pads' of (3, 0) on dim 1 of size 3 are too large for reflect mode; expected pads < 3, the size of dim 1 (input shape [2, 3])",
    );
    expect(() => pad(x(), [1])).toThrow(
      "pad: argument 'pads' has 1 entries ([1]); expected an even number of entries, at most 4 (two per dim of the input of shape [2, 3])",
    );
    expect(() => pad(x(), [-1, 0], { mode: 'replicate' })).toThrow(/only constant mode crops/);
    expect(() => pad(x(), [-2, -2])).toThrow(/pad: argument 'pads' crop dim 1 \(size 3\) by 4/);
  });
});

describe('layout: index ops', () => {
  it('gather, indexSelect, scatterAdd, indexAdd, oneHot', async () => {
    expect(
      await arr(
        gather(
          tensor([
            [1, 2],
            [3, 4],
          ]),
          1,
          idx([
            [0, 0],
            [1, 0],
          ]),
        ),
      ),
    ).toEqual([
      [1, 1],
      [4, 3],
    ]);
    expect(
      await arr(
        gather(
          tensor([
            [1, 2],
            [3, 4],
          ]),
          1,
          idx([[5, -1]]),
        ),
      ),
    ).toEqual([[0, 0]]); // out of range reads 0
    expect(await gather(tensor(4), 0, idx(0)).item()).toBe(4);
    expect(await scatterAdd(tensor(4), 0, idx(0), tensor(2)).item()).toBe(6);
    expect(await arr(indexSelect(a23(), 1, idx([2, 0, 2])))).toEqual([
      [3, 1, 3],
      [6, 4, 6],
    ]);
    expect(await arr(scatterAdd(tensor([0, 0, 0]), 0, idx([0, 2, 0, 7]), tensor([1, 2, 3, 4])))).toEqual([4, 0, 2]);
    expect(
      await arr(
        indexAdd(
          tensor([
            [1, 1],
            [1, 1],
          ]),
          0,
          idx([1, 1]),
          tensor([
            [1, 2],
            [3, 4],
          ]),
        ),
      ),
    ).toEqual([
      [1, 1],
      [5, 7],
    ]);
    const oh = oneHot(idx([0, 2, 5]), 3);
    expect(oh.dtype).toBe('int32');
    expect(await arr(oh)).toEqual([
      [1, 0, 0],
      [0, 0, 1],
      [0, 0, 0],
    ]);
  });
  it('scatterAdd is bit-for-bit reproducible', async () => {
    const n = 2000;
    const src = tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3 + 1e-3 * i));
    const index = tensor(Int32Array.from({ length: n }, (_, i) => (i * 7) % 3));
    const a = await scatterAdd(tensor([0, 0, 0]), 0, index, src).data();
    const b = await scatterAdd(tensor([0, 0, 0]), 0, index, src).data();
    expect(Array.from(a)).toEqual(Array.from(b));
  });
  it('gather gradient scatters into zeros', async () => {
    const g = grad((x: Tensor) => sum(gather(x, 0, idx([1, 1, 0]))))(tensor([5, 6, 7]));
    expect(await arr(g)).toEqual([1, 2, 0]);
  });
  it('errors', () => {
    expect(() => gather(a23(), 0, tensor([[0]]))).toThrow('gather: argument \'index\' has dtype float32; expected int32 indices (cast(index, "int32"))');
    expect(() => gather(a23(), 0, idx([[0, 0, 0, 0]]))).toThrow(
      "gather: argument 'index' has shape [1, 4]; expected rank 2 with sizes ≤ [2, 3] on every dim but 0",
    );
    expect(() => indexSelect(a23(), 0, idx([[0]]))).toThrow(/indexSelect: argument 'index' has shape \[1, 1\]; expected a 1-D/);
    expect(() => oneHot(idx([1]), 0)).toThrow("oneHot: argument 'numClasses' is 0; expected a positive integer");
  });
});
