/** U²-Net pre/post-processing on the host: the official bilinear or the antialiased resize, divide by the maximum, ImageNet normalisation; the official 8-bit mask. */
import { describe, expect, it } from 'vitest';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  maskToImageSize,
  normalizeMask,
  resizeAntialiasCHW,
  resizeBilinearConstantCHW,
  u2netMaskU8,
  u2netPreprocess,
  type U2NetResize,
} from '../../src/sod/preprocess';
import { resizeBilinearCHW } from '../../src/train/data/resize-host';

describe('u2net preprocessing', () => {
  it('shrinking averages (a 1-pixel checkerboard becomes flat grey), keeps constants, and enlarging is bilinear', () => {
    const w = 64,
      h = 48;
    const checker = Float32Array.from({ length: w * h }, (_, i) => ((i % w) + Math.floor(i / w)) % 2);
    const small = resizeAntialiasCHW(checker, 1, h, w, 12, 16);
    for (const v of small) expect(v).toBeCloseTo(0.5, 2);
    const flat = resizeAntialiasCHW(new Float32Array(2 * w * h).fill(0.3), 2, h, w, 7, 9);
    for (const v of flat) expect(v).toBeCloseTo(0.3, 6);
    const tiny = Float32Array.of(0, 1, 2, 3, 4, 5);
    expect(Array.from(resizeAntialiasCHW(tiny, 1, 2, 3, 5, 7))).toEqual(Array.from(resizeBilinearCHW(tiny, 1, 2, 3, 5, 7)));
  });

  it('divides by the image maximum, then normalises each channel with the ImageNet mean/std', () => {
    const w = 10,
      h = 6,
      data = new Uint8Array(4 * w * h);
    for (let i = 0; i < w * h; i++) data.set([100, 50, 25, 255], 4 * i); // max is 100/255
    const x = u2netPreprocess({ width: w, height: h, data, channels: 4 }, 8);
    expect(x.length).toBe(3 * 64);
    const want = [1, 0.5, 0.25].map((v, c) => (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);
    for (let c = 0; c < 3; c++) expect(x[c * 64 + 17]).toBeCloseTo(want[c], 5);
  });

  it('mask min–max normalisation and resize back to the image size', () => {
    expect(Array.from(normalizeMask(Float32Array.of(0.2, 0.6, 0.4)))).toEqual([0, 1, expect.closeTo(0.5, 6)]);
    expect(Array.from(normalizeMask(Float32Array.of(0.7, 0.7)))).toEqual([0, 0]);
    expect(maskToImageSize(new Float32Array(16).fill(1), 4, 13, 5).length).toBe(65);
  });

  it('the official resize: plain bilinear on pixel centres, zero outside the image (skimage mode constant)', () => {
    // 1×2 → 1×4: the outer samples reach a quarter pixel past the edge, where the image counts as 0
    expect(Array.from(resizeBilinearConstantCHW(Float32Array.of(1, 2), 1, 1, 2, 1, 4))).toEqual([0.75, 1.25, 1.75, 1.5]);
    // 1×4 → 1×2: samples at 0.5 and 2.5, no prefilter
    expect(Array.from(resizeBilinearConstantCHW(Float32Array.of(0, 1, 2, 3), 1, 1, 4, 1, 2))).toEqual([0.5, 2.5]);
    // a 1-pixel checkerboard shrunk by 4 is not averaged to grey (each sample sits between two pixels: 0.5)…
    const w = 64,
      h = 48;
    const checker = Float32Array.from({ length: w * h }, (_, i) => ((i % w) + Math.floor(i / w)) % 2);
    expect(new Set(resizeBilinearConstantCHW(checker, 1, h, w, 12, 16))).toEqual(new Set([0.5]));
    // …and the two options give different network inputs for a detailed image
    const data = Uint8Array.from({ length: 4 * w * h }, (_, i) => (i % 4 === 3 ? 255 : (i * 7919) % 251));
    const img = { width: w, height: h, data, channels: 4 };
    const a = u2netPreprocess(img, 16),
      b = u2netPreprocess(img, 16, { resize: 'antialias' });
    expect(Array.from(a)).toEqual(Array.from(u2netPreprocess(img, 16, { resize: 'bilinear' })));
    expect(a.some((v, i) => Math.abs(v - b[i]) > 0.1)).toBe(true);
    expect(() => u2netPreprocess(img, 16, { resize: 'bicubic' as U2NetResize })).toThrow(
      /u2netPreprocess: argument 'options.resize' is "bicubic"; expected bilinear or antialias/,
    );
  });

  it('the official 8-bit mask: min–max in float32, ×255 truncated, PIL bilinear to the image size', () => {
    const map = Float32Array.of(0.2, 0.6, 0.4, 0.5);
    expect(Array.from(u2netMaskU8(map, 2, 2, 2))).toEqual([0, 255, 127, 191]);
    expect(Array.from(u2netMaskU8(map, 2, 2, 2, { normalize: false }))).toEqual([51, 153, 102, 127]);
    expect(Array.from(u2netMaskU8(new Float32Array(4).fill(0.7), 2, 2, 2))).toEqual([0, 0, 0, 0]);
    const big = u2netMaskU8(map, 2, 5, 3);
    expect(big.length).toBe(15);
    expect(big[0]).toBe(0); // PIL's bilinear keeps the corner value when enlarging
    expect(() => u2netMaskU8(map, 3, 2, 2)).toThrow(/u2netMaskU8: argument 'map' has 4 values; expected size² = 9/);
  });
});
