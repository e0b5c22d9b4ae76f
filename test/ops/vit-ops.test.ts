/**
 * The ops SAM's ViT encoder added, beyond their registry cases: 1-d interpolate pinned to values PyTorch's
 * F.interpolate gives (worked out from its documented index rule), layerNorm2d against layerNorm on channels-last
 * pixels, and one-line errors.
 */
import { describe, expect, it } from 'vitest';
import { interpolate, layerNorm, layerNorm2d, permute, tensor } from '../../src/node';

const arange4 = () => tensor([[[0, 1, 2, 3]]]);
const values = async (t: { data(): Promise<ArrayLike<number>> }) => Array.from(await t.data());

describe('interpolate on [N, C, L] (F.interpolate 1-d)', () => {
  it("mode 'linear' (align_corners false and true), by size and by factor", async () => {
    // src = max((d + 0.5)·4/6 − 0.5, 0), taps clamped at the end: PyTorch prints [0.0000, 0.5000, 1.1667, 1.8333, 2.5000, 3.0000]
    const up = await values(interpolate(arange4(), { size: 6, mode: 'linear' }));
    [0, 0.5, 7 / 6, 11 / 6, 2.5, 3].forEach((v, i) => expect(up[i]).toBeCloseTo(v, 5));
    expect(await values(interpolate(arange4(), { size: 7, mode: 'linear', alignCorners: true }))).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3]);
    expect(await values(interpolate(arange4(), { scaleFactor: 0.5, mode: 'linear' }))).toEqual([0.5, 2.5]);
    expect(interpolate(tensor(new Float32Array(2 * 3 * 5), { shape: [2, 3, 5] }), { size: [9], mode: 'linear' }).shape).toEqual([2, 3, 9]);
  });

  it("mode 'nearest' (PyTorch's legacy floor rule)", async () => {
    expect(await values(interpolate(arange4(), { size: 3 }))).toEqual([0, 1, 2]);
    expect(await values(interpolate(arange4(), { scaleFactor: 2 }))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it('rejects a mode of the wrong rank, pairs for 3-d input and bad sizes', () => {
    const x4 = tensor(new Float32Array(16), { shape: [1, 1, 4, 4] });
    expect(() => interpolate(arange4(), { size: 6, mode: 'bilinear' })).toThrow(/interpolate: argument 'mode' is "bilinear" with a 3-d input/);
    expect(() => interpolate(x4, { size: 6, mode: 'linear' })).toThrow(/interpolate: argument 'mode' is 'linear' with a 4-d input/);
    expect(() => interpolate(arange4(), { size: [6, 6] as unknown as number, mode: 'linear' })).toThrow(/interpolate: argument 'size'/);
    expect(() => interpolate(arange4(), { size: 6, mode: 'nearest', alignCorners: true })).toThrow(/argument 'alignCorners'/);
  });
});

describe('layerNorm2d (SAM LayerNorm2d)', () => {
  it('equals layerNorm over the channels of each pixel', async () => {
    const data = Float32Array.from({ length: 2 * 5 * 3 * 4 }, (_, i) => Math.sin(1.3 * i) * 2 + (i % 7));
    const x = tensor(data, { shape: [2, 5, 3, 4] });
    const w = tensor([0.5, 1, -1, 2, 0.1]),
      b = tensor([0, 1, 2, -1, 0.5]);
    const ours = await values(layerNorm2d(x, w, b));
    const viaChannelsLast = await values(permute(layerNorm(permute(x, [0, 2, 3, 1]), 5, w, b, 1e-6), [0, 3, 1, 2]));
    ours.forEach((v, i) => expect(v).toBeCloseTo(viaChannelsLast[i], 5));
  });

  it('rejects inputs that are not [N, C, H, W] and per-channel vectors of the wrong size', () => {
    const x = tensor(new Float32Array(8), { shape: [1, 2, 2, 2] });
    expect(() => layerNorm2d(tensor([1, 2]), tensor([1]), tensor([0]))).toThrow(/layerNorm2d: argument 'x' has shape \[2\]/);
    expect(() => layerNorm2d(x, tensor([1, 1, 1]), tensor([0, 0]))).toThrow(/layerNorm2d: argument 'weight' has shape \[3\]; expected \[2\]/);
  });
});
