/**
 * d2l's bilinear_kernel (src/segmentation/bilinear-kernel.ts): pinned values, every entry against the
 * formula (restated here), and a transposed convolution initialised with it as an s× bilinear
 * upsampler: equal to bilinear interpolation (align_corners=False) wherever both neighbours exist,
 * and to a zero-padded bilinear reference everywhere — d2l's demonstration, checked numerically.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { convTranspose2d, interpolate, random, rand } from '../../src/node';
import { bilinearFilter, bilinearKernel } from '../../src/segmentation/bilinear-kernel';

/** d2l's formula: factor ⌊(k+1)/2⌋, centre factor−1 (odd) or factor−0.5 (even), a separable tent. */
function formula(k: number, i: number, j: number): number {
  const factor = Math.floor((k + 1) / 2);
  const center = k % 2 === 1 ? factor - 1 : factor - 0.5;
  return (1 - Math.abs(i - center) / factor) * (1 - Math.abs(j - center) / factor);
}

describe('bilinearKernel', () => {
  it('pinned: kernel 4 is [0.25, 0.75, 0.75, 0.25]⊗itself, kernel 3 [0.5, 1, 0.5]⊗itself, kernel 1 [1]', async () => {
    const t = [0.25, 0.75, 0.75, 0.25];
    const w = bilinearKernel(1, 1, 4);
    expect(w.shape).toEqual([1, 1, 4, 4]);
    expect([...(await w.data())]).toEqual(t.flatMap((a) => t.map((b) => a * b)));
    expect([...bilinearFilter(3)]).toEqual([0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25]);
    expect([...bilinearFilter(1)]).toEqual([1]);
    // d2l's FCN: kernel 64 (stride 32): centre 31.5, factor 32, so the 1-d tent runs 1/64, 3/64, …, 63/64, 63/64, …, 1/64
    const f64 = bilinearFilter(64);
    expect(f64[0]).toBeCloseTo((1 / 64) ** 2, 15);
    expect(f64[31 * 64 + 32]).toBeCloseTo((63 / 64) ** 2, 15);
    w.dispose();
  });

  it('fast-check: entry (i, o, a, b) is the formula when i = o (or a side is 1) and 0 otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 1, max: 4 }).map((n) => [n, n]),
          fc.integer({ min: 1, max: 4 }).map((n) => [1, n]),
          fc.integer({ min: 1, max: 4 }).map((n) => [n, 1]),
        ),
        fc.integer({ min: 1, max: 9 }),
        async ([cin, cout], k) => {
          const w = bilinearKernel(cin, cout, k);
          const d = await w.data();
          w.dispose();
          expect(w.shape).toEqual([cin, cout, k, k]);
          for (let i = 0; i < cin; i++)
            for (let o = 0; o < cout; o++)
              for (let a = 0; a < k; a++)
                for (let b = 0; b < k; b++) {
                  const on = i === o || cin === 1 || cout === 1;
                  expect(d[((i * cout + o) * k + a) * k + b]).toBe(on ? Math.fround(formula(k, a, b)) : 0);
                }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('as a transposed convolution (kernel 2s, stride s, padding s/2) it upsamples s× bilinearly, as d2l shows', async () => {
    for (const [s, H, W] of [
      [2, 5, 7],
      [4, 3, 4],
      [32, 2, 3],
    ]) {
      const C = 3;
      const x = rand(random.key(s), [1, C, H, W]);
      const w = bilinearKernel(C, C, 2 * s);
      const y = convTranspose2d(x, w, { stride: s, padding: s / 2 });
      const b = interpolate(x, { scaleFactor: s, mode: 'bilinear' });
      expect(y.shape).toEqual([1, C, s * H, s * W]);
      const [xd, yd, bd] = [await x.data(), await y.data(), await b.data()];
      const OH = s * H,
        OW = s * W;
      // zero-padded bilinear reference, align_corners=False: src = (o + 0.5)/s − 0.5, tent weights
      const at = (c: number, i: number, j: number) => (i >= 0 && i < H && j >= 0 && j < W ? xd[(c * H + i) * W + j] : 0);
      const tent = (src: number, j: number) => Math.max(0, 1 - Math.abs(src - j));
      for (let c = 0; c < C; c++)
        for (let oi = 0; oi < OH; oi++)
          for (let oj = 0; oj < OW; oj++) {
            const si = (oi + 0.5) / s - 0.5,
              sj = (oj + 0.5) / s - 0.5;
            let want = 0;
            for (let i = Math.floor(si); i <= Math.floor(si) + 1; i++)
              for (let j = Math.floor(sj); j <= Math.floor(sj) + 1; j++) want += tent(si, i) * tent(sj, j) * at(c, i, j);
            const got = yd[(c * OH + oi) * OW + oj];
            expect(Math.abs(got - want), `s=${s} (${c}, ${oi}, ${oj})`).toBeLessThan(1e-5);
            // inside (both neighbours exist) it is exactly torch's bilinear interpolate
            if (oi >= s / 2 && oi <= OH - s / 2 - 1 && oj >= s / 2 && oj <= OW - s / 2 - 1)
              expect(Math.abs(got - bd[(c * OH + oi) * OW + oj]), `interpolate s=${s} (${c}, ${oi}, ${oj})`).toBeLessThan(1e-5);
          }
      for (const t of [x, w, y, b]) t.dispose();
    }
  });

  it('bad input: one-line errors', () => {
    expect(() => bilinearKernel(0, 3, 4)).toThrow(/bilinearKernel: argument 'inChannels' is 0/);
    expect(() => bilinearKernel(3, 3, 2.5)).toThrow(/bilinearKernel: argument 'kernelSize' is 2.5/);
    expect(() => bilinearKernel(2, 3, 4)).toThrow(/bilinearKernel: argument 'outChannels' is 3 with inChannels 2/);
  });
});
