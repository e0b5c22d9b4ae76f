/**
 * Joint image + mask augmentation: the crop sampler's ranges, the GPU path (one affine resampling per tensor)
 * against the step-by-step float64 reference (resize, pad/crop, flip) on random batches with fast-check, mask
 * values only ever from the input mask or 255, identities (no-op options, a flip twice), colour jitter
 * leaving masks alone, no leaked tensors, and one-line errors.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getDefaultDevice, memory, random, tensor, type Tensor } from '../../src/node';
import {
  augmentSegmentation,
  augmentSegmentationWith,
  decodeTarget,
  sampleSegmentationCrops,
  segmentationBatch,
  syntheticSegmentationDataset,
} from '../../src/segmentation';
import { refAugmentSegmentation } from '../../src/segmentation/augment-ref';

const batchOf = (B: number, H: number, W: number, seed: number) => {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const images = Float32Array.from({ length: B * 3 * H * W }, next);
  const masks = Int32Array.from({ length: B * H * W }, () => [0, 3, 7, 13, 18, 255][Math.floor(next() * 6)]);
  return { images, masks, shape: [B, H, W] as [number, number, number] };
};

const upload = (b: ReturnType<typeof batchOf>) => ({
  images: tensor(b.images, { shape: [b.shape[0], 3, b.shape[1], b.shape[2]] }),
  masks: tensor(b.masks, { shape: b.shape, dtype: 'int32' }),
});

const dispose = (...ts: Tensor[]) => {
  for (const t of ts) t.dispose();
};

describe('sampleSegmentationCrops', () => {
  it('draws scaled sizes in range and crops inside the scaled image, or the image inside the crop when smaller', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0.25, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 1.5, noNaN: true }),
        fc.nat(1000),
        (H, W, OH, OW, lo, extra, seed) => {
          const scale: [number, number] = [lo, lo + extra];
          const crops = sampleSegmentationCrops(random.key(seed), 6, [H, W], { size: [OH, OW], scale, hflip: 0.5 });
          for (let i = 0; i < 6; i++) {
            const [sh, sw, top, left, flip] = crops.subarray(5 * i, 5 * i + 5);
            expect(sh).toBeGreaterThanOrEqual(Math.max(1, Math.round(H * scale[0])));
            expect(sh).toBeLessThanOrEqual(Math.max(1, Math.round(H * scale[1])));
            expect(sw).toBeGreaterThanOrEqual(Math.max(1, Math.round(W * scale[0])));
            expect(sw).toBeLessThanOrEqual(Math.max(1, Math.round(W * scale[1])));
            if (sh >= OH) expect(top >= 0 && top + OH <= sh).toBe(true);
            else expect(top <= 0 && top + OH >= sh).toBe(true);
            if (sw >= OW) expect(left >= 0 && left + OW <= sw).toBe(true);
            else expect(left <= 0 && left + OW >= sw).toBe(true);
            expect([0, 1]).toContain(flip);
          }
        },
      ),
    );
  });

  it('is deterministic per key, draws each sample from its own fold, and flips about as often as asked', () => {
    const a = sampleSegmentationCrops(random.key(1), 400, [32, 64], { size: 24, scale: [0.5, 2], hflip: 0.3 });
    expect(Array.from(sampleSegmentationCrops(random.key(1), 400, [32, 64], { size: 24, scale: [0.5, 2], hflip: 0.3 }))).toEqual(Array.from(a));
    expect(Array.from(sampleSegmentationCrops(random.key(1), 3, [32, 64], { size: 24, scale: [0.5, 2], hflip: 0.3 }))).toEqual(Array.from(a.subarray(0, 15)));
    const flips = Array.from({ length: 400 }, (_, i) => a[5 * i + 4]).reduce((x, y) => x + y, 0);
    expect(flips / 400).toBeGreaterThan(0.22);
    expect(flips / 400).toBeLessThan(0.38);
    // without options: the whole image, unscaled, unflipped
    expect(Array.from(sampleSegmentationCrops(random.key(2), 2, [5, 7]))).toEqual([5, 7, 0, 0, 0, 5, 7, 0, 0, 0]);
  });
});

describe('augmentSegmentation on the GPU', () => {
  it('matches the float64 step-by-step reference (images bilinear, masks nearest, pads 0 / 255, flips)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 2, max: 12 }),
        fc.double({ min: 0.3, max: 2.5, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(100000),
        async (B, H, W, OH, OW, lo, extra, seed) => {
          const host = batchOf(B, H, W, seed + 1);
          const crops = sampleSegmentationCrops(random.key(seed), B, [H, W], { size: [OH, OW], scale: [lo, lo + extra], hflip: 0.5 });
          const batch = upload(host);
          const out = augmentSegmentationWith(batch, crops, { size: [OH, OW], fill: 0.25 });
          const ref = refAugmentSegmentation(host, crops, [OH, OW], 0.25, 255);
          expect(out.images.shape).toEqual([B, 3, OH, OW]);
          expect(out.masks.shape).toEqual([B, OH, OW]);
          expect(out.masks.dtype).toBe('int32');
          const [img, msk] = [await out.images.data(), await out.masks.data()];
          // bilinear taps can differ only where a float32 source coordinate rounds across a pixel: compare
          // images where the mask's source is clear of pixel boundaries, and masks there exactly
          for (let p = 0; p < B * OH * OW; p++) {
            if (ref.margin[p] < 1e-4) continue;
            expect(msk[p]).toBe(ref.masks[p]);
          }
          for (let k = 0; k < img.length; k++) expect(Math.abs(img[k] - ref.images[k])).toBeLessThan(2e-5);
          const allowed = new Set([...host.masks, 255]);
          for (const v of msk) expect(allowed.has(v)).toBe(true);
          dispose(batch.images, batch.masks, out.images, out.masks);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is the identity without options, and a flip applied twice gives the input back', async () => {
    const host = batchOf(2, 6, 9, 7);
    const batch = upload(host);
    const same = augmentSegmentation(batch, random.key(0));
    expect(Array.from(await same.images.data())).toEqual(Array.from(host.images));
    expect(Array.from(await same.masks.data())).toEqual(Array.from(host.masks));
    const flip = Int32Array.of(6, 9, 0, 0, 1, 6, 9, 0, 0, 1);
    const once = augmentSegmentationWith(batch, flip);
    const twice = augmentSegmentationWith(once, flip);
    const m1 = await once.masks.data();
    expect(m1[0]).toBe(host.masks[8]); // row 0 mirrored
    expect(Array.from(await twice.masks.data())).toEqual(Array.from(host.masks));
    const back = await twice.images.data();
    host.images.forEach((v, i) => expect(back[i]).toBeCloseTo(v, 6));
    dispose(batch.images, batch.masks, same.images, same.masks, once.images, once.masks, twice.images, twice.masks);
  });

  it('pads masks with 255 (or ignoreIndex) and images with fill where the crop leaves the scaled image', async () => {
    const host = batchOf(1, 4, 4, 3);
    const batch = upload(host);
    // 4×4 image placed at offset (2, 1) inside an 8×8 crop: top = −2, left = −1
    const out = augmentSegmentationWith(batch, Int32Array.of(4, 4, -2, -1, 0), { size: 8, fill: 0.5, ignoreIndex: 250 });
    const m = await out.masks.data();
    const im = await out.images.data();
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) {
        const inside = y >= 2 && y < 6 && x >= 1 && x < 5;
        expect(m[y * 8 + x]).toBe(inside ? host.masks[(y - 2) * 4 + (x - 1)] : 250);
        if (!inside) expect(im[y * 8 + x]).toBe(0.5);
      }
    dispose(batch.images, batch.masks, out.images, out.masks);
  });

  it('works on a synthetic street batch: output sizes, mask values from the input or 255, colour jitter leaves masks alone', async () => {
    const ds = syntheticSegmentationDataset({ length: 2, size: [32, 64] });
    const batch = segmentationBatch([ds.get(0), ds.get(1)]);
    const o = { size: [24, 40] as [number, number], scale: [0.5, 1.5] as [number, number], hflip: 0.5 };
    const plain = augmentSegmentation(batch, random.key(5), o);
    const before = memory().liveTensors;
    const jittered = augmentSegmentation(batch, random.key(5), { ...o, color: { brightness: [0.5, 0.5] } });
    expect(memory().liveTensors - before).toBe(2);
    expect(jittered.images.shape).toEqual([2, 3, 24, 40]);
    const [pm, jm] = [await plain.masks.data(), await jittered.masks.data()];
    expect(Array.from(jm)).toEqual(Array.from(pm));
    const input = new Set(await batch.masks.data());
    for (const v of pm) expect(input.has(v) || v === 255).toBe(true);
    const [pi, ji] = [await plain.images.data(), await jittered.images.data()];
    pi.forEach((v, i) => expect(ji[i]).toBeCloseTo(v * 0.5, 5));
    dispose(batch.images, batch.masks, plain.images, plain.masks, jittered.images, jittered.masks);
  });

  it('leaves only its two outputs alive', () => {
    const batch = upload(batchOf(2, 8, 8, 1));
    const before = memory().liveTensors;
    const out = augmentSegmentation(batch, random.key(3), { size: 6, scale: [0.5, 2], hflip: 0.5 });
    expect(memory().liveTensors - before).toBe(2);
    dispose(batch.images, batch.masks, out.images, out.masks);
  });

  it('a data loop (batch, augment with jitter, decode colours) holds GPU memory flat from step 2 to step 20', async () => {
    const ds = syntheticSegmentationDataset({ length: 4, size: [16, 32] });
    const start = memory();
    let at2: ReturnType<typeof memory> | null = null;
    for (let step = 1; step <= 20; step++) {
      const raw = segmentationBatch([ds.get(step % 4), ds.get((step + 1) % 4)]);
      const aug = augmentSegmentation(raw, random.foldIn(random.key(8), step), {
        size: [12, 20],
        scale: [0.5, 2],
        hflip: 0.5,
        color: { brightness: 0.2, hue: 0.1 },
      });
      const colours = decodeTarget(aug.masks);
      await colours.data();
      dispose(raw.images, raw.masks, aug.images, aug.masks, colours);
      if (step === 2) {
        await getDefaultDevice().sync();
        at2 = memory();
      }
    }
    await getDefaultDevice().sync();
    const end = memory();
    expect([end.liveTensors, end.liveBytes, end.liveBuffers]).toEqual([at2!.liveTensors, at2!.liveBytes, at2!.liveBuffers]);
    expect(end.liveTensors).toBe(start.liveTensors);
  });

  it('refuses bad input in one line naming the argument', () => {
    const batch = upload(batchOf(2, 4, 4, 1));
    const floatMasks = tensor(new Float32Array(32), { shape: [2, 4, 4] });
    const k = random.key(0);
    expect(() => augmentSegmentation({ images: batch.images, masks: floatMasks }, k)).toThrow(/augmentSegmentation.*'masks'.*float32.*int32 \(2, 4, 4\)/);
    expect(() => augmentSegmentation({ images: batch.masks, masks: batch.masks }, k)).toThrow(/augmentSegmentation.*'images'/);
    expect(() => augmentSegmentation(batch, [0, 1] as unknown as typeof k)).toThrow(/augmentSegmentation.*'key'/);
    expect(() => augmentSegmentation(batch, k, { scale: [2, 1] })).toThrow(/'scale'.*\[2,1\]/);
    expect(() => augmentSegmentation(batch, k, { hflip: 2 })).toThrow(/'hflip'.*2.*probability/);
    expect(() => augmentSegmentationWith(batch, Int32Array.of(1, 2, 3))).toThrow(/'crops'.*3 values.*5·2/);
    dispose(batch.images, batch.masks, floatMasks);
  });
});

describe('segmentationBatch', () => {
  it('collates images (B, 3, H, W) and int32 masks (B, H, W) in sample order', async () => {
    const ds = syntheticSegmentationDataset({ length: 3, size: [16, 32], seed: 4 });
    const samples = [ds.get(2), ds.get(0)];
    const b = segmentationBatch(samples);
    expect(b.images.shape).toEqual([2, 3, 16, 32]);
    expect(b.masks.shape).toEqual([2, 16, 32]);
    expect(b.masks.dtype).toBe('int32');
    const [im, m] = [await b.images.data(), await b.masks.data()];
    expect(Array.from(im.subarray(0, 1536))).toEqual(Array.from(samples[0].image.data));
    expect(Array.from(m.subarray(512))).toEqual(Array.from(samples[1].mask.data));
    dispose(b.images, b.masks);
  });

  it('refuses empty input, mixed sizes and masks that are not train ids', () => {
    const ds = syntheticSegmentationDataset({ length: 2, size: [16, 32] });
    const other = syntheticSegmentationDataset({ length: 1, size: [16, 16] });
    expect(() => segmentationBatch([])).toThrow(/segmentationBatch.*'samples'.*empty/);
    expect(() => segmentationBatch([ds.get(0), other.get(0)])).toThrow(/segmentationBatch.*'samples\[1\]\.image'.*3×16×16.*3×16×32/);
    const bad = ds.get(1);
    bad.mask.data[5] = 2.5;
    expect(() => segmentationBatch([ds.get(0), bad])).toThrow(/'samples\[1\]\.mask'.*holds 2\.5 at pixel 5.*integers in 0\.\.255/);
    const noMask = { image: ds.get(0).image };
    expect(() => segmentationBatch([noMask])).toThrow(/'samples\[0\]\.mask'.*missing/);
  });
});
