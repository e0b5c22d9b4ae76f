/** The synthetic detection set (determinism, box exactness, sizes, overlap, speed) and detectionBatch's padded layout. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SYNTHETIC_DETECTION_CLASSES, syntheticDetectionSample, syntheticDetectionDataset, detectionBatch, detectionLoader } from '../../src/detection';
import { random } from '../../src/node';
import type { DetectionSample } from '../../src/detection';

const boxesOf = (s: DetectionSample) => Array.from({ length: s.labels.length }, (_, k) => Array.from(s.boxes.subarray(4 * k, 4 * k + 4)));

function iou(p: number[], q: number[]) {
  const iw = Math.min(p[2], q[2]) - Math.max(p[0], q[0]),
    ih = Math.min(p[3], q[3]) - Math.max(p[1], q[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter);
}

const area = (b: number[]) => (b[2] - b[0]) * (b[3] - b[1]);
const intersection = (p: number[], q: number[]) =>
  Math.max(0, Math.min(p[2], q[2]) - Math.max(p[0], q[0])) * Math.max(0, Math.min(p[3], q[3]) - Math.max(p[1], q[1]));

/** Mean colour of the pixels well inside a box (the centre half), and just outside it (a ring two pixels wide). */
function colourInside(s: DetectionSample, b: number[]) {
  const { width: W, height: H, image } = s,
    n = H * W;
  const [x1, y1, x2, y2] = [b[0] * W, b[1] * H, b[2] * W, b[3] * H];
  const cx = (x1 + x2) / 2,
    cy = (y1 + y2) / 2;
  const sum = [0, 0, 0];
  let count = 0;
  for (let y = Math.ceil(cy - 1); y <= Math.floor(cy + 1); y++)
    for (let x = Math.ceil(cx - 1); x <= Math.floor(cx + 1); x++) {
      for (let c = 0; c < 3; c++) sum[c] += image[c * n + y * W + x];
      count++;
    }
  return sum.map((v) => v / count);
}

