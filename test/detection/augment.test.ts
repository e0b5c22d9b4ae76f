/**
 * Detection augmentation: the float64 box transform's properties (flip twice, full window, boxes
 * inside [0, 1], the centre rule), hand cases on the GPU, the window sampler, and images and boxes
 * moving together through augmentDetection (a bright box painted into each image must land where
 * its transformed box says).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { memory, random, tensor } from '../../src/node';
import { augmentDetection, detectionTargets, sampleDetectionWindows, windowsToAffine, detectionBatch } from '../../src/detection';
import type { DetectionSample } from '../../src/detection';
import { refDetectionTargets, refTransformRow } from '../../src/detection/augment-ref';
import type { RefTensor } from '../../src/base/ref-tensor';

const ref = (shape: number[], data: number[]): RefTensor => ({ shape, dtype: 'float32', data: Float64Array.from(data) });
const unit = fc.double({ min: 0, max: 1, noNaN: true });
const box = fc.tuple(unit, unit, unit, unit).map(([a, b, c, d]) => [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)]);
const windowArb = fc.tuple(box, fc.boolean()).filter(([w]) => w[2] - w[0] > 1e-3 && w[3] - w[1] > 1e-3);

const transform = (row: number[], win: number[], flip: boolean, minVisible = 0) => {
  const out = new Float64Array(5);
  refTransformRow(row, win, flip, minVisible, out);
  return Array.from(out);
};

describe('box transform, float64 reference', () => {
  it('a flip of the full image twice is the identity; once, it mirrors x', () => {
    fc.assert(
      // centres kept away from the edges by more than rounding (1 − x is inexact near 0; denormal centres round to 0)
      fc.property(
        box.filter((b) => [b[0] + b[2], b[1] + b[3]].every((c) => c > 1e-9 && c < 2 - 1e-9)),
        fc.nat(5),
        (b, cls) => {
          const once = transform([cls, ...b], [0, 0, 1, 1], true);
          expect(once[1]).toBeCloseTo(1 - b[2], 12);
          expect(once[3]).toBeCloseTo(1 - b[0], 12);
          const twice = transform(once, [0, 0, 1, 1], true);
          twice.forEach((v, i) => expect(v).toBeCloseTo([cls, ...b][i], 12));
        },
      ),
    );
  });

  it('a crop of the full image without a flip is the identity for boxes whose centre is inside', () => {
    fc.assert(
      fc.property(box, fc.nat(5), (b, cls) => {
        const out = transform([cls, ...b], [0, 0, 1, 1], false);
        // the centre as the definition has it ((y1 + y2) / 2 of two denormals can round to 0)
        const [cx, cy] = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
        const inside = cx > 0 && cx < 1 && cy > 0 && cy < 1;
        expect(out).toEqual(inside ? [cls, ...b] : [-1, 0, 0, 0, 0]);
      }),
    );
  });

  it('every kept box lies in [0, 1] with x1 ≤ x2, y1 ≤ y2; it was kept exactly when its centre was inside the window', () => {
    fc.assert(
      fc.property(box, windowArb, fc.nat(5), ([x1, y1, x2, y2], [w, flip], cls) => {
        const out = transform([cls, x1, y1, x2, y2], w, flip);
        const cx = (x1 + x2) / 2,
          cy = (y1 + y2) / 2;
        const inside = cx > w[0] && cx < w[2] && cy > w[1] && cy < w[3];
        expect(out[0]).toBe(inside ? cls : -1);
        if (inside) {
          expect(out.slice(1).every((v) => v >= 0 && v <= 1)).toBe(true);
          expect(out[1] <= out[3] && out[2] <= out[4]).toBe(true);
          // mapped back to the input, the kept box is the original box clipped to the window
          const back = flip ? [1 - out[3], out[2], 1 - out[1], out[4]] : out.slice(1);
          const ww = w[2] - w[0],
            wh = w[3] - w[1];
          const clipped = [Math.max(x1, w[0]), Math.max(y1, w[1]), Math.min(x2, w[2]), Math.min(y2, w[3])];
          [w[0] + back[0] * ww, w[1] + back[1] * wh, w[0] + back[2] * ww, w[1] + back[3] * wh].forEach((v, i) => expect(v).toBeCloseTo(clipped[i], 10));
        } else expect(out).toEqual([-1, 0, 0, 0, 0]);
      }),
    );
  });

  it('raising minVisible only ever drops boxes, and drops those with less than that fraction inside', () => {
    fc.assert(
      fc.property(box, windowArb, unit, unit, (b, [w, flip], m1, m2) => {
        const [lo, hi] = [Math.min(m1, m2), Math.max(m1, m2)];
        const a = transform([1, ...b], w, flip, lo),
          c = transform([1, ...b], w, flip, hi);
        if (c[0] === 1) expect(a[0]).toBe(1);
        const area = (b[2] - b[0]) * (b[3] - b[1]);
        const vis = Math.max(0, Math.min(b[2], w[2]) - Math.max(b[0], w[0])) * Math.max(0, Math.min(b[3], w[3]) - Math.max(b[1], w[1]));
        if (c[0] === 1) expect(vis).toBeGreaterThanOrEqual(hi * area - 1e-12);
      }),
    );
  });

  it('padding rows and empty windows give padding rows', () => {
    expect(transform([-1, 0.1, 0.1, 0.5, 0.5], [0, 0, 1, 1], false)).toEqual([-1, 0, 0, 0, 0]);
    expect(transform([2, 0.1, 0.1, 0.5, 0.5], [0.3, 0, 0.3, 1], false)).toEqual([-1, 0, 0, 0, 0]);
  });
});

describe('detectionTargets on the GPU', () => {
  it('matches hand-computed rows: crop, clip, flip, the centre rule at the edges, minVisible', async () => {
    const t = tensor(
      Float32Array.from(
        [
          // sample 0, window x ∈ [0.25, 1], y ∈ [0, 1], no flip
          [2, 0.125, 0.125, 0.5, 0.5], // centre 0.3125 inside: clipped to x1 = 0.25 → [0, 0.125, 1/3, 0.5]
          [1, 0, 0, 0.5, 0.5], // centre x 0.25 on the edge: dropped
          [-1, 0.5, 0.5, 0.75, 0.75], // padding stays padding
          // sample 1, same window, flipped
          [2, 0.125, 0.125, 0.5, 0.5], // → [1 − 1/3, 0.125, 1, 0.5]
          [0, 0.5, 0, 1, 1], // → [0, 0, 2/3, 1] flipped: [1/3, 0, 1, 1]
          [3, 0.9, 0.9, 1.0, 1.0], // centre (0.95, 0.95) inside
        ].flat(),
      ),
      { shape: [2, 3, 5] },
    );
    const win = Float32Array.from([0.25, 0, 1, 1, 0, 0.25, 0, 1, 1, 1]);
    const out = detectionTargets(t, win);
    const want = [
      [2, 0, 0.125, 1 / 3, 0.5],
      [-1, 0, 0, 0, 0],
      [-1, 0, 0, 0, 0],
      [2, 2 / 3, 0.125, 1, 0.5],
      [0, 0, 0, 2 / 3, 1],
      [3, 0, 0.9, 0.1 / 0.75, 1.0],
    ].flat();
    const got = await out.data();
    want.forEach((v, i) => expect(got[i], `element ${i}`).toBeCloseTo(v, 6));
    // row 0 keeps (0.5 − 0.25)·0.375 / (0.375·0.375) = 2/3 of its area: dropped at minVisible 0.7, kept at 0.6
    const strict = detectionTargets(t, win, { minVisible: 0.7 }),
      loose = detectionTargets(t, win, { minVisible: 0.6 });
    expect((await strict.data())[0]).toBe(-1);
    expect((await loose.data())[0]).toBe(2);
    for (const x of [t, out, strict, loose]) x.dispose();
  });

  it('equals the float64 reference on random batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: -1, max: 3 }), box), { minLength: 6, maxLength: 6 }),
        fc.array(windowArb, { minLength: 2, maxLength: 2 }),
        async (rows, wins) => {
          const td = rows.flatMap(([c, b]) => [c, ...b]);
          const wd = wins.flatMap(([w, f]) => [...w, f ? 1 : 0]);
          const t = tensor(Float32Array.from(td), { shape: [2, 3, 5] });
          const out = detectionTargets(t, Float32Array.from(wd));
          const got = await out.data();
          // float32 inputs, float64 reference: compare on the values the GPU saw
          const want = refDetectionTargets(ref([2, 3, 5], Array.from(Float32Array.from(td))), ref([2, 5], Array.from(Float32Array.from(wd))), {
            minVisible: 0,
          });
          want.data.forEach((v, i) => expect(Math.abs(got[i] - v), `element ${i}`).toBeLessThan(1e-5));
          t.dispose();
          out.dispose();
        },
      ),
      { numRuns: 20 },
    );
  });

  it('rejects bad arguments in one line', () => {
    const t = tensor(new Float32Array(10), { shape: [1, 2, 5] });
    expect(() => detectionTargets(t, new Float32Array(4))).toThrow("detectionTargets: argument 'windows' has 4 values; expected 5");
    expect(() => detectionTargets(t, new Float32Array(5), { minVisible: 2 })).toThrow("argument 'minVisible' is 2");
    const bad = tensor(new Float32Array(8), { shape: [2, 4] });
    expect(() => detectionTargets(bad, new Float32Array(10))).toThrow("argument 'targets' has shape");
    t.dispose();
    bad.dispose();
  });
});

describe('sampleDetectionWindows', () => {
  it('is deterministic, stays inside the image, respects the area range, and is the identity with nothing asked', () => {
    const k = random.key(11);
    const a = sampleDetectionWindows(k, 64, [100, 80], { crop: 1, hflip: 0.5 });
    expect(sampleDetectionWindows(k, 64, [100, 80], { crop: 1, hflip: 0.5 })).toEqual(a);
    let flips = 0;
    for (let i = 0; i < 64; i++) {
      const [x1, y1, x2, y2, f] = a.subarray(5 * i, 5 * i + 5);
      expect(x1 >= 0 && y1 >= 0 && x2 <= 1 && y2 <= 1 && x1 < x2 && y1 < y2).toBe(true);
      // whole pixels
      expect(x1 * 80).toBeCloseTo(Math.round(x1 * 80), 3);
      expect(y2 * 100).toBeCloseTo(Math.round(y2 * 100), 3);
      const area = (x2 - x1) * (y2 - y1);
      expect(area).toBeGreaterThan(0.28);
      flips += f;
    }
    expect(flips).toBeGreaterThan(16);
    expect(flips).toBeLessThan(48);
    expect(Array.from(sampleDetectionWindows(k, 2, [10, 10]))).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 1, 0]);
    expect(() => sampleDetectionWindows(k, 2, [10, 10], { crop: 1.5 })).toThrow("sampleDetectionWindows: argument 'crop' is 1.5");
  });

  it('windowsToAffine maps the output corners onto the window (mirrored when flipped)', () => {
    const th = windowsToAffine(Float32Array.from([0.25, 0.5, 0.75, 1, 1]), [40, 80], [10, 20]);
    const map = (x: number, y: number) => [th[0] * x + th[1] * y + th[2], th[3] * x + th[4] * y + th[5]];
    expect(map(0, 0)).toEqual([60, 20]);
    expect(map(20, 10)).toEqual([20, 40]);
  });
});

describe('augmentDetection', () => {
  /** An image black except a white rectangle over each box. */
  function painted(boxes: number[][], H: number, W: number): DetectionSample {
    const image = new Float32Array(3 * H * W);
    for (const b of boxes)
      for (let y = Math.round(b[1] * H); y < Math.round(b[3] * H); y++)
        for (let x = Math.round(b[0] * W); x < Math.round(b[2] * W); x++) for (let c = 0; c < 3; c++) image[c * H * W + y * W + x] = 1;
    return { image, height: H, width: W, boxes: Float32Array.from(boxes.flat()), labels: Int32Array.from(boxes.map((_, i) => i)) };
  }

  it('moves images and boxes together through crops, flips and a resize', async () => {
    const [H, W, OH, OW] = [64, 96, 48, 48];
    // one box per image on an 8-pixel grid, so its painted edges are exact
    const boxes = [
      [0.25, 0.25, 0.5, 0.625],
      [0.5, 0.125, 0.75, 0.5],
      [0.125, 0.5, 0.5, 0.875],
      [0.375, 0.375, 0.625, 0.625],
    ];
    const batch = detectionBatch(boxes.map((b) => painted([b], H, W)));
    let checked = 0;
    for (let seed = 0; seed < 6; seed++) {
      const out = augmentDetection(batch, random.key(seed), { size: [OH, OW], crop: 1, hflip: 0.5, scale: [0.3, 1] });
      expect(out.images.shape).toEqual([4, 3, OH, OW]);
      expect(out.targets.shape).toEqual([4, 1, 5]);
      const [img, tg] = [await out.images.data(), await out.targets.data()];
      for (let b = 0; b < 4; b++) {
        if (tg[5 * b] < 0) continue;
        const [x1, y1, x2, y2] = Array.from(tg.subarray(5 * b + 1, 5 * b + 5));
        // bright pixels (> 0.5) span the transformed box, to within a pixel of resampling
        let [bx1, by1, bx2, by2] = [OW, OH, 0, 0];
        for (let y = 0; y < OH; y++)
          for (let x = 0; x < OW; x++)
            if (img[b * 3 * OH * OW + y * OW + x] > 0.5) {
              bx1 = Math.min(bx1, x);
              by1 = Math.min(by1, y);
              bx2 = Math.max(bx2, x + 1);
              by2 = Math.max(by2, y + 1);
            }
        const ctx = `seed ${seed} image ${b}`;
        expect(Math.abs(bx1 - x1 * OW), `${ctx} x1`).toBeLessThanOrEqual(1.01);
        expect(Math.abs(by1 - y1 * OH), `${ctx} y1`).toBeLessThanOrEqual(1.01);
        expect(Math.abs(bx2 - x2 * OW), `${ctx} x2`).toBeLessThanOrEqual(1.01);
        expect(Math.abs(by2 - y2 * OH), `${ctx} y2`).toBeLessThanOrEqual(1.01);
        checked++;
      }
      out.images.dispose();
      out.targets.dispose();
    }
    expect(checked).toBeGreaterThan(12);
    batch.images.dispose();
    batch.targets.dispose();
  });

  it('with only a size, resizes the images and keeps the boxes', async () => {
    const batch = detectionBatch([painted([[0.25, 0.25, 0.75, 0.5]], 16, 16)]);
    const out = augmentDetection(batch, random.key(0), { size: 8 });
    expect(out.images.shape).toEqual([1, 3, 8, 8]);
    expect(Array.from(await out.targets.data())).toEqual([0, 0.25, 0.25, 0.75, 0.5]);
    for (const t of [batch.images, batch.targets, out.images, out.targets]) t.dispose();
  });

  it('leaves only its two outputs alive', () => {
    const batch = detectionBatch([painted([[0.25, 0.25, 0.75, 0.75]], 16, 16), painted([[0, 0, 0.5, 0.5]], 16, 16)]);
    const before = memory().liveTensors;
    const out = augmentDetection(batch, random.key(3), { size: 8, crop: 1, hflip: 0.5 });
    expect(memory().liveTensors - before).toBe(2);
    for (const t of [batch.images, batch.targets, out.images, out.targets]) t.dispose();
  });

  it('jitters colours when asked, without moving the boxes or the geometry draws, and frees the intermediate', async () => {
    const batch = detectionBatch([painted([[0.25, 0.25, 0.75, 0.75]], 16, 16), painted([[0, 0, 0.5, 0.5]], 16, 16)]);
    const o = { size: 8, crop: 1, hflip: 0.5 };
    const plain = augmentDetection(batch, random.key(4), o);
    const before = memory().liveTensors;
    const jittered = augmentDetection(batch, random.key(4), { ...o, color: { brightness: [0.5, 0.5] } });
    expect(memory().liveTensors - before).toBe(2);
    expect(Array.from(await jittered.targets.data())).toEqual(Array.from(await plain.targets.data()));
    const [a, b] = [await plain.images.data(), await jittered.images.data()];
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v * 0.5, 5));
    for (const t of [batch.images, batch.targets, plain.images, plain.targets, jittered.images, jittered.targets]) t.dispose();
  });

  it('rejects mismatched batches in one line', () => {
    const batch = detectionBatch([painted([[0, 0, 1, 1]], 8, 8)]);
    const t2 = tensor(new Float32Array(10), { shape: [2, 1, 5] });
    expect(() => augmentDetection({ images: batch.images, targets: t2 }, random.key(0))).toThrow("augmentDetection: argument 'targets' has shape [2, 1, 5]");
    for (const t of [batch.images, batch.targets, t2]) t.dispose();
  });
});
