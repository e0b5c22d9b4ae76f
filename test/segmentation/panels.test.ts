/** Segmentation panels: image | prediction | ground truth | overlay per row, Cityscapes colours, ignore black, a PNG written; bad items refused. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { segmentationPanelPixels, writeSegmentationPanels, type SegmentationPanelItem } from '../../src/segmentation/node/panels';
import { CITYSCAPES_COLORS } from '../../src/segmentation/cityscapes-labels';

/** A 2×3 image: red channel 0.2, green 0.4, blue 1 everywhere. */
const item = (over: Partial<SegmentationPanelItem> = {}): SegmentationPanelItem => ({
  image: Float32Array.from({ length: 18 }, (_, k) => [0.2, 0.4, 1][Math.floor(k / 6)]),
  height: 2,
  width: 3,
  prediction: Int32Array.of(0, 1, 2, 13, 13, 18),
  target: Uint8Array.of(0, 1, 255, 13, 10, 18),
  ...over,
});
const at = (p: { pixels: Uint8Array; width: number }, x: number, y: number) => [...p.pixels.subarray((y * p.width + x) * 3, (y * p.width + x) * 3 + 3)];

describe('segmentation panels', () => {
  it('lays out image | prediction | ground truth | overlay, one row per item, with 4-pixel gaps', () => {
    const p = segmentationPanelPixels([item(), item({ height: 1, image: new Float32Array(9), prediction: Int32Array.of(2, 2, 2), target: undefined })]);
    expect(p.width).toBe(4 * 3 + 5 * 4);
    expect(p.height).toBe(4 + 2 + 4 + 1 + 4);
    const cell = (c: number) => 4 + c * (3 + 4);
    // the image: bytes of the [0, 1] floats
    expect(at(p, cell(0), 4)).toEqual([51, 102, 255]);
    // the prediction in the train ids' colours: road (0), sidewalk (1), building (2); car (13), bicycle (18)
    expect(at(p, cell(1), 4)).toEqual([...CITYSCAPES_COLORS[0]]);
    expect(at(p, cell(1) + 1, 4)).toEqual([...CITYSCAPES_COLORS[1]]);
    expect(at(p, cell(1) + 2, 5)).toEqual([...CITYSCAPES_COLORS[18]]);
    // the ground truth: 255 (ignored) is black
    expect(at(p, cell(2) + 2, 4)).toEqual([0, 0, 0]);
    expect(at(p, cell(2) + 1, 5)).toEqual([...CITYSCAPES_COLORS[10]]);
    // the overlay: half image, half prediction colour
    const car = CITYSCAPES_COLORS[13];
    expect(at(p, cell(3), 5)).toEqual([51, 102, 255].map((v, c) => Math.round(0.5 * v + 0.5 * car[c])));
    // the gaps stay the background grey
    expect(at(p, cell(1) - 1, 4)).toEqual([32, 32, 32]);
    // second row (1 pixel high, no ground truth: its cell stays background)
    expect(at(p, cell(1), 4 + 2 + 4)).toEqual([...CITYSCAPES_COLORS[2]]);
    expect(at(p, cell(2), 4 + 2 + 4)).toEqual([32, 32, 32]);
    expect(at(p, cell(0), 4 + 2 + 4)).toEqual([0, 0, 0]);
  });

  it('magnifies by scale (nearest) and blends the overlay by alpha', () => {
    const p = segmentationPanelPixels([item()], { scale: 2, alpha: 1 });
    expect(p.width).toBe(4 * 6 + 5 * 4);
    const cell3 = 4 + 3 * (6 + 4);
    // alpha 1: the overlay is the prediction; pixel (2, 1) of the image covers (4..5, 2..3)
    expect(at(p, cell3 + 5, 4 + 3)).toEqual([...CITYSCAPES_COLORS[18]]);
    expect(at(p, cell3 + 4, 4 + 2)).toEqual([...CITYSCAPES_COLORS[18]]);
    expect(at(p, cell3 + 3, 4 + 2)).toEqual([...CITYSCAPES_COLORS[13]]);
  });

  it('writes a PNG of those pixels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-segpanel-'));
    try {
      const path = join(dir, 'p.png');
      await writeSegmentationPanels(path, [item()]);
      const png = PNG.sync.read(readFileSync(path));
      const p = segmentationPanelPixels([item()]);
      expect([png.width, png.height]).toEqual([p.width, p.height]);
      expect([...png.data.subarray(0, 4)]).toEqual([32, 32, 32, 255]);
      const o = ((4 * p.width + 4 + 7) * 4) | 0;
      expect([...png.data.subarray(o, o + 3)]).toEqual([...CITYSCAPES_COLORS[0]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad items and options with one line naming the argument', () => {
    expect(() => segmentationPanelPixels([])).toThrow(/segmentationPanelPixels: argument 'items' is empty; expected a non-empty array/);
    expect(() => segmentationPanelPixels([item({ image: new Float32Array(5) })])).toThrow(
      /segmentationPanelPixels: argument 'items\[0\]\.image' is a Float32Array of 5 values; expected a Float32Array of 3·2·3 = 18 values/,
    );
    expect(() => segmentationPanelPixels([item({ prediction: new Float32Array(6) as never })])).toThrow(
      /argument 'items\[0\]\.prediction' is a Float32Array of 6 values/,
    );
    expect(() => segmentationPanelPixels([item({ target: new Uint8Array(2) })])).toThrow(/argument 'items\[0\]\.target' is a Uint8Array of 2 values/);
    expect(() => segmentationPanelPixels([item()], { alpha: 2 })).toThrow(/argument 'alpha' is 2; expected a number in \[0, 1\]/);
    expect(() => segmentationPanelPixels([item()], { scale: 0 })).toThrow(/argument 'scale' is 0; expected an integer in \[1, 16\]/);
  });
});
