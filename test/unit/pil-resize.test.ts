/**
 * resizeBilinearPIL against outputs of Pillow 12.3's `Image.fromarray(src).resize((outW, outH), Image.BILINEAR)`
 * on random 8-bit inputs (generated once with numpy's default_rng(1); the values below are those outputs):
 * shrinking (support widened), enlarging, mixed, and down to one pixel. Exact equality: the official masks
 * were resized this way and stored as 8 bits.
 */
import { describe, expect, it } from 'vitest';
import { resizeBilinearPIL } from '../../src/sod/pil-resize';

const CASES = [
  {
    w: 7,
    h: 5,
    outW: 3,
    outH: 11,
    src: [
      255, 228, 34, 121, 243, 189, 6, 131, 102, 168, 82, 193, 187, 150, 81, 243, 205, 24, 236, 8, 246, 164, 231, 36, 210, 111, 172, 210, 174, 176, 218, 242,
      169, 114, 205,
    ],
    pil: [
      196, 140, 135, 183, 139, 142, 151, 137, 160, 131, 135, 172, 154, 132, 157, 177, 128, 142, 172, 136, 156, 166, 143, 170, 172, 168, 168, 181, 197, 161, 184,
      208, 158,
    ],
  },
  {
    w: 13,
    h: 9,
    outW: 5,
    outH: 9,
    src: [
      160, 47, 212, 79, 72, 112, 120, 222, 69, 31, 95, 108, 36, 109, 238, 69, 51, 81, 228, 211, 202, 58, 202, 65, 76, 70, 193, 104, 42, 250, 209, 164, 2, 44,
      178, 140, 98, 2, 243, 21, 50, 29, 14, 7, 53, 50, 151, 221, 46, 60, 230, 192, 164, 156, 127, 214, 154, 194, 195, 137, 72, 153, 74, 209, 58, 76, 105, 84,
      10, 213, 226, 115, 168, 118, 214, 201, 69, 25, 185, 31, 36, 45, 158, 77, 46, 12, 218, 31, 12, 112, 24, 116, 11, 130, 22, 250, 129, 142, 80, 34, 93, 181,
      32, 98, 165, 105, 50, 103, 85, 37, 100, 231, 132, 164, 21, 52, 236,
    ],
    pil: [
      122, 105, 133, 85, 78, 147, 96, 189, 130, 80, 126, 182, 81, 125, 106, 34, 22, 85, 123, 167, 155, 175, 167, 113, 128, 85, 121, 161, 171, 96, 79, 82, 70,
      84, 57, 71, 127, 125, 87, 91, 110, 78, 117, 135, 107,
    ],
  },
  {
    w: 5,
    h: 4,
    outW: 17,
    outH: 3,
    src: [146, 247, 38, 67, 243, 22, 19, 5, 49, 230, 23, 192, 69, 151, 224, 15, 77, 222, 200, 71],
    pil: [
      109, 109, 125, 145, 166, 161, 117, 72, 28, 38, 48, 58, 93, 145, 198, 239, 239, 23, 23, 42, 66, 91, 98, 77, 57, 37, 56, 74, 93, 123, 160, 197, 227, 227,
      17, 17, 40, 67, 95, 119, 138, 157, 176, 179, 181, 184, 173, 153, 133, 117, 117,
    ],
  },
  {
    w: 6,
    h: 6,
    outW: 1,
    outH: 1,
    src: [
      118, 252, 140, 127, 199, 121, 53, 124, 77, 166, 239, 29, 215, 151, 17, 251, 0, 53, 197, 191, 116, 42, 47, 246, 222, 35, 148, 23, 100, 213, 139, 185, 10,
      161, 11, 75,
    ],
    pil: [122],
  },
];

describe('resizeBilinearPIL', () => {
  for (const c of CASES) {
    it(`${c.w}×${c.h} → ${c.outW}×${c.outH} equals Pillow byte for byte`, () => {
      expect(Array.from(resizeBilinearPIL(Uint8Array.from(c.src), c.w, c.h, c.outW, c.outH))).toEqual(c.pil);
    });
  }

  it('keeps a constant image constant and the same size unchanged (a copy)', () => {
    expect(new Set(resizeBilinearPIL(new Uint8Array(40 * 30).fill(77), 40, 30, 123, 17))).toEqual(new Set([77]));
    const src = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const same = resizeBilinearPIL(src, 4, 3, 4, 3);
    expect(Array.from(same)).toEqual(Array.from(src));
    expect(same).not.toBe(src);
  });

  it('a buffer of the wrong length is an argument error', () => {
    expect(() => resizeBilinearPIL(new Uint8Array(5), 2, 3, 4, 4)).toThrow(/resizeBilinearPIL: argument 'src' has 5 values; expected width × height = 6/);
  });
});
