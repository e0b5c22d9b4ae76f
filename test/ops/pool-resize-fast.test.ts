/**
 * The forward fast paths of maxPool2d (2×2, stride 2, four outputs per thread) and bilinear ×2 interpolate against
 * the generic kernels: ties, NaN and ±Inf follow the generic rule (a later tap wins when greater or NaN) bit for bit.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { tensor, maxPool2d, interpolate, slice, type Tensor } from '../../src/node';
import { isMax2x2 } from '../../src/kernels/wgsl/pool';
import { isBilinear2x } from '../../src/kernels/wgsl/resize';

/** Values with many ties, NaN and infinities. */
const value = fc.constantFrom(0, 1, -1, 2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0.5);

const sameBits = (a: Float32Array, b: Float32Array) => {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length),
    y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i])));
};

describe('maxPool2d 2×2 fast path', () => {
  it('maxPool2d fast path gives the generic kernel values and indices, ties and NaN included', async () => {
    const geometry = (H: number, W: number) => ({
      H,
      W,
      OH: H / 2,
      OW: W / 2,
      adaptive: false,
      kH: 2,
      kW: 2,
      sH: 2,
      sW: 2,
      pH: 0,
      pW: 0,
      dH: 1,
      dW: 1,
      countIncludePad: false,
      divisorOverride: 0,
    });
    // the padded copy (two more columns: OW no longer a multiple of 4) runs the generic kernel
    expect(isMax2x2(geometry(4, 8))).toBe(true);
    expect(isMax2x2(geometry(4, 10))).toBe(false);
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 3 })
          .chain((h) =>
            fc.constantFrom(8, 16).chain((W) => fc.array(value, { minLength: 2 * 2 * h * W, maxLength: 2 * 2 * h * W }).map((d) => ({ H: 2 * h, W, d }))),
          ),
        async ({ H, W, d }) => {
          const x = tensor(Float32Array.from(d), { shape: [2, H, W] });
          const wide = tensor(
            Float32Array.from({ length: 2 * H * (W + 2) }, (_, i) => {
              const c = i % (W + 2);
              return c < W ? d[Math.floor(i / (W + 2)) * W + c] : -1e30;
            }),
            { shape: [2, H, W + 2] },
          );
          const [y, idx] = maxPool2d(x, { kernelSize: 2, returnIndices: true });
          const [yw, idxw] = maxPool2d(wide, { kernelSize: 2, returnIndices: true });
          const yg = slice(yw, 2, 0, W / 2);
          const ig = slice(idxw, 2, 0, W / 2);
          const [a, b] = [(await y.data()) as Float32Array, (await yg.data()) as Float32Array];
          const [ia, ib] = [Array.from(await idx.data()), Array.from(await ig.data()).map((j) => Math.floor(j / (W + 2)) * W + (j % (W + 2)))];
          [x, wide, y, idx, yw, idxw, yg, ig].forEach((t: Tensor) => t.dispose());
          expect(sameBits(a, b)).toBe(true);
          expect(ia).toEqual(ib);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('interpolate bilinear ×2 fast path', () => {
  it('interpolate ×2 fast path applies to doubling by scale factor or by size, alignCorners false, W a multiple of 4', () => {
    const g = { H: 3, W: 8, OH: 6, OW: 16, scaleH: 0.5, scaleW: 0.5, alignCorners: false };
    expect(isBilinear2x('bilinear', g)).toBe(true);
    expect(isBilinear2x('bilinear', { ...g, alignCorners: true })).toBe(false);
    expect(isBilinear2x('nearest', g)).toBe(false);
    expect(isBilinear2x('bilinear', { ...g, W: 6, OW: 12 })).toBe(false);
  });

  it('interpolate ×2 fast path keeps NaN and infinities where the generic rule puts them', async () => {
    const f = Math.fround;
    // the generic kernel's arithmetic along one axis: taps ⌊s⌋ and ⌊s⌋+1 (clamped), x0·(1−l) + x1·l in f32
    const axis = (v: number[], o: number) => {
      const s = Math.max(f(f(0.5 * (o + 0.5)) - 0.5), 0);
      const i0 = Math.min(Math.floor(s), v.length - 1);
      const l = Math.min(Math.max(f(s - i0), 0), 1);
      const i1 = i0 + (i0 < v.length - 1 ? 1 : 0);
      return f(f(v[i0] * f(1 - l)) + f(v[i1] * l));
    };
    const row = [1, Number.NaN, 3, Number.POSITIVE_INFINITY, -2, 0.1, Number.NEGATIVE_INFINITY, 7];
    const x = tensor(Float32Array.from(row), { shape: [1, 1, 1, 8] });
    const y = interpolate(x, { scaleFactor: 2, mode: 'bilinear' });
    const got = Array.from(await y.data());
    x.dispose();
    y.dispose();
    const r = Array.from({ length: 16 }, (_, o) => axis(row, o));
    // H = 1: output row 0 is r·1 + r·0, row 1 is r·¾ + r·¼
    const want = [...Array.from({ length: 16 }, (_, o) => axis([r[o]], 0)), ...Array.from({ length: 16 }, (_, o) => axis([r[o]], 1))];
    expect(got.map(String)).toEqual(want.map(String));
  });
});
