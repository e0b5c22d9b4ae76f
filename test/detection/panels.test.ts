/** Detection panels: boxes where the coordinates say, in the right colours, labels drawn, a PNG written; bad items refused. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { detectionPanelPixels, writeDetectionPanels, DETECTION_COLOURS, type DetectionPanelItem } from '../../src/detection/node/panels';

const grey = (h: number, w: number) => new Float32Array(3 * h * w).fill(0.5);
const item = (over: Partial<DetectionPanelItem> = {}): DetectionPanelItem => ({
  image: grey(40, 40),
  height: 40,
  width: 40,
  detections: { boxes: Float32Array.of(0.25, 0.5, 0.75, 1), scores: Float32Array.of(0.9), labels: Int32Array.of(1) },
  groundTruth: { boxes: Float32Array.of(0.1, 0.1, 0.5, 0.5), labels: Int32Array.of(0) },
  ...over,
});
const at = (p: { pixels: Uint8Array; width: number }, x: number, y: number) => [...p.pixels.subarray((y * p.width + x) * 3, (y * p.width + x) * 3 + 3)];

describe('detection panels', () => {
  it('draws ground truth in white and predictions in their class colour with a label, at scale 2 in a grid', () => {
    const p = detectionPanelPixels([item(), item({ detections: { boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) } })], {
      classNames: ['a', 'b'],
      scale: 2,
    });
    // two cells of 80 pixels, gaps of 4 around and between
    expect(p.width).toBe(4 + 80 + 4 + 80 + 4);
    expect(p.height).toBe(4 + 80 + 4);
    const ox = 4,
      oy = 4;
    // image pixels away from every box are the image's grey
    expect(at(p, ox + 75, oy + 5)).toEqual([128, 128, 128]);
    // ground truth: corners (0.1, 0.1) → pixel 8, outline 1 pixel thick
    expect(at(p, ox + 8, oy + 20)).toEqual([255, 255, 255]);
    expect(at(p, ox + 9, oy + 20)).toEqual([128, 128, 128]);
    // prediction of class 1: left edge at x = 0.25 · 80 = 20, 2 pixels thick, bottom at the cell's edge
    expect(at(p, ox + 20, oy + 60)).toEqual([...DETECTION_COLOURS[1]]);
    expect(at(p, ox + 21, oy + 60)).toEqual([...DETECTION_COLOURS[1]]);
    expect(at(p, ox + 22, oy + 60)).toEqual([128, 128, 128]);
    // its label 'b 0.90' sits on a filled band above the box (y from 40 − 9 to 40), black text on the class colour
    const band = Array.from({ length: 9 * 30 }, (_, k) => at(p, ox + 20 + (k % 30), oy + 31 + Math.floor(k / 30)));
    expect(band.some((c) => c.join() === '0,0,0')).toBe(true);
    expect(band.some((c) => c.join() === DETECTION_COLOURS[1].join())).toBe(true);
    // the second cell has the ground truth only
    expect(at(p, ox + 84 + 8, oy + 20)).toEqual([255, 255, 255]);
    expect(at(p, ox + 84 + 20, oy + 60)).toEqual([128, 128, 128]);
  });

  it('leaves out detections below the score threshold; writes a PNG of the panel', async () => {
    const low = item({ detections: { boxes: Float32Array.of(0.25, 0.5, 0.75, 1), scores: Float32Array.of(0.2), labels: Int32Array.of(1) } });
    const p = detectionPanelPixels([low], { scale: 1 });
    expect(at(p, 4 + 10, 4 + 30)).toEqual([128, 128, 128]);
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-panels-'));
    try {
      const path = join(dir, 'panel.png');
      await writeDetectionPanels(path, [item(), item(), item()], { columns: 2 });
      const png = PNG.sync.read(readFileSync(path));
      expect([png.width, png.height]).toEqual([4 + 2 * (80 + 4), 4 + 2 * (80 + 4)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad items and options in one line', () => {
    expect(() => detectionPanelPixels([])).toThrow(/^detectionPanelPixels: argument 'items' is empty/);
    expect(() => detectionPanelPixels([item({ image: grey(10, 10) })])).toThrow(/^detectionPanelPixels: argument 'items\[0\]' is not an image/);
    expect(() =>
      detectionPanelPixels([item({ detections: { boxes: Float32Array.of(0, 0, 1), scores: Float32Array.of(1), labels: Int32Array.of(0) } })]),
    ).toThrow(/^detectionPanelPixels: argument 'items\[0\]\.detections' has 3 box numbers, 1 scores, 1 labels/);
    expect(() => detectionPanelPixels([item()], { scale: 0 })).toThrow(/^detectionPanelPixels: argument 'scale' is 0/);
  });
});
