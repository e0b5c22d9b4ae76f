/** Known values with PyTorch semantics, computed by hand (derivations in the comments). */
import { describe, it, expect } from 'vitest';
import {
  tensor,
  tidy,
  grad,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  nllLoss,
  mseLoss,
  l1Loss,
  smoothL1Loss,
  logSoftmax,
  softmax,
  logsumexp,
  variance,
  std,
  mean,
  all,
  any,
  zeros,
  type Tensor,
} from '../../src/node';

const vals = async (t: Tensor) => Array.from(await t.data());
const near = (got: number[], want: number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `element ${i}: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]))));
};
const ints = (xs: number[]) => tensor(Int32Array.from(xs));
const { log: ln } = Math;

// A 2×3 batch of logits used below:
//   row 0 = [0, 0, 0]      → softmax [1/3, 1/3, 1/3],  log-probs −ln 3 each
//   row 1 = [0, ln 3, 0]   → softmax [1/5, 3/5, 1/5],  log-probs [−ln 5, ln 3 − ln 5, −ln 5]
const logits = () =>
  tensor([
    [0, 0, 0],
    [0, ln(3), 0],
  ]);

describe('losses: known values', () => {
  it('binaryCrossEntropy clamps each log at −100 (p = 0, t = 1 gives 100)', async () => {
    // [p, t]: (0, 1) → −1·max(ln 0, −100) = 100;  (1, 0) → −1·max(ln 0, −100) = 100;  (0, 0) → −ln 1 = 0;  (0.5, 1) → ln 2
    const l = tidy(() => binaryCrossEntropy(tensor([0, 1, 0, 0.5]), tensor([1, 0, 0, 1]), { reduction: 'none' }));
    near(await vals(l), [100, 100, 0, ln(2)]);
    const m = tidy(() => binaryCrossEntropy(tensor([0, 0.5]), tensor([1, 1]), { weight: tensor([1, 2]) }));
    near(await vals(m), [(100 + 2 * ln(2)) / 2]); // weighted, then mean over elements
  });

  it("binaryCrossEntropy's gradient is finite at p = 0 and 1: (p − t)/max(p(1 − p), 1e-12), as PyTorch", async () => {
    // p = 0, t = 1 → −1e12;  p = 1, t = 0 → 1e12;  (0, 0) and (1, 1) → 0;  (0.25, 1) → −0.75/0.1875 = −4;
    // p = 1e-13 (p(1 − p) below the floor), t = 0 → 1e-13/1e-12 = 0.1.  The loss values stay as before.
    const p = [0, 1, 0, 1, 0.25, 1e-13],
      t = [1, 0, 0, 1, 1, 0];
    const g = grad((x: Tensor) => binaryCrossEntropy(x, tensor(t), { reduction: 'sum' }))(tensor(p));
    const got = await vals(g);
    expect(got.every(Number.isFinite), `gradient ${got}`).toBe(true);
    near(got, [-1e12, 1e12, 0, 0, -4, 0.1]);
    // weighted: the weight scales the gradient
    const gw = grad((x: Tensor) => binaryCrossEntropy(x, tensor([1, 0.25]), { weight: tensor([3, 2]), reduction: 'sum' }))(tensor([0, 0.5]));
    near(await vals(gw), [-3e12, (2 * 0.25) / 0.25]);
    near(await vals(tidy(() => binaryCrossEntropy(tensor(p), tensor(t), { reduction: 'none' }))), [100, 100, 0, 0, ln(4), 0]);
  });

  it('binaryCrossEntropyWithLogits is stable and weights positives by posWeight', async () => {
    // x = 100, t = 0 → 100;  x = −100, t = 1 → 100;  x = 0 → ln 2 whatever t;  posWeight 2, x = 0, t = 1 → 2 ln 2
    const l = tidy(() => binaryCrossEntropyWithLogits(tensor([100, -100, 0, 0]), tensor([0, 1, 0.3, 1]), { reduction: 'none' }));
    near(await vals(l), [100, 100, ln(2), ln(2)]);
    const p = tidy(() => binaryCrossEntropyWithLogits(tensor([[0, 0]]), tensor([[1, 0]]), { posWeight: tensor([2, 5]), reduction: 'sum' }));
    near(await vals(p), [2 * ln(2) + ln(2)]); // posWeight only scales the positive term
    // the gradient at x = 0 is σ(0) − t = 0.5 − t (a kinked max/abs formulation would get this wrong)
    const g = grad((x: Tensor) => binaryCrossEntropyWithLogits(x, tensor([1, 0]), { reduction: 'sum' }))(tensor([0, 0]));
    near(await vals(g), [-0.5, 0.5]);
  });

  it('crossEntropy with class indices, ignoreIndex, weights and label smoothing', async () => {
    // targets [1, −100]: only row 0 counts: −log(1/3) = ln 3, divided by 1 non-ignored target
    near(await vals(tidy(() => crossEntropy(logits(), ints([1, -100])))), [ln(3)]);
    // reduction 'none' gives 0 for the ignored row
    near(await vals(tidy(() => crossEntropy(logits(), ints([1, -100]), { reduction: 'none' }))), [ln(3), 0]);
    // targets [0, 1], ε = 0.3 (C = 3), mean:
    //   nll   = (ln 3 + ln(5/3)) / 2 = ln 5 / 2
    //   smooth = mean over rows of −Σ_c log p_c = (3 ln 3 + (3 ln 5 − ln 3)) / 2
    //   loss  = 0.7 · ln5/2 + (0.3/3) · (2 ln 3 + 3 ln 5)/2 = 0.5 ln 5 + 0.1 ln 3
    near(await vals(tidy(() => crossEntropy(logits(), ints([0, 1]), { labelSmoothing: 0.3 }))), [0.5 * ln(5) + 0.1 * ln(3)]);
    // targets [−100, 1], ε = 0.3: row 1 alone: 0.7 ln(5/3) + 0.1 (3 ln 5 − ln 3) = ln 5 − 0.8 ln 3
    near(await vals(tidy(() => crossEntropy(logits(), ints([-100, 1]), { labelSmoothing: 0.3 }))), [ln(5) - 0.8 * ln(3)]);
    // weights [1, 2, 3], targets [0, 1]: (1·ln 3 + 2·ln(5/3)) / (1 + 2) = (2 ln 5 − ln 3) / 3
    near(await vals(tidy(() => crossEntropy(logits(), ints([0, 1]), { weight: tensor([1, 2, 3]) }))), [(2 * ln(5) - ln(3)) / 3]);
    // probability targets: row 0 → [1, 0, 0], row 1 → [0, 0.5, 0.5]: (ln 3 + 0.5 ln(5/3) + 0.5 ln 5) / 2 (mean over rows)
    near(
      await vals(
        tidy(() =>
          crossEntropy(
            logits(),
            tensor([
              [1, 0, 0],
              [0, 0.5, 0.5],
            ]),
          ),
        ),
      ),
      [(ln(3) + 0.5 * ln(5 / 3) + 0.5 * ln(5)) / 2],
    );
    // unbatched [C] input with a 0-d target
    near(await vals(tidy(() => crossEntropy(tensor([0, ln(3), 0]), tensor(Int32Array.of(1), { shape: [] })))), [ln(5 / 3)]);
  });

  it('crossEntropy over spatial dims: class dim is 1', async () => {
    // input [1, 3, 2]: position 0 has logits [0, 0, 0] (target 2 → ln 3), position 1 has [0, ln 3, 0] (target 1 → ln(5/3))
    const x = tensor([
      [
        [0, 0],
        [0, ln(3)],
        [0, 0],
      ],
    ]);
    near(await vals(tidy(() => crossEntropy(x, tensor(Int32Array.of(2, 1), { shape: [1, 2] }), { reduction: 'none' }))), [ln(3), ln(5 / 3)]);
  });

  it('nllLoss: weighted mean divides by the weights of non-ignored targets; all ignored gives NaN', async () => {
    const lp = tensor([
      [-1, -2, -3],
      [-4, -5, -6],
    ]);
    // targets [2, 0], weights [1, 2, 3]: (3·3 + 1·4) / (3 + 1) = 13/4
    near(await vals(tidy(() => nllLoss(lp, ints([2, 0]), { weight: tensor([1, 2, 3]) }))), [13 / 4]);
    // ignoreIndex 0 drops the second target: 3·3 / 3 = 3
    near(await vals(tidy(() => nllLoss(lp, ints([2, 0]), { weight: tensor([1, 2, 3]), ignoreIndex: 0 }))), [3]);
    expect(Number.isNaN((await vals(tidy(() => nllLoss(lp, ints([-100, -100])))))[0])).toBe(true);
  });

  it('regression losses', async () => {
    const x = tensor([0.5, -2, 1]),
      t = tensor([0, 0, 1]);
    near(await vals(tidy(() => mseLoss(x, t))), [(0.25 + 4) / 3]);
    near(await vals(tidy(() => l1Loss(x, t, { reduction: 'sum' }))), [2.5]);
    // β = 1: |d| = 0.5 < 1 → 0.5·0.25 = 0.125;  |d| = 2 → 2 − 0.5 = 1.5;  d = 0 → 0
    near(await vals(tidy(() => smoothL1Loss(x, t, { reduction: 'none' }))), [0.125, 1.5, 0]);
    near(await vals(tidy(() => smoothL1Loss(x, t, { beta: 0, reduction: 'none' }))), [0.5, 2, 0]);
  });

  it('errors name the argument and both shapes', () => {
    expect(() => mseLoss(zeros([2, 1]), zeros([2]))).toThrow(/mseLoss: argument 'target' has shape \[2\]; expected the input's shape \[2, 1\]/);
    expect(() => crossEntropy(zeros([4, 3]), ints([0, 1, 2]))).toThrow(/crossEntropy: argument 'target' has shape \[3\].*\[4\]/);
    expect(() => crossEntropy(zeros([4, 3]), ints([0, 1, 2, 0]), { weight: zeros([4]) })).toThrow(/argument 'weight' has shape \[4\].*\[3\]/);
    expect(() => nllLoss(zeros([4, 3]), zeros([4]))).toThrow(/argument 'target' has dtype float32; expected int32/);
    expect(() => binaryCrossEntropy(zeros([2]), zeros([2]), { reduction: 'avg' as never })).toThrow(/argument 'reduction'/);
  });
});

describe('softmax and statistics: known values', () => {
  it('softmax, logSoftmax and logsumexp are stable for large inputs', async () => {
    near(
      await vals(
        tidy(() =>
          softmax(
            tensor([
              [1000, 1000],
              [-1000, 0],
            ]),
            1,
          ),
        ),
      ),
      [0.5, 0.5, 0, 1],
    );
    near(await vals(tidy(() => logSoftmax(tensor([1000, 1000]), 0))), [-ln(2), -ln(2)]);
    near(await vals(tidy(() => logsumexp(tensor([1000, 1000])))), [1000 + ln(2)]);
    expect(await vals(tidy(() => logsumexp(tensor([-Infinity, -Infinity]))))).toEqual([-Infinity]);
    // the gradient of logsumexp is softmax
    near(await vals(grad((x: Tensor) => logsumexp(x))(tensor([0, ln(3), 0]))), [0.2, 0.6, 0.2]);
  });

  it('variance/std with correction; N ≤ correction gives NaN', async () => {
    const x = tensor([1, 2, 3, 4]);
    near(await vals(tidy(() => variance(x))), [5 / 3]);
    near(await vals(tidy(() => variance(x, { correction: 0 }))), [1.25]);
    near(
      await vals(
        tidy(() =>
          std(
            tensor([
              [1, 3],
              [2, 2],
            ]),
            { dim: 1, keepdim: true },
          ),
        ),
      ),
      [Math.SQRT2, 0],
    );
    expect(Number.isNaN((await vals(tidy(() => variance(tensor([7])))))[0])).toBe(true);
    expect(Number.isNaN((await vals(tidy(() => mean(zeros([0])))))[0])).toBe(true);
    expect(() => mean(ints([1, 2]))).toThrow(/mean: argument 'input' has dtype int32/);
  });

  it('all/any treat any nonzero (NaN too) as true; empty → all true, any false', async () => {
    expect(
      await vals(
        tidy(() =>
          all(
            tensor([
              [1, 0.5],
              [0, NaN],
            ]),
            { dim: 1 },
          ),
        ),
      ),
    ).toEqual([1, 0]);
    expect(
      await vals(
        tidy(() =>
          any(
            tensor([
              [0, 0],
              [0, NaN],
            ]),
            { dim: 1 },
          ),
        ),
      ),
    ).toEqual([0, 1]);
    expect(await vals(tidy(() => all(zeros([0]))))).toEqual([1]);
    expect(await vals(tidy(() => any(zeros([0]))))).toEqual([0]);
    expect(tidy(() => any(ints([0, 3]))).dtype).toBe('bool');
  });
});
