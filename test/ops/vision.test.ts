/** Known values for pooling, resizing and normalisation (worked out by hand from PyTorch's rules). */
import { describe, it, expect } from 'vitest';
import {
  tensor,
  tidy,
  valueAndGrad,
  sum,
  mul,
  relu,
  memory,
  ArgumentError,
  type Tensor,
  maxPool2d,
  avgPool2d,
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  globalAvgPool2d,
  interpolate,
  upsampleLike,
  batchNorm,
  batchNormAct,
  layerNorm,
  groupNorm,
  arange,
  reshape,
} from '../../src/node';
import { poolOutputSize } from '../../src/tensor/ops/pool';

const vals = async (t: Tensor) => Array.from(await t.data());
const close = (got: number[], want: number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `element ${i}: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(tol));
};
const grid = (h: number, w: number) => reshape(arange(0, h * w, 1, { dtype: 'float32' }), [1, 1, h, w]);

describe('vision: pooling output sizes (ceil mode)', () => {
  it('follows PyTorch’s rule, including dropping a window that starts in the right padding', () => {
    // k=2 s=2 ceil on 5: ⌈(5 − 2)/2⌉ + 1 = 3 (the last window starts at 4, inside the input)
    expect(poolOutputSize(5, 2, 2, 0, 1, true)).toBe(3);
    expect(poolOutputSize(5, 2, 2, 0, 1, false)).toBe(2);
    // k=3 s=2 p=1 ceil on 6: ⌈(6 + 2 − 3)/2⌉ + 1 = 4; the last window starts at 3·2 − 1 = 5 < 6, so it stays (floor mode gives 3)
    expect(poolOutputSize(6, 3, 2, 1, 1, true)).toBe(4);
    expect(poolOutputSize(6, 3, 2, 1, 1, false)).toBe(3);
    // k=2 s=2 p=1 ceil on 5: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 3 would start at 3·2 − 1 = 5 ≥ 5 (right padding only): 3
    expect(poolOutputSize(5, 2, 2, 1, 1, true)).toBe(3);
    // dilation 2, k=3 (span 5) s=2 ceil on 7: ⌈(7 − 5)/2⌉ + 1 = 2
    expect(poolOutputSize(7, 3, 2, 0, 2, true)).toBe(2);
  });

  it('maxPool2d k=2 s=2 ceil on 5×5 gives 3×3 with the clipped windows at the edge', async () => {
    const [y, idx] = tidy(() => maxPool2d(grid(5, 5), { kernelSize: 2, ceilMode: true, returnIndices: true }));
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect(idx.dtype).toBe('int32');
    close(await vals(y), [6, 8, 9, 16, 18, 19, 21, 23, 24]);
    expect(await vals(idx)).toEqual([6, 8, 9, 16, 18, 19, 21, 23, 24]);
    y.dispose();
    idx.dispose();
  });

  it('maxPool2d k=3 s=2 p=1 ceil on 6×6 gives 4×4 (padding is -inf, indices are h·W+w)', async () => {
    const [y, idx] = maxPool2d(grid(6, 6), { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, returnIndices: true });
    expect(y.shape).toEqual([1, 1, 4, 4]);
    // rows read by output rows: [0,1], [1..3], [3..5], [5]; likewise columns: the max is the bottom-right tap
    const rows = [1, 3, 5, 5];
    const want = rows.flatMap((r) => rows.map((c) => r * 6 + c));
    close(await vals(y), want);
    expect(await vals(idx)).toEqual(want);
    y.dispose();
    idx.dispose();
  });

  it('avgPool2d: ceil-mode windows are clipped to input + padding for the divisor', async () => {
    const x = tensor([
      [
        [
          [1, 2, 3, 4, 5],
          [6, 7, 8, 9, 10],
        ],
      ],
    ]);
    // last window covers columns 4..5, clipped to 4: divisor 2·1 → (5 + 10) / 2
    close(await vals(avgPool2d(x, { kernelSize: 2, ceilMode: true })), [4, 6, 7.5]);
    const z = tensor([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    close(await vals(avgPool2d(z, { kernelSize: 2, padding: 1 })), [0.25, 0.5, 0.75, 1]);
    close(await vals(avgPool2d(z, { kernelSize: 2, padding: 1, countIncludePad: false })), [1, 2, 3, 4]);
    close(await vals(avgPool2d(z, { kernelSize: 2, padding: 1, divisorOverride: 2 })), [0.5, 1, 1.5, 2]);
  });

  it('adaptive pools use start = ⌊i·H/out⌋, end = ⌈(i+1)·H/out⌉', async () => {
    // 5 → 3: windows [0,2), [1,4), [3,5) on the row 0..4
    const x = reshape(arange(0, 5, 1, { dtype: 'float32' }), [1, 1, 1, 5]);
    close(await vals(adaptiveAvgPool2d(x, [1, 3])), [0.5, 2, 3.5]);
    close(await vals(adaptiveMaxPool2d(x, [1, 3])), [1, 3, 4]);
    close(await vals(globalAvgPool2d(grid(3, 3))), [4]);
    expect(adaptiveAvgPool2d(grid(4, 6), [null, 2]).shape).toEqual([1, 1, 4, 2]);
  });

  it('maxPool2d gradient routes to the argmax; unused indices are freed outside a trace', async () => {
    const x = tensor([
      [
        [
          [1, 5, 2],
          [4, 3, 9],
          [0, 8, 7],
        ],
      ],
    ]);
    const [, g] = valueAndGrad((t: Tensor) =>
      sum(
        mul(
          maxPool2d(t, { kernelSize: 2, stride: 1 }),
          tensor([
            [
              [
                [1, 10],
                [100, 1000],
              ],
            ],
          ]),
        ),
      ),
    )(x);
    // windows: max 5 (at 1), 9 (at 5), 8 (at 7), 9 (at 5)
    close(await vals(g), [0, 1, 0, 0, 0, 1010, 0, 100, 0]);
    const before = memory().liveTensors;
    const y = maxPool2d(x, { kernelSize: 2 });
    expect(memory().liveTensors).toBe(before + 1);
    y.dispose();
  });

  it('rejects padding above half the kernel, naming the argument', () => {
    const x = grid(4, 4);
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(ArgumentError);
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(/maxPool2d: argument 'padding'/);
    expect(() => maxPool2d(grid(1, 1), { kernelSize: 3 })).toThrow(/argument 'input'/);
  });
});

describe('vision: interpolate', () => {
  const row0 = () => tensor([[[[1, 2]]]]);
  it('bilinear 2 → 4 with alignCorners false samples at (dst + 0.5)/2 − 0.5, clamped at 0', async () => {
    close(await vals(interpolate(row0(), { size: [1, 4], mode: 'bilinear' })), [1, 1.25, 1.75, 2]);
    close(await vals(interpolate(row0(), { size: [1, 4], mode: 'bilinear', alignCorners: true })), [1, 4 / 3, 5 / 3, 2]);
    close(await vals(interpolate(row0(), { scaleFactor: [1, 2], mode: 'bilinear' })), [1, 1.25, 1.75, 2]);
  });

  it('nearest uses ⌊dst·in/out⌋ (PyTorch’s legacy nearest)', async () => {
    close(await vals(interpolate(row0(), { size: [1, 4] })), [1, 1, 2, 2]);
    const x = reshape(arange(0, 5, 1, { dtype: 'float32' }), [1, 1, 1, 5]);
    close(await vals(interpolate(x, { size: [1, 3] })), [0, 1, 3]);
    close(await vals(interpolate(x, { size: [1, 7] })), [0, 0, 1, 2, 2, 3, 4]);
  });

  it('with scaleFactor the index scale is 1/scaleFactor, not in/out', async () => {
    const x = tensor([[[[0, 1, 2]]]]);
    // 3 × 2.5 → 7 outputs; src = 0.4·(dst + 0.5) − 0.5 (in/out would use 3/7)
    close(await vals(interpolate(x, { scaleFactor: [1, 2.5], mode: 'bilinear' })), [0, 0.1, 0.5, 0.9, 1.3, 1.7, 2], 1e-6);
    close(await vals(interpolate(x, { size: [1, 7], mode: 'bilinear' })), [0, 1 / 7, 4 / 7, 1, 10 / 7, 13 / 7, 2], 1e-6);
  });

  it('upsampleLike resizes to the reference H×W', async () => {
    const ref = grid(1, 4);
    const y = upsampleLike(row0(), ref);
    expect(y.shape).toEqual([1, 1, 1, 4]);
    close(await vals(y), [1, 1.25, 1.75, 2]);
  });

  it('rejects alignCorners with nearest and missing sizes', () => {
    expect(() => interpolate(row0(), { size: 4, alignCorners: true })).toThrow(/argument 'alignCorners'/);
    expect(() => interpolate(row0(), { mode: 'bilinear' })).toThrow(/exactly one/);
  });
});

describe('vision: normalisation', () => {
  // x: (N=2, C=2, L=2); channel 0 holds 1, 2, 3, 6; channel 1 holds 0, 0, 2, 2
  const x = () =>
    tensor([
      [
        [1, 2],
        [0, 0],
      ],
      [
        [3, 6],
        [2, 2],
      ],
    ]);
  it('batchNorm training: running stats after one step with momentum 0.1', async () => {
    const { y, runningMean, runningVar } = batchNorm(x(), tensor([0, 0]), tensor([1, 1]), null, null, { training: true });
    // channel 0: mean 3, biased var (4 + 1 + 0 + 9)/4 = 3.5, unbiased 14/3; channel 1: mean 1, var 1, unbiased 4/3
    close(await vals(runningMean!), [0.3, 0.1]);
    close(await vals(runningVar!), [0.9 + (0.1 * 14) / 3, 0.9 + (0.1 * 4) / 3]);
    const s0 = Math.sqrt(3.5 + 1e-5),
      s1 = Math.sqrt(1 + 1e-5);
    close(await vals(y), [-2 / s0, -1 / s0, -1 / s1, -1 / s1, 0, 3 / s0, 1 / s1, 1 / s1]);
  });

  it('batchNorm: cumulative average (momentum null) and eval mode', async () => {
    const r = batchNorm(x(), tensor([5, 5]), tensor([5, 5]), null, null, { training: true, momentum: null, numBatchesTracked: 1 });
    close(await vals(r.runningMean!), [3, 1]);
    close(await vals(r.runningVar!), [14 / 3, 4 / 3]);
    const e = batchNorm(x(), tensor([1, 0]), tensor([4, 1]), tensor([2, 1]), tensor([0.5, 0]), { eps: 0 });
    close(await vals(e.y), [0.5, 1.5, 0, 0, 2.5, 5.5, 2, 2]);
    close(await vals(e.runningMean!), [1, 0]);
  });

  it('batchNormAct fuses ReLU; gradients flow through the batch statistics', async () => {
    const w = tensor([1.5, -0.5]),
      b = tensor([0.1, 0.2]);
    const a = batchNormAct(x(), null, null, w, b, { training: true, activation: 'relu' });
    const plain = batchNorm(x(), null, null, w, b, { training: true });
    close(await vals(a.y), await vals(relu(plain.y)));
    expect(a.runningMean).toBeNull();
    // Σ over a channel of dx is 0 when the loss is linear in the normalised output (mean removed)
    const [, [gx, gw]] = valueAndGrad(
      (t: Tensor, wt: Tensor) =>
        sum(
          mul(
            batchNorm(t, null, null, wt, b, { training: true }).y,
            tensor([
              [
                [1, 2],
                [3, 4],
              ],
              [
                [5, 6],
                [7, 8],
              ],
            ]),
          ),
        ),
      { argnums: [0, 1] },
    )(x(), w);
    const g = await vals(gx);
    expect(Math.abs(g[0] + g[1] + g[4] + g[5])).toBeLessThan(1e-5);
    expect(gw.shape).toEqual([2]);
  });

  it('batchNorm rejects one value per channel in training and wrong stat shapes', () => {
    expect(() => batchNorm(tensor([[1, 2]]), null, null, null, null, { training: true })).toThrow(/more than 1 value per channel/);
    expect(() => batchNorm(x(), tensor([0, 0, 0]), tensor([1, 1]))).toThrow(/argument 'runningMean' has shape \[3\]/);
  });

  it('batchNorm backward without γ/β, and stays accurate with 2 values per channel far from 0', async () => {
    // U²-NetP's deepest maps at small crops have N·H·W = 2 per channel; with an offset mean, a dx
    // formed as x·B − mean·B cancels badly in float32 (the old kernel: relative error 1.6e-3 here)
    const C = 3,
      off = 100,
      spread = 0.05;
    const xs = Float32Array.from({ length: 2 * C }, (_, i) => off + spread * Math.sin(i * 1.7 + 0.3));
    const us = Float64Array.from({ length: 2 * C }, (_, i) => Math.cos(i * 0.9));
    const u = tensor(Float32Array.from(us), { shape: [2, C, 1, 1] });
    const [, g] = valueAndGrad((t: Tensor) => sum(mul(batchNorm(t, null, null, null, null, { training: true }).y, u)))(tensor(xs, { shape: [2, C, 1, 1] }));
    const got = await g.data();
    const want = Array.from(xs, (xv, i) => {
      const [a, b] = [xs[i % C], xs[(i % C) + C]];
      const m = (a + b) / 2,
        inv = 1 / Math.sqrt(((a - m) ** 2 + (b - m) ** 2) / 2 + 1e-5);
      const [ua, ub] = [us[i % C], us[(i % C) + C]];
      const muXhat = ((ua * (a - m) + ub * (b - m)) * inv) / 2;
      return inv * (us[i] - (ua + ub) / 2 - (xv - m) * inv * muXhat);
    });
    const scale = Math.max(...want.map(Math.abs));
    const err = Math.max(...want.map((w, i) => Math.abs(w - got[i])));
    expect(err / scale).toBeLessThan(5e-4);
  });

  it('layerNorm and groupNorm', async () => {
    const t = tensor([
      [1, 2, 3, 4],
      [2, 2, 4, 4],
    ]);
    const s = Math.sqrt(1.25 + 1e-5);
    close(
      await vals(layerNorm(t, [4])),
      [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s, -1, -1, 1, 1].map((v, i) => (i < 4 ? v : v / Math.sqrt(1 + 1e-5))),
      1e-5,
    );
    // groups of 2 channels: (1, 2) and (3, 4) in row 0
    const g = groupNorm(reshape(t, [2, 4, 1]), 2, tensor([1, 1, 2, 2]), tensor([0, 0, 0, 1]));
    const q = Math.sqrt(0.25 + 1e-5);
    close((await vals(g)).slice(0, 4), [-0.5 / q, 0.5 / q, -1 / q, 1 / q + 1], 1e-4);
    expect(() => groupNorm(t, 3)).toThrow(/argument 'numGroups'/);
  });
});

describe('vision: memory', () => {
  it('a pooled/resized/normalised training step inside tidy leaves nothing behind', async () => {
    const x = tensor(
      Float32Array.from({ length: 2 * 3 * 7 * 7 }, (_, i) => Math.sin(i)),
      { shape: [2, 3, 7, 7] },
    );
    const w = tensor([1, 0.5, 2]),
      b = tensor([0, 0.1, -0.1]);
    const step = () =>
      tidy(() => {
        const [, g] = valueAndGrad(
          (t: Tensor, wt: Tensor) => {
            const h = batchNormAct(t, null, null, wt, b, { training: true }).y;
            const p = maxPool2d(h, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true });
            const q = avgPool2d(interpolate(p, { scaleFactor: 2, mode: 'bilinear' }), { kernelSize: 2 });
            return sum(mul(q, q));
          },
          { argnums: [0, 1] },
        )(x, w);
        return g;
      });
    const first = step();
    first.forEach((t: Tensor) => t.dispose());
    const before = memory();
    for (let i = 0; i < 3; i++) step().forEach((t: Tensor) => t.dispose());
    await x.data();
    const after = memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });
});
