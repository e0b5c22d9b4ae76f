/** Augmentations: geometric identities (flips, 90° rotation, resize = interpolate, crops), image/mask alignment, samplers, colour steps. */
import { describe, it, expect } from 'vitest';
import {
  tensor,
  tidy,
  random,
  affineResample,
  augmentGeometry,
  sampleGeometry,
  sampleResizedCrop,
  colorJitter,
  sampleColorJitter,
  normalize,
  IMAGENET_MEAN,
  IMAGENET_STD,
} from '../../src/node';
import { refInterpolate } from '../../src/tensor/ops/ref/resize';
import { uniformStream } from '../../src/train/data/augment';
import { colorJitterWith } from '../../src/tensor/ops/augment';

const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 37) % 101) / 100);
const at = (d: ArrayLike<number>, shape: number[], n: number, c: number, y: number, x: number) => d[((n * shape[1] + c) * shape[2] + y) * shape[3] + x];

describe('affine resampling', () => {
  it('hflip, vflip and a 90° rotation are exact pixel permutations', async () => {
    const [N, C, H, W] = [2, 2, 5, 5];
    const data = ramp(N * C * H * W);
    const x = tensor(data, { shape: [N, C, H, W] });
    const k = random.key(3);
    const h = augmentGeometry({ image: x }, k, { size: [H, W], hflip: 1 }).image;
    const v = augmentGeometry({ image: x }, k, { size: [H, W], vflip: 1 }).image;
    const r = augmentGeometry({ image: x }, k, { size: [H, W], degrees: [90, 90] }).image;
    const [hd, vd, rd] = [await h.data(), await v.data(), await r.data()];
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let y = 0; y < H; y++)
          for (let q = 0; q < W; q++) {
            const s = [N, C, H, W];
            expect(at(hd, s, n, c, y, q)).toBeCloseTo(at(data, s, n, c, y, W - 1 - q), 6);
            expect(at(vd, s, n, c, y, q)).toBeCloseTo(at(data, s, n, c, H - 1 - y, q), 6);
            // counter-clockwise: torch.rot90(x, 1, [2, 3]) has out[y][q] = in[q][W-1-y]
            expect(at(rd, s, n, c, y, q)).toBeCloseTo(at(data, s, n, c, q, W - 1 - y), 5);
          }
    [x, h, v, r].forEach((t) => t.dispose());
  });

  it('a rotation fills 0 outside the input, and resize equals interpolate (bilinear, alignCorners false)', async () => {
    const x = tensor(new Float32Array(16).fill(1), { shape: [1, 1, 4, 4] });
    const r = augmentGeometry({ image: x }, random.key(0), { size: 4, degrees: [45, 45] }).image;
    const rd = await r.data();
    expect(rd[0]).toBe(0); // corners leave the rotated square
    expect(rd[5]).toBeCloseTo(1, 6);
    for (const [H, W, OH, OW] of [
      [5, 7, 3, 4],
      [3, 4, 8, 5],
    ]) {
      const d = ramp(2 * H * W);
      const xi = tensor(d, { shape: [1, 2, H, W] });
      const y = augmentGeometry({ image: xi }, random.key(1), { size: [OH, OW] }).image;
      const want = refInterpolate(
        { shape: [1, 2, H, W], dtype: 'float32', data: Float64Array.from(d) },
        { mode: 'bilinear', alignCorners: false, inputSize: [H, W], outputSize: [OH, OW], scaleFactor: [null, null] },
      );
      const got = await y.data();
      want.data.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
      xi.dispose();
      y.dispose();
    }
    x.dispose();
    r.dispose();
  });

  it('random crop takes a window of the input; the same key gives the same crops', async () => {
    const [N, H, W, S] = [3, 7, 9, 4];
    const d = ramp(N * 3 * H * W);
    const x = tensor(d, { shape: [N, 3, H, W] });
    const k = random.key(11);
    const theta = sampleGeometry(k, N, [H, W], { size: S, crop: 'crop' });
    expect(sampleGeometry(k, N, [H, W], { size: S, crop: 'crop' })).toEqual(theta);
    expect(sampleGeometry(k, 1, [H, W], { size: S, crop: 'crop' })).toEqual(theta.subarray(0, 6)); // sample i depends on i only
    const y = await augmentGeometry({ image: x }, k, { size: S, crop: 'crop' }).image.data();
    for (let n = 0; n < N; n++) {
      const [sx, , left, , sy, top] = theta.subarray(6 * n, 6 * n + 6);
      expect([sx, sy]).toEqual([1, 1]);
      for (let c = 0; c < 3; c++)
        for (let r = 0; r < S; r++)
          for (let q = 0; q < S; q++) expect(at(y, [N, 3, S, S], n, c, r, q)).toBeCloseTo(at(d, [N, 3, H, W], n, c, top + r, left + q), 6);
    }
    tidy(() => x.dispose());
  });

  it('the mask follows the image: the same transform, nearest (stays binary)', async () => {
    const [N, H, W] = [4, 12, 10];
    const m = new Float32Array(N * H * W);
    for (let n = 0; n < N; n++)
      for (let y = 0; y < H; y++) for (let q = 0; q < W; q++) m[(n * H + y) * W + q] = y >= 2 + n && y < 8 && q >= 3 && q < 6 + n ? 1 : 0;
    const img = new Float32Array(N * 3 * H * W);
    for (let n = 0; n < N; n++) for (let c = 0; c < 3; c++) img.set(m.subarray(n * H * W, (n + 1) * H * W), (n * 3 + c) * H * W);
    const out = augmentGeometry({ image: tensor(img, { shape: [N, 3, H, W] }), mask: tensor(m, { shape: [N, 1, H, W] }) }, random.key(5), {
      size: [8, 8],
      crop: 'resizedCrop',
      scale: [0.3, 1],
      hflip: 0.5,
      vflip: 0.5,
      degrees: 20,
    });
    expect(out.image.shape).toEqual([N, 3, 8, 8]);
    expect(out.mask!.shape).toEqual([N, 1, 8, 8]);
    const [im, mk] = [await out.image.data(), await out.mask!.data()];
    let agreed = 0;
    for (let n = 0; n < N; n++)
      for (let i = 0; i < 64; i++) {
        const v = mk[n * 64 + i],
          g = im[n * 3 * 64 + i];
        expect(v === 0 || v === 1).toBe(true);
        if (g < 1e-6 || g > 1 - 1e-6) {
          expect(v).toBe(Math.round(g));
          agreed++;
        } // where the image is flat, the mask must agree
      }
    expect(agreed).toBeGreaterThan(N * 20);
  });

  it('RandomResizedCrop sampling stays in bounds and in the scale/ratio ranges; falls back to a centre crop', () => {
    const u = uniformStream(random.key(9));
    for (let t = 0; t < 200; t++) {
      const b = sampleResizedCrop(u, 50, 80);
      expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= 50 && b.left + b.width <= 80).toBe(true);
      const area = (b.height * b.width) / 4000,
        ratio = b.width / b.height;
      if (!(b.height === 50 && b.width === 80)) {
        expect(area).toBeGreaterThan(0.07);
        expect(ratio).toBeGreaterThan(0.7);
        expect(ratio).toBeLessThan(1.45);
      }
    }
    // 10 × 100 with ratio 1 and scale ≥ 0.9 can never fit: centre crop of the widest allowed ratio
    expect(sampleResizedCrop(u, 10, 100, [0.9, 1], [1, 1])).toEqual({ top: 0, left: 45, height: 10, width: 10 });
  });

  it('names the argument in errors', () => {
    const x = tensor(new Float32Array(12), { shape: [1, 3, 2, 2] });
    expect(() => affineResample(x, new Float32Array(5), { size: 2 })).toThrow(/theta.*5 values/);
    expect(() => augmentGeometry({ image: x }, random.key(0), { size: 4, crop: 'crop' })).toThrow(/size.*4×4 for 2×2/);
    expect(() => augmentGeometry({ image: x, mask: tensor(new Float32Array(9), { shape: [1, 1, 3, 3] }) }, random.key(0), { size: 2 })).toThrow(/mask/);
    expect(() => colorJitter(tensor(new Float32Array(4), { shape: [1, 1, 2, 2] }), random.key(0), { brightness: 0.2 })).toThrow(/3 channels/);
    expect(() => sampleColorJitter(random.key(0), 1, { hue: 0.7 })).toThrow(/hue/);
    x.dispose();
  });
});

