/** U²-Net preprocessing on the host: antialiased resize, divide by the maximum, ImageNet normalisation. */
import { describe, expect, it } from 'vitest';
import { IMAGENET_MEAN, IMAGENET_STD, maskToImageSize, normalizeMask, resizeAntialiasCHW, u2netPreprocess } from '../../src/sod/preprocess';
import { resizeBilinearCHW } from '../../src/train/data/resize-host';

describe('u2net preprocessing', () => {
  it('shrinking averages (a 1-pixel checkerboard becomes flat grey), keeps constants, and enlarging is bilinear', () => {
    const w = 64, h = 48;
    const checker = Float32Array.from({ length: w * h }, (_, i) => ((i % w) + Math.floor(i / w)) % 2);
    const small = resizeAntialiasCHW(checker, 1, h, w, 12, 16);
    for (const v of small) expect(v).toBeCloseTo(0.5, 2);
    const flat = resizeAntialiasCHW(new Float32Array(2 * w * h).fill(0.3), 2, h, w, 7, 9);
    for (const v of flat) expect(v).toBeCloseTo(0.3, 6);
    const tiny = Float32Array.of(0, 1, 2, 3, 4, 5);
    expect(Array.from(resizeAntialiasCHW(tiny, 1, 2, 3, 5, 7))).toEqual(Array.from(resizeBilinearCHW(tiny, 1, 2, 3, 5, 7)));
  });

  it('divides by the image maximum, then normalises each channel with the ImageNet mean/std', () => {
    const w = 10, h = 6, data = new Uint8Array(4 * w * h);
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
});
