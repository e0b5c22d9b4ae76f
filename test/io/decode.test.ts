/**
 * decodeImage on hostile input: ~200 mutated or truncated PNG/JPEG files must each either decode
 * to a well-formed image or throw ImageDecodeError (never another error, a crash or a hang).
 * EXIF orientation: JPEGs with an APP1 Exif segment (orientations 3, 6, 8) decode upright.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { crc32 } from 'node:zlib';
import { decodeImage, encodePng, ImageDecodeError } from '../../src/node';

/** 16×8 RGB: top-left quadrant red, bottom-left green, right half blue. */
const W = 16,
  H = 8;
function quadrants(): Uint8Array {
  const px = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const c = x >= 8 ? [0, 0, 255] : y < 4 ? [255, 0, 0] : [0, 255, 0];
      px.set([...c, 255], (y * W + x) * 4);
    }
  return px;
}
const jpegBytes = () => new Uint8Array(jpeg.encode({ data: quadrants(), width: W, height: H }, 95).data);
const rgb = (px: Uint8Array) => Uint8Array.from({ length: (px.length / 4) * 3 }, (_, i) => px[Math.floor(i / 3) * 4 + (i % 3)]);
const pngBytes = () => encodePng(rgb(quadrants()), W, H, 3);

/** Inserts an APP1 Exif segment (little-endian TIFF, one IFD entry: Orientation) right after SOI. */
function withOrientation(j: Uint8Array, orientation: number): Uint8Array {
  const tiff = [
    0x49,
    0x49,
    0x2a,
    0x00,
    8,
    0,
    0,
    0,
    /* IFD0 */ 1,
    0,
    /* tag 0x0112, type SHORT, count 1, value */ 0x12,
    0x01,
    3,
    0,
    1,
    0,
    0,
    0,
    orientation,
    0,
    0,
    0,
    /* next IFD */ 0,
    0,
    0,
    0,
  ];
  const body = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff]; // "Exif\0\0"
  const len = body.length + 2;
  const seg = [0xff, 0xe1, len >> 8, len & 0xff, ...body];
  return Uint8Array.from([...j.subarray(0, 2), ...seg, ...j.subarray(2)]);
}

/** Colour name at (x, y) of a decoded RGBA image. */
function colour(img: { width: number; data: Uint8Array }, x: number, y: number): string {
  const i = (y * img.width + x) * 4;
  const [r, g, b] = [img.data[i], img.data[i + 1], img.data[i + 2]];
  return r > 150 && g < 100 && b < 100 ? 'red' : g > 150 && r < 100 && b < 100 ? 'green' : b > 150 && r < 100 && g < 100 ? 'blue' : `?${r},${g},${b}`;
}

describe('EXIF orientation', () => {
  it('orientation 1 (none), 3 (180°), 6 (display rotated 90° clockwise), 8 (90° counter-clockwise)', () => {
    const j = jpegBytes();
    const plain = decodeImage(j);
    expect([plain.width, plain.height]).toEqual([W, H]);
    expect([colour(plain, 3, 1), colour(plain, 3, 6), colour(plain, 12, 4)]).toEqual(['red', 'green', 'blue']);
    const o1 = decodeImage(withOrientation(j, 1));
    expect(o1.data).toEqual(plain.data);
    // 180°: red goes to the bottom-right quadrant, green to the top-right, blue to the left half
    const o3 = decodeImage(withOrientation(j, 3));
    expect([o3.width, o3.height]).toEqual([W, H]);
    expect([colour(o3, 12, 6), colour(o3, 12, 1), colour(o3, 3, 4)]).toEqual(['red', 'green', 'blue']);
    // 90° clockwise: 8 wide, 16 tall; the stored left column becomes the top row (read right to left from the stored top)
    const o6 = decodeImage(withOrientation(j, 6));
    expect([o6.width, o6.height]).toEqual([H, W]);
    expect([colour(o6, 6, 3), colour(o6, 1, 3), colour(o6, 4, 12)]).toEqual(['red', 'green', 'blue']);
    // 90° counter-clockwise: the stored left column becomes the bottom row
    const o8 = decodeImage(withOrientation(j, 8));
    expect([o8.width, o8.height]).toEqual([H, W]);
    expect([colour(o8, 1, 12), colour(o8, 6, 12), colour(o8, 4, 3)]).toEqual(['red', 'green', 'blue']);
  });
});

