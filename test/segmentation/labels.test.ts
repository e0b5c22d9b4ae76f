/**
 * The Cityscapes label table (counts and known rows, checked against the official table's values) and
 * its two maps: encodeTarget (label id → train id) and decodeTarget (train id → colour), on the host and on
 * the GPU, the GPU against the host table with fast-check, including ids outside the table.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { memory, tensor } from '../../src/node';
import {
  CITYSCAPES_CLASSES,
  CITYSCAPES_COLORS,
  CITYSCAPES_LABEL_IDS,
  CITYSCAPES_LABELS,
  IGNORE_INDEX,
  LABEL_TO_TRAIN_ID,
  decodeTarget,
  encodeTarget,
} from '../../src/segmentation';

describe('label table', () => {
  it('has the 34 label ids 0..33 and the license plate (−1), 19 train ids 0..18 each once, the rest 255', () => {
    expect(CITYSCAPES_LABELS).toHaveLength(35);
    expect(CITYSCAPES_LABELS.map((l) => l.id)).toEqual([...Array.from({ length: 34 }, (_, i) => i), -1]);
    const train = CITYSCAPES_LABELS.filter((l) => l.trainId >= 0 && l.trainId !== 255).map((l) => l.trainId);
    expect(train.sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, i) => i));
    expect(CITYSCAPES_LABELS.filter((l) => l.trainId === 255)).toHaveLength(15);
    // ignoreInEval exactly for the rows without a train class
    for (const l of CITYSCAPES_LABELS) expect(l.ignoreInEval).toBe(l.trainId === 255 || l.trainId < 0);
    expect(CITYSCAPES_LABELS.filter((l) => l.hasInstances).map((l) => l.name)).toEqual([
      'person',
      'rider',
      'car',
      'truck',
      'bus',
      'caravan',
      'trailer',
      'train',
      'motorcycle',
      'bicycle',
    ]);
  });

  it('holds the official rows (spot checks) and the 19 classes in train-id order', () => {
    const byName = Object.fromEntries(CITYSCAPES_LABELS.map((l) => [l.name, l]));
    expect(byName.road).toMatchObject({ id: 7, trainId: 0, category: 'flat', categoryId: 1, color: [128, 64, 128] });
    expect(byName.sidewalk).toMatchObject({ id: 8, trainId: 1, color: [244, 35, 232] });
    expect(byName.building).toMatchObject({ id: 11, trainId: 2, color: [70, 70, 70] });
    expect(byName['traffic light']).toMatchObject({ id: 19, trainId: 6, color: [250, 170, 30] });
    expect(byName.sky).toMatchObject({ id: 23, trainId: 10, category: 'sky', color: [70, 130, 180] });
    expect(byName.person).toMatchObject({ id: 24, trainId: 11, category: 'human', categoryId: 6, color: [220, 20, 60] });
    expect(byName.car).toMatchObject({ id: 26, trainId: 13, category: 'vehicle', categoryId: 7, color: [0, 0, 142] });
    expect(byName.caravan).toMatchObject({ id: 29, trainId: 255 });
    expect(byName.bicycle).toMatchObject({ id: 33, trainId: 18, color: [119, 11, 32] });
    expect(byName['license plate']).toMatchObject({ id: -1, trainId: -1, color: [0, 0, 142] });
    expect(byName.dynamic.color).toEqual([111, 74, 0]);
    expect(CITYSCAPES_CLASSES).toEqual([
      'road',
      'sidewalk',
      'building',
      'wall',
      'fence',
      'pole',
      'traffic light',
      'traffic sign',
      'vegetation',
      'terrain',
      'sky',
      'person',
      'rider',
      'car',
      'truck',
      'bus',
      'train',
      'motorcycle',
      'bicycle',
    ]);
    expect(CITYSCAPES_COLORS[13]).toEqual([0, 0, 142]);
    expect(CITYSCAPES_LABEL_IDS.car).toBe(26);
    expect(IGNORE_INDEX).toBe(255);
  });
});

describe('encodeTarget / decodeTarget on the host', () => {
  it('maps every byte: train classes to their train id, everything else to 255', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const enc = encodeTarget(all);
    for (let id = 0; id < 256; id++) {
      const row = CITYSCAPES_LABELS.find((l) => l.id === id);
      expect(enc[id]).toBe(row && row.trainId >= 0 ? row.trainId : 255);
    }
    expect(Array.from(LABEL_TO_TRAIN_ID)).toEqual(Array.from(enc));
  });

  it('round trip: a class name → label id → train id → the class name and its colour; 255 → black', () => {
    CITYSCAPES_CLASSES.forEach((name, t) => {
      const [trainId] = encodeTarget(Uint8Array.of(CITYSCAPES_LABEL_IDS[name]));
      expect(trainId).toBe(t);
      expect(Array.from(decodeTarget(Uint8Array.of(trainId)))).toEqual(CITYSCAPES_LABELS.find((l) => l.name === name)!.color);
    });
    expect(Array.from(decodeTarget(Uint8Array.of(255, 19, 200)))).toEqual(Array(9).fill(0));
    expect(Array.from(decodeTarget(Int32Array.of(-1, 1000, 2)))).toEqual([0, 0, 0, 0, 0, 0, 70, 70, 70]);
  });
});

describe('encodeTarget / decodeTarget on the GPU', () => {
  const hostTrainId = (v: number) => (v >= 0 && v < 256 ? LABEL_TO_TRAIN_ID[v] : 255);

  it('encodes int32 label ids of any shape as the table does, ids outside 0..255 to 255', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), fc.integer(), async (shape, seed) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const values = Int32Array.from({ length: n }, (_, i) => ((Math.imul(seed ^ i, 2654435761) >>> 0) % 320) - 20); // −20..299
        const x = tensor(values, { shape, dtype: 'int32' });
        const y = encodeTarget(x);
        expect(y.shape).toEqual(shape);
        expect(y.dtype).toBe('int32');
        expect(Array.from(await y.data())).toEqual(Array.from(values, hostTrainId));
        x.dispose();
        y.dispose();
      }),
      { numRuns: 25 },
    );
  });

  it('decodes (B, H, W) and (H, W) train ids to (B, 3, H, W) / (3, H, W) colours in [0, 1], black outside 0..18', async () => {
    const B = 2,
      H = 3,
      W = 5;
    const ids = Int32Array.from({ length: B * H * W }, (_, i) => [0, 13, 255, 18, -1, 19, 10, 300][i % 8]);
    const host = decodeTarget(ids); // interleaved RGB bytes
    const check = async (shape: number[]) => {
      const x = tensor(
        ids.subarray(
          0,
          shape.reduce((a, b) => a * b, 1),
        ),
        { shape, dtype: 'int32' },
      );
      const y = decodeTarget(x);
      const planes = shape.length === 3 ? B : 1;
      expect(y.shape).toEqual(shape.length === 3 ? [B, 3, H, W] : [3, H, W]);
      const got = await y.data();
      for (let b = 0; b < planes; b++)
        for (let c = 0; c < 3; c++) for (let p = 0; p < H * W; p++) expect(got[(b * 3 + c) * H * W + p]).toBeCloseTo(host[3 * (b * H * W + p) + c] / 255, 6);
      x.dispose();
      y.dispose();
    };
    await check([B, H, W]);
    await check([H, W]);
  });

  it('frees its lookup tables (only the result stays alive)', () => {
    const x = tensor(Int32Array.of(7, 8, 26, 0), { shape: [1, 2, 2], dtype: 'int32' });
    const before = memory().liveTensors;
    const y = encodeTarget(x);
    const z = decodeTarget(y);
    expect(memory().liveTensors - before).toBe(2);
    for (const t of [x, y, z]) t.dispose();
  });

  it('refuses other inputs in one line naming the argument', () => {
    const f = tensor([1, 2], { shape: [2] });
    expect(() => encodeTarget(f)).toThrow(/encodeTarget.*'labelIds'.*float32.*int32/);
    expect(() => encodeTarget([1, 2] as unknown as Uint8Array)).toThrow(/encodeTarget.*'labelIds'/);
    const i1 = tensor(Int32Array.of(1, 2), { shape: [2], dtype: 'int32' });
    expect(() => decodeTarget(i1)).toThrow(/decodeTarget.*'trainIds'.*\[2\].*\(B, H, W\)/);
    f.dispose();
    i1.dispose();
  });
});