describe('colour', () => {
  it('hue +1/3 turns red into green; brightness scales and clamps; grayscale gives luma', async () => {
    const x = tensor(Float32Array.from([1, 0.5, 0, 0.5, 0, 0.2]), { shape: [1, 3, 1, 2] });
    const hue = await colorJitterWith(x, Float32Array.from([1, 1, 1, 1 / 3, 3, -1, -1, -1, 0, 0, 0, 0])).data();
    expect([hue[0], hue[2], hue[4]].map((v) => +v.toFixed(5))).toEqual([0, 1, 0]);
    const br = await colorJitterWith(x, Float32Array.from([1.5, 1, 1, 0, 0, -1, -1, -1, 0, 0, 0, 0])).data();
    expect([...br].map((v) => +v.toFixed(5))).toEqual([1, 0.75, 0, 0.75, 0, 0.3]);
    const g = await colorJitterWith(x, Float32Array.from([1, 1, 1, 0, -1, -1, -1, -1, 1, 0, 0, 0])).data();
    expect(g[0]).toBeCloseTo(0.2989, 5);
    expect(g[2]).toBeCloseTo(0.2989, 5);
    expect(g[5]).toBeCloseTo(0.5 * 0.2989 + 0.5 * 0.587 + 0.2 * 0.114, 5);
    x.dispose();
  });

  it('samples factors in torchvision ranges, a permutation per sample, grayscale with probability p', () => {
    const p = sampleColorJitter(random.key(2), 400, { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, grayscale: 0.25 });
    let gray = 0;
    const orders = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const s = p.subarray(12 * i, 12 * i + 12);
      for (let j = 0; j < 3; j++) expect(s[j] >= 0.6 - 1e-6 && s[j] <= 1.4 + 1e-6).toBe(true);
      expect(Math.abs(s[3])).toBeLessThanOrEqual(0.1 + 1e-6);
      expect([...s.subarray(4, 8)].sort()).toEqual([0, 1, 2, 3]);
      orders.add([...s.subarray(4, 8)].join());
      gray += s[8];
    }
    expect(orders.size).toBe(24);
    expect(gray).toBeGreaterThan(60);
    expect(gray).toBeLessThan(140);
    // an unset factor is skipped; a fixed order keeps torchvision's listing order
    const q = sampleColorJitter(random.key(2), 1, { contrast: 0.5, order: 'fixed' });
    expect([...q.subarray(4, 8)]).toEqual([-1, 1, -1, -1]);
  });

  it('colorJitter is reproducible from its key and normalize uses ImageNet statistics', async () => {
    const d = ramp(2 * 3 * 4 * 4);
    const x = tensor(d, { shape: [2, 3, 4, 4] });
    const o = { brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05 };
    const a = await colorJitter(x, random.key(7), o).data(),
      b = await colorJitter(x, random.key(7), o).data(),
      c = await colorJitter(x, random.key(8), o).data();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const nz = await normalize(x).data();
    for (let i = 0; i < d.length; i++) {
      const ch = Math.floor(i / 16) % 3;
      expect(nz[i]).toBeCloseTo((d[i] - IMAGENET_MEAN[ch]) / IMAGENET_STD[ch], 5);
    }
    x.dispose();
  });
});