describe('malformed files', () => {
  const sources = { png: pngBytes(), jpeg: withOrientation(jpegBytes(), 6) };

  const mutation = fc.record({
    which: fc.constantFrom<'png' | 'jpeg'>('png', 'jpeg'),
    kind: fc.constantFrom('truncate', 'flip', 'overwrite', 'insert', 'bigHeader'),
    at: fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((k) => k / 1e6),
    count: fc.integer({ min: 1, max: 8 }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  });

  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
  function mutate(m: Mutation): Uint8Array {
    const src = sources[m.which];
    const pos = Math.floor(m.at * src.length);
    const b = Uint8Array.from(src);
    switch (m.kind) {
      case 'truncate':
        return src.subarray(0, pos);
      case 'flip':
        for (let k = 0; k < m.count; k++) b[(pos + k * 131) % b.length] ^= 1 << (k % 8);
        return b;
      case 'overwrite':
        b.set(m.bytes.subarray(0, Math.max(0, b.length - pos)), pos);
        return b;
      case 'insert':
        return Uint8Array.from([...src.subarray(0, pos), ...m.bytes, ...src.subarray(pos)]);
      default: {
        // huge dimensions in the header (PNG IHDR width/height; JPEG SOF0 height/width)
        if (m.which === 'png') {
          // with a valid IHDR CRC, so the decoder gets past the checksum
          b.set([0x7f, 0xff, 0xff, 0xff], 16 + 4 * (m.count % 2));
          new DataView(b.buffer).setUint32(29, crc32(b.subarray(12, 29)));
          return b;
        }
        const sof = b.findIndex((v, i) => v === 0xff && b[i + 1] === 0xc0);
        if (sof > 0) b.set([0xff, 0xff, 0xff, 0xff], sof + 5);
        return b;
      }
    }
  }

  it('~200 mutations and truncations: a well-formed image or ImageDecodeError, nothing else', () => {
    let decoded = 0,
      rejected = 0;
    fc.assert(
      fc.property(mutation, (m) => {
        const bytes = mutate(m);
        let img;
        try {
          img = decodeImage(bytes, 'fuzz.bin');
        } catch (e) {
          if (!(e instanceof ImageDecodeError)) throw new Error(`${m.which}/${m.kind}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
          expect((e as Error).message).toMatch(/^fuzz\.bin: /);
          rejected++;
          return;
        }
        expect(img.width).toBeGreaterThan(0);
        expect(img.height).toBeGreaterThan(0);
        expect(img.data.length).toBe(img.width * img.height * 4);
        decoded++;
      }),
      { seed: 20261122, numRuns: 200 },
    );
    expect(rejected).toBeGreaterThan(20); // the fuzzing reaches the error paths
    expect(decoded).toBeGreaterThan(5); // and mutations the formats tolerate (e.g. in pixel data) still decode
    expect(decoded + rejected).toBe(200);
  });

  it('the clear messages users see', () => {
    expect(() => decodeImage(sources.png.subarray(0, 30), 'a.png')).toThrow(/a\.png: corrupt or truncated PNG/);
    expect(() => decodeImage(sources.jpeg.subarray(0, 200), 'b.jpg')).toThrow(/b\.jpg: corrupt or truncated JPEG/);
    expect(() => decodeImage(new Uint8Array([1, 2, 3]), 'c.gif')).toThrow(/c\.gif: not a PNG or JPEG file \(first bytes: 01 02 03\)/);
    expect(() => decodeImage(new Uint8Array(0), 'd')).toThrow(/first bytes: none/);
  });
});
