/** ResizeLongestSide: sizes, prompts and the image resize against the official outputs (PIL) in tiny.pth. */
import { describe, expect, it } from 'vitest';
import { applyBoxes, applyBoxesTensor, applyCoords, applyCoordsTensor, getPreprocessShape, resizeImageU8, resizeLongestSide } from '../../src/sam/transforms';
import { tensor } from '../../src/node';
import { readImage } from '../../src/io/images';
import { tinyFixture, values } from './tiny-fixture';

describe('ResizeLongestSide', () => {
  it('getPreprocessShape rounds each scaled side half up (get_preprocess_shape)', () => {
    expect(getPreprocessShape(90, 135, 64)).toEqual([43, 64]); // 42.67 → 43
    expect(getPreprocessShape(300, 451, 1024)).toEqual([681, 1024]);
    expect(getPreprocessShape(1024, 683, 1024)).toEqual([1024, 683]);
    expect(getPreprocessShape(2, 1, 3)).toEqual([3, 2]); // 1.5 → 2
    expect(() => getPreprocessShape(0, 5, 64)).toThrow(/getPreprocessShape: argument 'oldH' is 0/);
  });

  it('applyCoords / applyBoxes scale x by newW/oldW and y by newH/oldH', () => {
    const c = applyCoords([30, 40, 100, 60], [90, 135], 64);
    expect(Array.from(c)).toEqual([30 * (64 / 135), 40 * (43 / 90), 100 * (64 / 135), 60 * (43 / 90)]);
    expect(Array.from(applyBoxes([10, 10, 120, 80], [90, 135], 64))).toEqual([10 * (64 / 135), 10 * (43 / 90), 120 * (64 / 135), 80 * (43 / 90)]);
    expect(() => applyBoxes([1, 2, 3], [90, 135], 64)).toThrow(/applyBoxes: argument 'boxes' has 3 numbers/);
    expect(() => applyCoords([1, 2], [90, 0] as never, 64)).toThrow(/applyCoords: argument 'originalSize'/);
  });

  it('the tensor forms scale in float32 on the device (apply_coords_torch, apply_boxes_torch)', async () => {
    const c = tensor([[[30, 40]], [[100, 60]]]);
    const b = tensor([[10, 10, 120, 80]]);
    const tc = applyCoordsTensor(c, [90, 135], 64);
    const tb = applyBoxesTensor(b, [90, 135], 64);
    expect(tc.shape).toEqual([2, 1, 2]);
    const f = Math.fround;
    const sx = f(64 / 135);
    const sy = f(43 / 90);
    expect(Array.from(await tc.data())).toEqual([f(30 * sx), f(40 * sy), f(100 * sx), f(60 * sy)]);
    expect(Array.from(await tb.data())).toEqual([f(10 * sx), f(10 * sy), f(120 * sx), f(80 * sy)]);
    expect(() => applyBoxesTensor(c, [90, 135], 64)).toThrow(/applyBoxesTensor: argument 'boxes' has shape \[2, 1, 2\]/);
    for (const t of [c, b, tc, tb]) t.dispose();
  });

  it("the image resize equals PIL's output in the official fixture byte for byte (135×90 → 64×43, antialiased)", async () => {
    const { cases } = await tinyFixture();
    const image = { width: 135, height: 90, data: new Uint8Array(values(cases['pred.image'])) };
    const r = resizeLongestSide(image, 64);
    expect([r.width, r.height]).toEqual([64, 43]);
    const ref = values(cases['pred.input_image']);
    let differ = 0;
    for (let i = 0; i < ref.length; i++) if (r.data[i] !== ref[i]) differ++;
    expect(differ).toBe(0);
  });

  it('RGBA input drops alpha; a constant image stays constant; bad input is one line', () => {
    const img = readImage('test/fixtures/chelsea.png');
    const r = resizeLongestSide(img, 1024);
    expect([r.width, r.height]).toEqual([1024, 681]);
    // an RGB copy gives the same bytes
    const rgb = new Uint8Array(img.width * img.height * 3);
    for (let i = 0; i < img.width * img.height; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = img.data[4 * i + c];
    const again = resizeImageU8({ width: img.width, height: img.height, data: rgb }, 1024, 681);
    expect(again.length).toBe(r.data.length);
    expect(again.every((v, i) => v === r.data[i])).toBe(true);
    // a constant image stays constant (weights normalised), up- and down-sampling, both filters
    const flat = { width: 7, height: 5, data: new Uint8Array(7 * 5 * 3).fill(77) };
    for (const f of ['bilinear', 'bicubic'] as const)
      for (const [w, h] of [
        [20, 13],
        [3, 2],
      ])
        expect(resizeImageU8(flat, w, h, f).every((v) => v === 77)).toBe(true);
    expect(() => resizeImageU8({ width: 2, height: 2, data: new Uint8Array(5) }, 4, 4)).toThrow(/resizeImageU8: argument 'image.data' has 5 bytes for 2×2/);
  });
});
