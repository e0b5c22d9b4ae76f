/** SamAutomaticMaskGenerator on a stand-in model whose masks are discs around each grid point (test/sam/fake-model.ts). */
import { describe, expect, it } from 'vitest';
import { memory } from '../../src/node';
import { SamAutomaticMaskGenerator } from '../../src/sam/amg';
import { maskToBox, rleToMask, type Rle } from '../../src/sam/amg-utils';
import { SamPredictor } from '../../src/sam/predictor';
import { fakeSam } from './fake-model';

const W = 90;
const H = 60;
const image = { width: W, height: H, data: Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 13) % 256) };
const iou = (a: number[], b: number[]) => {
  // XYWH boxes, inclusive max as the generator measures them
  const [ax2, ay2, bx2, by2] = [a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]];
  const iw = Math.max(0, Math.min(ax2, bx2) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(ay2, by2) - Math.max(a[1], b[1]));
  return (iw * ih) / (a[2] * a[3] + b[2] * b[3] - iw * ih);
};

describe('SamAutomaticMaskGenerator (stand-in model)', () => {
  it('official defaults: the IoU filter drops the small disc (0.5), the stability filter nothing else; records are consistent', async () => {
    const { model, params, state } = fakeSam();
    const predictor = new SamPredictor(model, params, state);
    const before = memory().liveTensors;
    const amg = new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 2 });
    expect(amg.options.pointsPerBatch).toBe(64);
    expect(amg.options.predIouThresh).toBe(0.88);
    expect(amg.options.stabilityScoreThresh).toBe(0.95);
    const recs = await amg.generate(image);
    expect(memory().liveTensors).toBe(before);
    expect(recs.length).toBe(8); // 4 points × discs of radius 12 and 24
    expect(recs.map((r) => r.predictedIou)).toEqual([...Array(4).fill(Math.fround(0.95)), ...Array(4).fill(Math.fround(0.9))]);
    const grid = [
      [22.5, 15],
      [67.5, 15],
      [22.5, 45],
      [67.5, 45],
    ];
    for (const r of recs) {
      const seg = r.segmentation as Uint8Array;
      expect(seg.length).toBe(W * H);
      expect(r.area).toBe(seg.reduce((a, b) => a + b, 0));
      const b = maskToBox(seg, H, W);
      expect(r.bbox).toEqual([b[0], b[1], b[2] - b[0], b[3] - b[1]]);
      expect(r.stabilityScore).toBeGreaterThanOrEqual(0.95);
      expect(r.cropBox).toEqual([0, 0, W, H]);
      expect(grid).toContainEqual(r.pointCoords[0]);
      // the point lies inside its own disc
      const [x, y] = r.pointCoords[0];
      expect(seg[Math.floor(y) * W + Math.floor(x)]).toBe(1);
    }
    // without the IoU filter the stability filter drops the radius-6 discs (stability ≈ 0.93 < 0.95), and only those
    const noIou = await new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 2, predIouThresh: 0 }).generate(image);
    expect(noIou.length).toBe(8);
    const neither = await new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 2, predIouThresh: 0, stabilityScoreThresh: 0 }).generate(image);
    expect(neither.length).toBe(12);
    const small = neither.filter((r) => r.predictedIou === Math.fround(0.5));
    for (const r of small) expect(r.stabilityScore).toBeLessThan(0.95);
    predictor.dispose();
  });

  it('box NMS removes overlapping duplicates (threshold 0.1: kept boxes overlap at most that much)', async () => {
    const { model, params, state } = fakeSam();
    const predictor = new SamPredictor(model, params, state);
    const all = await new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 3, predIouThresh: 0, stabilityScoreThresh: 0, boxNmsThresh: 1 }).generate(
      image,
    );
    expect(all.length).toBe(27);
    const kept = await new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 3, predIouThresh: 0, stabilityScoreThresh: 0, boxNmsThresh: 0.1 }).generate(
      image,
    );
    expect(kept.length).toBeLessThan(all.length);
    expect(kept.length).toBeGreaterThan(0);
    for (let i = 0; i < kept.length; i++) for (let j = i + 1; j < kept.length; j++) expect(iou(kept[i].bbox, kept[j].bbox)).toBeLessThanOrEqual(0.1 + 0.02);
    // highest score first
    for (let i = 1; i < kept.length; i++) expect(kept[i].predictedIou).toBeLessThanOrEqual(kept[i - 1].predictedIou);
    predictor.dispose();
  });

  it('crop layers: masks carry their crop; none touches an inner crop edge; RLE output decodes to the same masks; small regions', async () => {
    const { model, params, state } = fakeSam();
    const predictor = new SamPredictor(model, params, state);
    const opts = { pointsPerSide: 2, cropNLayers: 1, predIouThresh: 0, stabilityScoreThresh: 0 } as const;
    const recs = await new SamAutomaticMaskGenerator(predictor, opts).generate(image);
    const crops = new Set(recs.map((r) => r.cropBox.join(',')));
    expect(crops.size).toBeGreaterThan(1);
    for (const r of recs) {
      const [cx, cy, cw, ch] = r.cropBox;
      const [x, y, w, h] = r.bbox;
      const edges = [
        [x, cx, 0],
        [y, cy, 0],
        [x + w, cx + cw, W],
        [y + h, cy + ch, H],
      ];
      for (const [v, crop, img] of edges) if (Math.abs(v - crop) <= 20) expect(Math.abs(v - img)).toBeLessThanOrEqual(20);
    }
    const rle = await new SamAutomaticMaskGenerator(predictor, { ...opts, outputMode: 'uncompressed_rle' }).generate(image);
    expect(rle.length).toBe(recs.length);
    for (let i = 0; i < recs.length; i++) expect(rleToMask(rle[i].segmentation as Rle)).toEqual(recs[i].segmentation);
    // discs have no holes or islands: the small-region pass changes nothing
    const small = await new SamAutomaticMaskGenerator(predictor, { ...opts, minMaskRegionArea: 30 }).generate(image);
    expect(small.map((r) => r.bbox)).toEqual(recs.map((r) => r.bbox));
    predictor.dispose();
  });

  it('bad options are one line', () => {
    const { model, params, state } = fakeSam();
    const predictor = new SamPredictor(model, params, state);
    expect(() => new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 0 })).toThrow(
      /SamAutomaticMaskGenerator: argument 'pointsPerSide' is 0; expected an integer ≥ 1/,
    );
    expect(() => new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 4, pointGrids: [new Float64Array(2)] })).toThrow(
      /exactly one of pointsPerSide and pointGrids/,
    );
    expect(() => new SamAutomaticMaskGenerator(predictor, { outputMode: 'coco_rle' as never })).toThrow(/argument 'outputMode'/);
    expect(() => new SamAutomaticMaskGenerator(predictor, { pointsPerSide: 2, cropNLayers: 1, pointGrids: undefined, bogus: 1 } as never)).toThrow(
      /unknown key 'bogus'/,
    );
  });
});