describe('syntheticDetectionSample', () => {
  it('is deterministic per (seed, index) and differs across indices and seeds', () => {
    const a = syntheticDetectionSample(5, { size: 64, seed: 1 });
    const b = syntheticDetectionSample(5, { size: 64, seed: 1 });
    expect(a.image).toEqual(b.image);
    expect(a.boxes).toEqual(b.boxes);
    expect(a.labels).toEqual(b.labels);
    expect(syntheticDetectionSample(6, { size: 64, seed: 1 }).image).not.toEqual(a.image);
    expect(syntheticDetectionSample(5, { size: 64, seed: 2 }).image).not.toEqual(a.image);
  });

  it('has 1–4 objects of known classes, boxes inside [0, 1] with sizes in the scale range, overlap ≤ maxOverlap, pixels in [0, 1]', () => {
    fc.assert(
      fc.property(fc.nat(100000), fc.integer({ min: 0, max: 3 }), (index, seed) => {
        const s = syntheticDetectionSample(index, { size: [48, 64], seed });
        expect(s.height).toBe(48);
        expect(s.width).toBe(64);
        expect(s.image.length).toBe(3 * 48 * 64);
        expect(s.labels.length).toBeGreaterThanOrEqual(1);
        expect(s.labels.length).toBeLessThanOrEqual(4);
        const boxes = boxesOf(s);
        for (const [k, b] of boxes.entries()) {
          expect(s.labels[k] >= 0 && s.labels[k] < SYNTHETIC_DETECTION_CLASSES.length).toBe(true);
          expect(b[0] >= 0 && b[1] >= 0 && b[2] <= 1 && b[3] <= 1 && b[0] < b[2] && b[1] < b[3]).toBe(true);
          const size = Math.sqrt((b[2] - b[0]) * 64 * (b[3] - b[1]) * 48) / 48;
          expect(size).toBeGreaterThan(0.1 - 1e-4);
          expect(size).toBeLessThan(0.5 + 1e-4);
          for (let j = 0; j < k; j++) {
            expect(iou(b, boxes[j])).toBeLessThanOrEqual(0.1 + 1e-6);
            expect(intersection(b, boxes[j])).toBeLessThanOrEqual(0.5 * Math.min(area(b), area(boxes[j])) + 1e-6);
          }
        }
        expect(s.image.every((v) => v >= 0 && v <= 1)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('boxes are exact: each object fills its box to the edges (a saturated class colour at the centre, touching all four sides)', () => {
    const hue = [
      (c: number[]) => c[0] > c[1] + 0.2 && c[0] > c[2] + 0.2, // red
      (c: number[]) => c[1] > c[0] + 0.2 && c[1] > c[2] + 0.2, // green
      (c: number[]) => c[2] > c[0] + 0.2 && c[2] > c[1] + 0.1, // blue
      (c: number[]) => c[0] > c[2] + 0.3 && c[1] > c[2] + 0.3, // yellow
    ];
    let checked = 0;
    for (let i = 0; i < 40; i++) {
      const s = syntheticDetectionSample(i, { size: 128, seed: 7, maxOverlap: 0 });
      for (const [k, b] of boxesOf(s).entries()) {
        // the centre of a triangle's box is inside it, as for every class
        expect(hue[s.labels[k]](colourInside(s, b)), `sample ${i} object ${k} (${SYNTHETIC_DETECTION_CLASSES[s.labels[k]]})`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
  });

  it('the painted extent of an object is its box (to within a pixel), seen on a background made uniform by overlapping nothing', () => {
    // generate at 1 object so nothing else is painted inside the box; compare the class-coloured pixels' extent to the box
    for (let i = 0; i < 20; i++) {
      const s = syntheticDetectionSample(i, { size: 96, seed: 3, maxObjects: 1 });
      const b = boxesOf(s)[0];
      const cls = s.labels[0];
      const n = 96 * 96;
      const isClass = (x: number, y: number) => {
        const c = [s.image[y * 96 + x], s.image[n + y * 96 + x], s.image[2 * n + y * 96 + x]];
        if (cls === 0) return c[0] > c[1] + 0.25 && c[0] > c[2] + 0.25;
        if (cls === 1) return c[1] > c[0] + 0.25 && c[1] > c[2] + 0.25;
        if (cls === 2) return c[2] > c[0] + 0.25 && c[2] > c[1] + 0.15;
        return c[0] > c[2] + 0.35 && c[1] > c[2] + 0.35;
      };
      let [x1, y1, x2, y2] = [96, 96, 0, 0];
      // only look near the box: distractors are unsaturated, but noise could tip a lone pixel elsewhere
      for (let y = Math.max(0, Math.floor(b[1] * 96) - 3); y < Math.min(96, Math.ceil(b[3] * 96) + 3); y++)
        for (let x = Math.max(0, Math.floor(b[0] * 96) - 3); x < Math.min(96, Math.ceil(b[2] * 96) + 3); x++)
          if (isClass(x, y)) {
            x1 = Math.min(x1, x);
            y1 = Math.min(y1, y);
            x2 = Math.max(x2, x + 1);
            y2 = Math.max(y2, y + 1);
          }
      const tol = 1.6;
      expect(Math.abs(x1 - b[0] * 96), `sample ${i} x1`).toBeLessThan(tol);
      expect(Math.abs(y1 - b[1] * 96), `sample ${i} y1`).toBeLessThan(tol);
      expect(Math.abs(x2 - b[2] * 96), `sample ${i} x2`).toBeLessThan(tol);
      expect(Math.abs(y2 - b[3] * 96), `sample ${i} y2`).toBeLessThan(tol);
    }
  });

  it('covers every class and a spread of sizes over a few hundred samples', () => {
    const perClass = [0, 0, 0, 0];
    const sizes: number[] = [];
    for (let i = 0; i < 300; i++) {
      const s = syntheticDetectionSample(i, { size: 32 });
      s.labels.forEach((c) => perClass[c]++);
      for (const b of boxesOf(s)) sizes.push(Math.sqrt((b[2] - b[0]) * (b[3] - b[1])));
    }
    expect(Math.min(...perClass)).toBeGreaterThan(100);
    expect(Math.min(...sizes)).toBeLessThan(0.13);
    expect(Math.max(...sizes)).toBeGreaterThan(0.45);
  });

  it('pins the first samples of seed 0 (a change to the generator changes every trained figure: update these on purpose)', () => {
    const pinned: [number[], number[], number][] = [
      [
        [3, 3, 2, 3],
        [0.59547, 0.19143, 0.83564, 0.65498, 0.50251, 0.78351, 0.6967, 0.91964, 0.13556, 0.36423, 0.45588, 0.72941, 0.80829, 0.48484, 0.91012, 0.67078],
        0.382473,
      ],
      [[3], [0.59916, 0.13167, 0.78053, 0.29385], 0.462177],
      [
        [3, 0, 1, 2],
        [0.80591, 0.80348, 0.92967, 0.99388, 0.44751, 0.67491, 0.57623, 0.77468, 0.02246, 0.21832, 0.31115, 0.47874, 0.85824, 0.60128, 0.99416, 0.70015],
        0.49457,
      ],
    ];
    pinned.forEach(([labels, boxes, mean], i) => {
      const s = syntheticDetectionSample(i, { size: 64, seed: 0 });
      expect(Array.from(s.labels)).toEqual(labels);
      Array.from(s.boxes).forEach((v, k) => expect(v).toBeCloseTo(boxes[k], 4));
      expect(s.image.reduce((a, v) => a + v, 0) / s.image.length).toBeCloseTo(mean, 5);
    });
  });

  it('generates hundreds of 256² images per second', () => {
    syntheticDetectionSample(0);
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) syntheticDetectionSample(i);
    const perImage = (performance.now() - t0) / 20;
    expect(perImage).toBeLessThan(50);
  });

  it('rejects bad options in one line', () => {
    expect(() => syntheticDetectionSample(-1)).toThrow("syntheticDetectionSample: argument 'index' is -1");
    expect(() => syntheticDetectionSample(0, { size: 4 })).toThrow("argument 'size'");
    expect(() => syntheticDetectionSample(0, { minObjects: 3, maxObjects: 2 })).toThrow("argument 'maxObjects'");
    expect(() => syntheticDetectionSample(0, { scale: [0.5, 0.1] })).toThrow("argument 'scale'");
    expect(() => syntheticDetectionDataset({ length: -1 })).toThrow("argument 'length'");
  });
});

describe('syntheticDetectionDataset', () => {
  it('sample i is syntheticDetectionSample(start + i) and the class names come along', () => {
    const ds = syntheticDetectionDataset({ length: 3, start: 10, size: 32, seed: 4 });
    expect(ds.length).toBe(3);
    expect(ds.classNames).toEqual(SYNTHETIC_DETECTION_CLASSES);
    const s = ds.get(2) as DetectionSample;
    expect(s.image).toEqual(syntheticDetectionSample(12, { size: 32, seed: 4 }).image);
    expect(() => ds.get(3)).toThrow("argument 'index' is 3");
  });
});

describe('detectionBatch', () => {
  const sample = (boxes: number[][], labels: number[], H = 2, W = 3, fill = 0.5): DetectionSample => ({
    image: new Float32Array(3 * H * W).fill(fill),
    height: H,
    width: W,
    boxes: Float32Array.from(boxes.flat()),
    labels: Int32Array.from(labels),
  });

  it('stacks images and pads targets with class −1 rows', async () => {
    const a = sample(
      [
        [0.1, 0.2, 0.3, 0.4],
        [0.5, 0.5, 0.9, 1],
      ],
      [2, 0],
      2,
      3,
      0.25,
    );
    const b = sample([], [], 2, 3, 0.75);
    const c = sample([[0, 0, 1, 1]], [1]);
    const { images, targets } = detectionBatch([a, b, c]);
    expect(images.shape).toEqual([3, 3, 2, 3]);
    expect(targets.shape).toEqual([3, 2, 5]);
    const t = Array.from(await targets.data());
    const expected = [2, 0.1, 0.2, 0.3, 0.4, 0, 0.5, 0.5, 0.9, 1, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 1, 1, -1, 0, 0, 0, 0];
    t.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    const im = await images.data();
    expect(im[0]).toBe(0.25);
    expect(im[18]).toBe(0.75);
    images.dispose();
    targets.dispose();
  });

  it('pads to maxObjects and gives one row even when no sample has an object', async () => {
    const batch = detectionBatch([sample([], [])]);
    expect(batch.targets.shape).toEqual([1, 1, 5]);
    expect(Array.from(await batch.targets.data())).toEqual([-1, 0, 0, 0, 0]);
    const wide = detectionBatch([sample([[0, 0, 1, 1]], [3])], { maxObjects: 4 });
    expect(wide.targets.shape).toEqual([1, 4, 5]);
    for (const t of [batch.images, batch.targets, wide.images, wide.targets]) t.dispose();
  });

  it('batches the synthetic set', async () => {
    const ds = syntheticDetectionDataset({ length: 4, size: 32 });
    const samples = [0, 1, 2, 3].map((i) => ds.get(i) as DetectionSample);
    const { images, targets } = detectionBatch(samples, { maxObjects: 4 });
    const t = await targets.data();
    samples.forEach((s, b) => {
      for (let g = 0; g < 4; g++) {
        const row = t.subarray((b * 4 + g) * 5, (b * 4 + g + 1) * 5);
        if (g < s.labels.length) {
          expect(row[0]).toBe(s.labels[g]);
          expect(Array.from(row.subarray(1))).toEqual(Array.from(s.boxes.subarray(4 * g, 4 * g + 4)));
        } else expect(row[0]).toBe(-1);
      }
    });
    images.dispose();
    targets.dispose();
  });

  it('rejects mixed sizes, too many objects and malformed samples in one line', () => {
    const one = sample([[0, 0, 1, 1]], [0]);
    expect(() => detectionBatch([])).toThrow("detectionBatch: argument 'samples' is empty");
    expect(() => detectionBatch([one, sample([], [], 4, 4)])).toThrow("argument 'samples[1]' is 4×4");
    expect(() =>
      detectionBatch(
        [
          sample(
            [
              [0, 0, 1, 1],
              [0, 0, 1, 1],
            ],
            [0, 1],
          ),
        ],
        { maxObjects: 1 },
      ),
    ).toThrow("argument 'maxObjects' is 1 but samples[0] has 2 objects");
    expect(() => detectionBatch([{ ...one, boxes: new Float32Array(3) }])).toThrow("argument 'samples[0].boxes' has 3 values");
    expect(() => detectionBatch([{ ...one, labels: Int32Array.from([-2]) }])).toThrow("argument 'samples[0].labels[0]' is -2");
    expect(() => detectionBatch([{ ...one, boxes: Float32Array.from([0.5, 0, 0.2, 1]) }])).toThrow("argument 'samples[0].boxes[0]'");
  });
});

describe('detectionLoader', () => {
  it('shuffles per epoch with the key, covers every sample once, pads to maxObjects and resumes by (epoch, batch)', async () => {
    const ds = syntheticDetectionDataset({ length: 10, size: 16 });
    const data = detectionLoader(ds, { batchSize: 4, shuffle: true, key: random.key(5), maxObjects: 4 });
    expect(data.numBatches).toBe(3);
    const seen: number[] = [];
    for await (const b of data.epoch(1)) {
      expect(b.images.shape).toEqual([b.indices.length, 3, 16, 16]);
      expect(b.targets.shape).toEqual([b.indices.length, 4, 5]);
      const t = await b.targets.data();
      const first = ds.get(b.indices[0]) as DetectionSample;
      expect(t[0]).toBe(first.labels[0]);
      seen.push(...b.indices);
      b.images.dispose();
      b.targets.dispose();
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(data.batchIndices(1, 0))).toEqual(seen.slice(0, 4));
    expect(Array.from(data.batchIndices(2, 0))).not.toEqual(seen.slice(0, 4));
    const again = await data.batch(1, 2);
    expect(Array.from(again.indices)).toEqual(seen.slice(8));
    again.images.dispose();
    again.targets.dispose();
    const dropped = detectionLoader(ds, { batchSize: 4, dropLast: true });
    expect(dropped.numBatches).toBe(2);
    expect(Array.from(dropped.batchIndices(0, 1))).toEqual([4, 5, 6, 7]);
    expect(() => detectionLoader(ds, { batchSize: 4, shuffle: true })).toThrow("detectionLoader: argument 'key'");
    expect(() => dropped.batchIndices(0, 2)).toThrow("argument 'batch' is 2");
  });
});
