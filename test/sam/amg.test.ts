/** The automatic mask generator's utilities against the official outputs in tiny.pth, and their own properties. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { tensor } from '../../src/node';
import {
  areaFromRle,
  batchRanges,
  boxXyxyToXywh,
  buildAllLayerPointGrids,
  calculateStabilityScore,
  connectedComponents,
  generateCropBoxes,
  isBoxNearCropEdge,
  maskToBox,
  maskToRle,
  removeSmallRegions,
  rleToMask,
  stabilityScoreHost,
  uncropMask,
} from '../../src/sam/amg-utils';
import { tinyFixture, values } from './tiny-fixture';

describe('AMG utilities vs the official implementation', () => {
  it('point grids of every crop layer (build_all_layer_point_grids(4, 2, 2))', async () => {
    const { cases } = await tinyFixture();
    const grids = buildAllLayerPointGrids(4, 2, 2);
    expect(grids.map((g) => g.length / 2)).toEqual([16, 4, 1]);
    for (let i = 0; i < 3; i++) expect(Array.from(grids[i])).toEqual(values(cases[`amg.grid${i}`]));
  });

  it('crop boxes and their layers (generate_crop_boxes((90, 135), 2, 512/1500))', async () => {
    const { cases } = await tinyFixture();
    const { boxes, layers } = generateCropBoxes([90, 135], 2, 512 / 1500);
    expect(boxes.flat()).toEqual(values(cases['amg.crop_boxes']));
    expect(layers).toEqual(values(cases['amg.crop_layers']));
  });

  it('stability scores on the device and on the host; boxes of the thresholded masks (inclusive max; empty → 0s)', async () => {
    const { cases } = await tinyFixture();
    const logits = cases['amg.logits'];
    const want = values(cases['amg.stability']);
    const t = tensor(logits.data as Float32Array, { shape: [...logits.shape] });
    const s = calculateStabilityScore(t, 0, 1);
    expect(s.shape).toEqual([4]);
    const got = Array.from(await s.data());
    for (let i = 0; i < 4; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
    s.dispose();
    t.dispose();
    const L = 32 * 32;
    const boxes = values(cases['amg.boxes']);
    for (let i = 0; i < 4; i++) {
      const m = (logits.data as Float32Array).subarray(i * L, (i + 1) * L);
      expect(Math.abs(stabilityScoreHost(m, 0, 1) - want[i])).toBeLessThan(1e-6);
      expect(
        maskToBox(
          Uint8Array.from(m, (v) => (v > 0 ? 1 : 0)),
          32,
          32,
        ),
      ).toEqual(boxes.slice(4 * i, 4 * i + 4));
    }
    expect(maskToBox(new Uint8Array(12), 3, 4)).toEqual(values(cases['amg.empty_box']));
  });

  it('small holes and islands (remove_small_regions, area 6, OpenCV 8-connectivity)', async () => {
    const { cases } = await tinyFixture();
    const input = Uint8Array.from(values(cases['amg.regions.input']));
    for (const mode of ['holes', 'islands'] as const) {
      const want = values(cases[`amg.regions.${mode}`]);
      const { mask, changed } = removeSmallRegions(input, 40, 50, 6, mode);
      expect(Array.from(mask)).toEqual(want);
      expect(changed).toBe(want.some((v, i) => v !== input[i]));
    }
  });
});

describe('AMG utilities: properties', () => {
  const maskArb = fc
    .record({ h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }) })
    .chain(({ h, w }) => fc.record({ h: fc.constant(h), w: fc.constant(w), m: fc.uint8Array({ min: 0, max: 1, minLength: h * w, maxLength: h * w }) }));

  it('RLE round-trips, is column-major, starts with zeros and counts the area', () => {
    fc.assert(
      fc.property(maskArb, ({ h, w, m }) => {
        const rle = maskToRle(m, h, w);
        expect(rleToMask(rle)).toEqual(m);
        expect(areaFromRle(rle)).toBe(m.reduce((a, b) => a + b, 0));
        expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(h * w);
      }),
    );
    // column-major: [[1, 0], [1, 0]] is one run of two 1s, then two 0s
    expect(maskToRle(Uint8Array.from([1, 0, 1, 0]), 2, 2).counts).toEqual([0, 2, 2]);
  });

  it('connected components: 8-connected, labelled in raster order, areas add up; a flood-fill check', () => {
    fc.assert(
      fc.property(maskArb, ({ h, w, m }) => {
        const { labels, count, areas } = connectedComponents(m, h, w);
        expect(areas.reduce((a, b) => a + b, 0)).toBe(h * w);
        // first pixels of labels 1, 2, … appear in increasing raster order
        const first: number[] = [];
        labels.forEach((l, i) => {
          if (l && first[l] === undefined) first[l] = i;
        });
        for (let l = 2; l < count; l++) expect(first[l]).toBeGreaterThan(first[l - 1]);
        // a flood fill from each label's first pixel reaches exactly that label
        for (let l = 1; l < count; l++) {
          const seen = new Uint8Array(h * w);
          const stack = [first[l]];
          seen[first[l]] = 1;
          let n = 0;
          while (stack.length) {
            const i = stack.pop()!;
            n++;
            expect(labels[i]).toBe(l);
            const y = Math.floor(i / w);
            const x = i % w;
            for (let dy = -1; dy <= 1; dy++)
              for (let dx = -1; dx <= 1; dx++) {
                const yy = y + dy;
                const xx = x + dx;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                const j = yy * w + xx;
                if (m[j] && !seen[j]) {
                  seen[j] = 1;
                  stack.push(j);
                }
              }
          }
          expect(n).toBe(areas[l]);
        }
      }),
    );
  });

  it('islands: all small → the largest is kept; nothing small → unchanged (same array)', () => {
    // two islands of 1 and 2 pixels, diagonal pixels are connected
    const m = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
    expect(connectedComponents(m, 3, 4).areas).toEqual([9, 1, 2]);
    expect(Array.from(removeSmallRegions(m, 3, 4, 5, 'islands').mask)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
    const r = removeSmallRegions(m, 3, 4, 1, 'islands');
    expect(r.changed).toBe(false);
    expect(r.mask).toBe(m);
    expect(() => removeSmallRegions(m, 3, 4, 1, 'both' as never)).toThrow(/removeSmallRegions: argument 'mode'/);
  });

  it('crop-edge filter, uncropping, XYWH, batches', () => {
    const crop = [0, 0, 83, 60];
    const orig = [0, 0, 135, 90];
    expect(isBoxNearCropEdge([10, 10, 50, 30], crop, orig)).toBe(false);
    expect(isBoxNearCropEdge([10, 10, 50, 45], crop, orig)).toBe(true); // 45 is within 20 of the crop's bottom (60), not of the image's (90)
    expect(isBoxNearCropEdge([0, 0, 30, 30], crop, orig)).toBe(false); // at the image's own edge
    expect(boxXyxyToXywh([3, 4, 10, 20])).toEqual([3, 4, 7, 16]);
    const m = uncropMask(Uint8Array.from([1, 2, 3, 4]), [1, 2, 3, 4], 5, 4);
    expect(Array.from(m)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
    expect(batchRanges(10, 4)).toEqual([
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
  });
});
