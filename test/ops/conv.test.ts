/** Convolution family: hand-computed values, PyTorch's padding and size rules, and the argument errors. */
import { describe, it, expect } from 'vitest';
import { tensor, conv2d, conv1d, convTranspose2d, grad, sum, mul, ArgumentError, type Tensor } from '../../src/node';
import { refConv2d, refConv2dGradInput } from '../../src/tensor/ops/ref/conv';

const x3 = () =>
  tensor([
    [
      [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
    ],
  ]);
const close = async (t: Tensor, want: number[], tol = 1e-4) => {
  const got = [...(await t.data())];
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]), `element ${i}: got ${v}, want ${want[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]))));
};
const seq = (n: number, f = (i: number) => Math.sin(i * 1.7) + 0.1 * i) => Array.from({ length: n }, (_, i) => f(i));

describe('conv2d known values', () => {
  it('1-channel 3×3 input, 2×2 kernel (valid) and 3×3 ones with padding 1', async () => {
    const y = conv2d(
      x3(),
      tensor([
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
      ]),
    );
    expect(y.shape).toEqual([1, 1, 2, 2]);
    await close(y, [37, 47, 67, 77]);
    const z = conv2d(
      x3(),
      tensor([
        [
          [
            [1, 1, 1],
            [1, 1, 1],
            [1, 1, 1],
          ],
        ],
      ]),
      { padding: 1, bias: tensor([0.5]) },
    );
    await close(
      z,
      [12, 21, 16, 27, 45, 33, 24, 39, 28].map((v) => v + 0.5),
    );
  });

  it("'same' with an even kernel pads the extra cell on the right/bottom (PyTorch)", async () => {
    const y = conv2d(
      x3(),
      tensor([
        [
          [
            [1, 1],
            [1, 1],
          ],
        ],
      ]),
      { padding: 'same' },
    );
    expect(y.shape).toEqual([1, 1, 3, 3]);
    await close(y, [12, 16, 9, 24, 28, 15, 15, 17, 9]);
  });

  it('explicit [left, right, top, bottom] padding (F.pad order)', async () => {
    const y = conv2d(x3(), tensor([[[[1]]]]), { padding: [1, 0, 0, 2] });
    expect(y.shape).toEqual([1, 1, 5, 4]);
    await close(y, [0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('depthwise with channel multiplier 2', async () => {
    const x = tensor([
      [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ],
    ]);
    const y = conv2d(x, tensor([1, 2, 3, 4], { shape: [4, 1, 1, 1] }), { groups: 2 });
    expect(y.shape).toEqual([1, 4, 2, 2]);
    await close(y, [1, 2, 3, 4, 2, 4, 6, 8, 15, 18, 21, 24, 20, 24, 28, 32]);
  });

  it('fused ReLU', async () => {
    const y = conv2d(x3(), tensor([[[[1, -1]]]]), { activation: 'relu', bias: tensor([0.5]) });
    await close(y, [0, 0, 0, 0, 0, 0]);
  });

  it('larger grouped, strided, dilated case matches the reference', async () => {
    const xs = { shape: [2, 6, 11, 13], dtype: 'float32' as const, data: Float64Array.from(seq(2 * 6 * 11 * 13)) };
    const ws = { shape: [9, 2, 3, 2], dtype: 'float32' as const, data: Float64Array.from(seq(9 * 2 * 3 * 2, (i) => Math.cos(i))) };
    const a = {
      stride: [2, 1] as [number, number],
      padding: [1, 2, 0, 3] as [number, number, number, number],
      dilation: [2, 3] as [number, number],
      groups: 3,
    };
    const want = refConv2d(xs, ws, undefined, a);
    const y = conv2d(tensor(Float32Array.from(xs.data), { shape: xs.shape }), tensor(Float32Array.from(ws.data), { shape: ws.shape }), {
      stride: [2, 1],
      padding: [0, 3, 1, 2],
      dilation: [2, 3],
      groups: 3,
    });
    expect(y.shape).toEqual(want.shape);
    await close(y, [...want.data], 1e-3);
  });
});

describe('wide rows use 16-pixel tiles', () => {
  // the registry's property shapes stay under convTiles.wideRow (32); rows of 67 (34 at stride 2) take the wide variant
  const xs = { shape: [2, 5, 4, 67], dtype: 'float32' as const, data: Float64Array.from(seq(2 * 5 * 4 * 67)) };
  const ws = { shape: [6, 5, 3, 3], dtype: 'float32' as const, data: Float64Array.from(seq(6 * 5 * 9, (i) => Math.cos(i))) };
  const gpu = (r: { shape: number[]; data: Float64Array }) => tensor(Float32Array.from(r.data), { shape: r.shape });
  for (const [stride, dilation] of [
    [1, 1],
    [1, 2],
    [2, 1],
  ]) {
    it(`forward and grad-input, stride ${stride}, dilation ${dilation}`, async () => {
      const a = {
        stride: [stride, stride] as [number, number],
        padding: [1, 1, 1, 1] as [number, number, number, number],
        dilation: [dilation, dilation] as [number, number],
        groups: 1,
      };
      const want = refConv2d(xs, ws, undefined, a);
      const y = conv2d(gpu(xs), gpu(ws), { stride, padding: 1, dilation });
      await close(y, [...want.data], 1e-3);
      const dys = { shape: want.shape, dtype: 'float32' as const, data: Float64Array.from(seq(want.data.length, (i) => Math.sin(i * 0.3))) };
      const wantDx = refConv2dGradInput(dys, ws, { ...a, inSize: [4, 67] });
      const dx = grad((x: Tensor) => sum(mul(conv2d(x, gpu(ws), { stride, padding: 1, dilation }), gpu(dys))))(gpu(xs)) as Tensor;
      await close(dx, [...wantDx.data], 1e-3);
    });
  }
});

describe('conv1d and convTranspose2d', () => {
  it('conv1d is conv2d with H = 1', async () => {
    const y = conv1d(tensor([[[1, 2, 3, 4, 5]]]), tensor([[[1, 0, -1]]]), { padding: 1 });
    expect(y.shape).toEqual([1, 1, 5]);
    await close(y, [-2, -2, -2, -2, 4]);
  });

  it('output size (H−1)·s − 2p + d·(k−1) + outputPadding + 1, values as the adjoint of conv2d', async () => {
    const xs = { shape: [1, 2, 5, 4], dtype: 'float32' as const, data: Float64Array.from(seq(40)) };
    const ws = { shape: [2, 3, 3, 2], dtype: 'float32' as const, data: Float64Array.from(seq(36, Math.cos)) };
    const y = convTranspose2d(tensor(Float32Array.from(xs.data), { shape: xs.shape }), tensor(Float32Array.from(ws.data), { shape: ws.shape }), {
      stride: [2, 3],
      padding: [1, 0],
      outputPadding: [1, 2],
      dilation: [2, 1],
    });
    expect(y.shape).toEqual([1, 3, (5 - 1) * 2 - 2 + 2 * 2 + 1 + 1, (4 - 1) * 3 + 1 + 2 + 1]);
    const want = refConv2dGradInput(xs, ws, { stride: [2, 3], padding: [1, 0, 0, -2], dilation: [2, 1], groups: 1, inSize: [12, 13] });
    await close(y, [...want.data], 1e-3);
  });

  it('stride-2 2×2 kernel of ones spreads each input over a 2×2 block', async () => {
    const y = convTranspose2d(
      tensor([
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
      ]),
      tensor([
        [
          [
            [1, 1],
            [1, 1],
          ],
        ],
      ]),
      { stride: 2, bias: tensor([1]) },
    );
    await close(y, [2, 2, 3, 3, 2, 2, 3, 3, 4, 4, 5, 5, 4, 4, 5, 5]);
  });
});

describe('conv gradients', () => {
  it("second order: d/dw of ⟨x, d⟨y, u⟩/dx⟩ runs the grad ops' own VJPs", async () => {
    const x = tensor([
      [
        [
          [1, 2, 3],
          [4, 5, 6],
          [7, 8, 9],
        ],
      ],
    ]);
    const w = tensor([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    // f(w) = Σ (∂/∂x Σ conv(x, w)²) · x = 2 Σ conv(x, w)²  →  df/dw = 4 Σ conv(x,w) · ∂conv/∂w
    const f = (w_: Tensor) => sum(mul(grad((x_: Tensor) => sum(mul(conv2d(x_, w_), conv2d(x_, w_))))(x) as Tensor, x));
    const g = grad(f)(w) as Tensor;
    const y = [37, 47, 67, 77],
      patches = [
        [1, 2, 4, 5],
        [2, 3, 5, 6],
        [4, 5, 7, 8],
        [5, 6, 8, 9],
      ];
    await close(
      g,
      [0, 1, 2, 3].map((k) => 4 * y.reduce((s, v, p) => s + v * patches[p][k], 0)),
      1e-4,
    );
  });
});

describe('conv errors name the argument and the shapes', () => {
  it('weight in-channels × groups ≠ input channels', () => {
    expect(() => conv2d(tensor(new Float32Array(2 * 4 * 4), { shape: [1, 2, 4, 4] }), tensor(new Float32Array(3 * 9), { shape: [1, 3, 3, 3] }))).toThrow(
      /conv2d: argument 'weight' has shape \[1, 3, 3, 3\]: in-channels 3 × groups 1 = 3; expected 2/,
    );
    expect(() =>
      conv2d(tensor(new Float32Array(4 * 16), { shape: [1, 4, 4, 4] }), tensor(new Float32Array(3 * 4 * 9), { shape: [3, 4, 3, 3] }), { groups: 2 }),
    ).toThrow(ArgumentError);
  });
  it('output size ≤ 0', () => {
    expect(() => conv2d(tensor(new Float32Array(4), { shape: [1, 1, 2, 2] }), tensor(new Float32Array(9), { shape: [1, 1, 3, 3] }))).toThrow(
      /argument 'input' has spatial size \[2, 2\].*output of \[0, 0\]/,
    );
  });
  it("'same' needs stride 1; bad padding, stride and bias are named", () => {
    const x = tensor(new Float32Array(16), { shape: [1, 1, 4, 4] }),
      w = tensor(new Float32Array(4), { shape: [1, 1, 2, 2] });
    expect(() => conv2d(x, w, { padding: 'same', stride: 2 })).toThrow(/argument 'padding'/);
    expect(() => conv2d(x, w, { padding: [1, 2, 3] as never })).toThrow(/argument 'padding'/);
    expect(() => conv2d(x, w, { stride: 0 })).toThrow(/argument 'stride'/);
    expect(() => conv2d(x, w, { bias: tensor([1, 2]) })).toThrow(/argument 'bias' has shape \[2\]/);
    expect(() => convTranspose2d(x, w, { stride: 2, outputPadding: 2 })).toThrow(/argument 'outputPadding'/);
  });
});
