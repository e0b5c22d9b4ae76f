/** Style-transfer loss terms: values worked out by hand from d2l's definitions, constant targets, argument errors. */
import { describe, it, expect } from 'vitest';
import { tensor, zeros, grad, memory, ArgumentError, gramMatrix, contentLoss, styleLoss, totalVariationLoss, type Tensor } from '../../src/node';

const vals = async (t: Tensor) => Array.from(await t.data());
const close = (got: number[], want: number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `element ${i}: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(tol));
};
// one sample, 2 channels of 2×1: F = [[1, 2], [3, 4]]
const features = () =>
  tensor([
    [
      [[1], [2]],
      [[3], [4]],
    ],
  ]);

describe('style-transfer losses: known values', () => {
  it('gramMatrix is F·Fᵀ / (C·H·W) per sample; unbatched input gives (C, C)', async () => {
    const g = gramMatrix(features());
    expect(g.shape).toEqual([1, 2, 2]);
    close(await vals(g), [5 / 4, 11 / 4, 11 / 4, 25 / 4]);
    const u = gramMatrix(
      tensor([
        [[1], [2]],
        [[3], [4]],
      ]),
    );
    expect(u.shape).toEqual([2, 2]);
    close(await vals(u), [5 / 4, 11 / 4, 11 / 4, 25 / 4]);
    // two samples are not mixed (d2l's gram would fold the batch into the columns)
    const two = gramMatrix(
      tensor([
        [[[1]], [[0]]],
        [[[0]], [[2]]],
      ]),
    );
    close(await vals(two), [0.5, 0, 0, 0, 0, 0, 0, 2]);
  });

  it('contentLoss and styleLoss are mean squared errors of features and of Gram matrices', async () => {
    close(await vals(contentLoss(tensor([[[1], [2], [3]]]), tensor([[[1], [0], [0]]]))), [13 / 3]);
    // Gram [[1.25, 2.75], [2.75, 6.25]] against zeros: (1.25² + 2·2.75² + 6.25²) / 4
    close(await vals(styleLoss(features(), zeros([1, 2, 2]))), [55.75 / 4], 1e-4);
    close(await vals(styleLoss(features(), gramMatrix(features()))), [0]);
  });

  it('totalVariationLoss is 0.5·(mean |Δh| + mean |Δw|)', async () => {
    // rows [0, 1, 3] and [2, 2, 0]: |Δh| = 2, 1, 3 (mean 2); |Δw| = 1, 2, 0, 2 (mean 1.25)
    const rows = [
      [0, 1, 3],
      [2, 2, 0],
    ];
    // as one (1, 1, 2, 3) image and as a bare (2, 3) one
    for (const img of [tensor([[rows]]), tensor(rows)]) close(await vals(totalVariationLoss(img)), [0.5 * (2 + 1.25)]);
    close(await vals(totalVariationLoss(zeros([2, 3, 4, 5]))), [0]);
  });
});

describe('style-transfer losses: gradients', () => {
  it('the targets are constants: no gradient reaches them (d2l detaches them)', async () => {
    const before = memory().liveTensors;
    const x = features(),
      t = tensor([
        [
          [[0], [1]],
          [[1], [0]],
        ],
      ]),
      g0 = zeros([1, 2, 2]);
    const [dx, dt] = grad((a: Tensor, b: Tensor) => contentLoss(a, b), { argnums: [0, 1] })(x, t);
    close(await vals(dx), [0.5, 0.5, 1, 2]); // 2(x − t)/4, x − t = [1, 1, 2, 4]
    close(await vals(dt), [0, 0, 0, 0]);
    const [dxs, dg] = grad((a: Tensor, b: Tensor) => styleLoss(a, b), { argnums: [0, 1] })(x, g0);
    close(await vals(dg), [0, 0, 0, 0]);
    // total variation's gradient: sign of each difference over the pair counts, halved
    const img = tensor([
      [0, 1],
      [3, 2],
    ]);
    const tv = grad((a: Tensor) => totalVariationLoss(a))(img);
    // Δh pairs (2): +3, +1 → ∂ = ±0.25 each; Δw pairs (2): +1, −1 → ∂ = ±0.25 each
    close(await vals(tv), [-0.25 - 0.25, -0.25 + 0.25, 0.25 + 0.25, 0.25 - 0.25]);
    for (const v of [x, t, g0, img, dx, dt, dxs, dg, tv]) v.dispose();
    expect(memory().liveTensors).toBe(before);
  });
});

describe('style-transfer losses: bad input', () => {
  it('names the function, the argument, what it got and what was expected', () => {
    expect(() => gramMatrix(zeros([4, 4]))).toThrow(ArgumentError);
    expect(() => gramMatrix(zeros([4, 4]))).toThrow(/gramMatrix.*features.*\[4, 4\].*\(B, C, H, W\)/);
    expect(() => gramMatrix(zeros([1, 2, 3], { dtype: 'int32' }))).toThrow(/gramMatrix.*features.*int32.*float32/);
    expect(() => contentLoss(zeros([1, 2, 3]), zeros([1, 2, 4]))).toThrow(/contentLoss.*target.*\[1, 2, 4\].*\[1, 2, 3\]/);
    expect(() => styleLoss(zeros([1, 2, 3, 3]), zeros([2, 2]))).toThrow(/styleLoss.*targetGram.*\[2, 2\].*\[1, 2, 2\]/);
    expect(() => totalVariationLoss(zeros([1, 3, 1, 5]))).toThrow(/totalVariationLoss.*image.*\[1, 3, 1, 5\].*≥ 2/);
    expect(() => totalVariationLoss(zeros([5]))).toThrow(/totalVariationLoss.*image/);
    expect(() => contentLoss(null as unknown as Tensor, zeros([1]))).toThrow(/contentLoss.*features/);
  });
});
