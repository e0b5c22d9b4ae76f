/**
 * What a PNG or JPEG says about itself, read before any pixel is decoded: size (for the pixel limit),
 * and whether the pixel data is all there. A 167-byte PNG can claim 30000×30000 pixels; decoding it
 * would allocate gigabytes of zeros, so the size is checked against a limit first.
 *
 * The limit is Pillow's MAX_IMAGE_PIXELS, 89,478,485 (≈ 9459², 1/4 GiB of 24-bit pixels); Pillow
 * warns above it and refuses above twice it. webgrad refuses above it (an image that large would
 * need > 1 GiB as float CHW), and lets callers change it: setMaxImagePixels(n), or per call
 * decodeImage(bytes, what, { maxPixels }). Infinity turns the check off.
 */
import { inflateSync } from 'node:zlib';

/** The default pixel limit of the image decoders: Pillow's MAX_IMAGE_PIXELS, a guard against decompression bombs. */
export const DEFAULT_MAX_IMAGE_PIXELS = 89_478_485;
let maxImagePixels = DEFAULT_MAX_IMAGE_PIXELS;

/** Sets the default pixel limit for every decoder (worker threads of decodeWorkers get it with each task). */
export function setMaxImagePixels(n: number): void {
  if (!(n === Infinity || (Number.isInteger(n) && n > 0))) throw new RangeError(`setMaxImagePixels: n is ${n}; expected a positive integer or Infinity`);
  maxImagePixels = n;
}
/** The pixel limit decoders use when not given one (see {@link setMaxImagePixels}). */
export const getMaxImagePixels = (): number => maxImagePixels;

export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
}

/** Problems are returned as a message (the caller throws ImageDecodeError naming the file). */
export type HeaderResult = ImageHeader | { error: string };

const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const ascii = (b: Uint8Array, o: number) => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);

/** Channels per colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** PNG: IHDR size, then every chunk must fit in the file and the IDAT stream must inflate to the full image. */
export function checkPng(b: Uint8Array, maxPixels: number): HeaderResult {
  if (b.length < 33 || ascii(b, 12) !== 'IHDR') return { error: 'corrupt or truncated PNG (no IHDR header)' };
  const width = u32(b, 16),
    height = u32(b, 20),
    depth = b[24],
    colorType = b[25],
    interlace = b[28];
  if (width === 0 || height === 0) return { error: `PNG header gives a size of ${width}×${height}` };
  const limit = pixelLimit(width, height, maxPixels);
  if (limit) return { error: limit };
  const channels = PNG_CHANNELS[colorType];
  if (channels === undefined || ![1, 2, 4, 8, 16].includes(depth)) return { error: `PNG header has colour type ${colorType} and bit depth ${depth}` };
  const rowBytes = (w: number) => Math.ceil((w * channels * depth) / 8) + 1;
  let expected = 0;
  if (interlace) {
    for (const [x0, y0, dx, dy] of ADAM7) {
      const pw = Math.ceil((width - x0) / dx),
        ph = Math.ceil((height - y0) / dy);
      if (pw > 0 && ph > 0) expected += ph * rowBytes(pw);
    }
  } else expected = height * rowBytes(width);
  const idat: Uint8Array[] = [];
  let o = 8;
  while (o + 8 <= b.length) {
    const len = u32(b, o),
      type = ascii(b, o + 4);
    if (o + 12 + len > b.length) return { error: `corrupt or truncated PNG (chunk ${type} at byte ${o} needs ${len + 12} bytes, ${b.length - o} left)` };
    if (type === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + len));
    if (type === 'IEND') break;
    o += 12 + len;
  }
  if (idat.length === 0) return { error: 'corrupt or truncated PNG (no pixel data: no IDAT chunk)' };
  let got: number;
  try {
    got = inflateSync(Buffer.concat(idat), { maxOutputLength: expected }).length;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return { format: 'png', width, height }; // extra data after the image: harmless
    return { error: `corrupt or truncated PNG (pixel data: ${(e as Error).message})` };
  }
  if (got < expected) return { error: `corrupt or truncated PNG (pixel data holds ${got} of the ${expected} bytes a ${width}×${height} image needs)` };
  return { format: 'png', width, height };
}

/** JPEG: the frame header (SOFn) gives the size; the entropy-coded data must end with an EOI marker. */
export function checkJpeg(b: Uint8Array, maxPixels: number): HeaderResult {
  let o = 2;
  let size: { width: number; height: number } | null = null;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) return { error: `corrupt or truncated JPEG (no marker at byte ${o})` };
    const m = b[o + 1];
    if (m === 0xff) {
      o++;
      continue;
    } // fill byte
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      o += 2;
      continue;
    } // no length
    const len = u16(b, o + 2);
    if (len < 2 || o + 2 + len > b.length)
      return { error: `corrupt or truncated JPEG (segment 0xFF${m.toString(16).toUpperCase()} at byte ${o} runs past the end of the file)` };
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (len < 7) return { error: 'corrupt or truncated JPEG (short frame header)' };
      const height = u16(b, o + 5),
        width = u16(b, o + 7);
      if (width === 0 || height === 0) return { error: `JPEG frame header gives a size of ${width}×${height}` };
      const limit = pixelLimit(width, height, maxPixels);
      if (limit) return { error: limit };
      size = { width, height };
    }
    if (m === 0xda) {
      if (!size) return { error: 'corrupt or truncated JPEG (scan before any frame header)' };
      // entropy-coded data never holds FF D9 (a literal FF is stuffed as FF 00): its absence means the file was cut
      for (let k = b.length - 2; k >= o + 2 + len; k--) if (b[k] === 0xff && b[k + 1] === 0xd9) return { format: 'jpeg', ...size };
      return { error: 'corrupt or truncated JPEG (the image data ends without an EOI marker)' };
    }
    o += 2 + len;
  }
  return { error: 'corrupt or truncated JPEG (no image data: the file ends before the first scan)' };
}

function pixelLimit(width: number, height: number, maxPixels: number): string | null {
  if (width * height <= maxPixels) return null;
  return `${width}×${height} = ${width * height} pixels exceeds the limit of ${maxPixels} (a decompression bomb? raise it with setMaxImagePixels or the maxPixels option)`;
}
