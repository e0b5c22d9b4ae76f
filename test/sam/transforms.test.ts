/** ResizeLongestSide: sizes, prompts and the image resize against the official outputs (PIL) in tiny.pth. */
import { describe, expect, it } from 'vitest';
import {
  applyBoxes,
  applyBoxesTensor,
  applyCoords,
  applyCoordsTensor,
  getPreprocessShape,
  resizeImageU8,
  resizeLongestSide,
  resizeLongestSideTensor,
} from '../../src/sam/transforms';
import { interpolate, tensor } from '../../src/node';
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

  it('the tensor resize (apply_image_torch): a float64 host reference when shrinking, plain bilinear when enlarging, PIL within a byte', async () => {
    const { cases } = await tinyFixture();
    const hwc = values(cases['pred.image']);
    const [H, W] = [90, 135];
    const chw = new Float32Array(3 * H * W);
    for (let i = 0; i < H * W; i++) for (let c = 0; c < 3; c++) chw[c * H * W + i] = hwc[3 * i + c];
    const x = tensor(chw, { shape: [1, 3, H, W] });
    const y = resizeLongestSideTensor(x, 64);
    expect(y.shape).toEqual([1, 3, 43, 64]);
    const got = await y.data();
    // reference: PyTorch's antialiased bilinear taps written out directly (triangle of half-width max(scale, 1))
    const taps = (inS: number, outS: number, o: number) => {
      const scale = inS / outS;
      const sup = Math.max(scale, 1);
      const c = (o + 0.5) * scale;
      const ws: [number, number][] = [];
      for (let i = 0; i < inS; i++) {
        const d = Math.abs(i + 0.5 - c) / sup;
        if (d < 1 && i >= Math.trunc(c - sup + 0.5) && i < Math.trunc(c + sup + 0.5)) ws.push([i, 1 - d]);
      }
      const tot = ws.reduce((a, [, v]) => a + v, 0);
      return ws.map(([i, v]) => [i, v / tot] as const);
    };
    let worst = 0;
    let worstPil = 0;
    const pil = values(cases['pred.input_image']);
    for (let c = 0; c < 3; c++)
      for (let oy = 0; oy < 43; oy++)
        for (let ox = 0; ox < 64; ox++) {
          let v = 0;
          for (const [iy, wy] of taps(H, 43, oy)) for (const [ix, wx] of taps(W, 64, ox)) v += wy * wx * hwc[3 * (iy * W + ix) + c];
          const g = got[c * 43 * 64 + oy * 64 + ox];
          worst = Math.max(worst, Math.abs(g - v));
          worstPil = Math.max(worstPil, Math.abs(g - pil[3 * (oy * 64 + ox) + c]));
        }
    expect(worst).toBeLessThan(1e-3);
    expect(worstPil).toBeLessThanOrEqual(1.5); // PIL rounds to bytes after each pass
    // enlarging: the same as interpolate(bilinear, alignCorners false)
    const small = tensor(
      Float32Array.from({ length: 3 * 5 * 7 }, (_, i) => (i * 37) % 255),
      { shape: [1, 3, 5, 7] },
    );
    const up = resizeLongestSideTensor(small, 16);
    const ref = interpolate(small, { size: getPreprocessShape(5, 7, 16), mode: 'bilinear', alignCorners: false });
    expect(up.shape).toEqual(ref.shape);
    const [a, b] = [await up.data(), await ref.data()];
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-3);
    for (const t of [x, y, small, up, ref]) t.dispose();
  });
});
