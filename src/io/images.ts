/**
 * Image files ↔ pixels (Node only: pngjs needs zlib). PNG via pngjs; JPEG via jpeg-js (pure JS,
 * well kept; hand-written baseline+progressive JPEG decoding is not worth owning) with EXIF
 * orientation applied. Pixels are 8-bit RGBA; helpers convert to float CHW tensors and back.
 */
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { readFileSync } from 'node:fs';
import { tensor } from '../tensor/ops/creation';
import type { Tensor } from '../tensor/tensor';
import { writeFileAtomic } from './files';
import { checkPng, checkJpeg, getMaxImagePixels } from './image-header';

/** A decoded image: width, height and RGBA bytes, with the channel count the file had. */
export interface RGBAImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA bytes, row-major, 4 per pixel. */
  data: Uint8Array /** channels in the file: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */;
  /** Channels in the file: 1 grey, 2 grey and alpha, 3 RGB, 4 RGBA. */
  channels: number;
}

/** Thrown for an image that cannot be decoded: unknown format, corrupt data or too many pixels. */
export class ImageDecodeError extends Error {
  /** The message names the source (`what`) and the reason. */
  constructor(what: string, message: string) {
    super(`${what}: ${message}`);
    this.name = 'ImageDecodeError';
  }
}

const isPng = (b: Uint8Array) => b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
const isJpeg = (b: Uint8Array) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** Options of {@link decodeImage} and {@link readImage}. */
export interface DecodeOptions {
  /** Refuse images with more pixels than this (default: getMaxImagePixels(), 89,478,485 unless changed). */
  maxPixels?: number;
}

/**
 * Decodes PNG or JPEG bytes to RGBA; `what` names the source in errors. The header is checked first:
 * more pixels than the limit, or pixel data that is cut short, is an ImageDecodeError (never a black image).
 */
export function decodeImage(bytes: Uint8Array, what = 'image', options: DecodeOptions = {}): RGBAImage {
  const maxPixels = options.maxPixels ?? getMaxImagePixels();
  if (isPng(bytes) || isJpeg(bytes)) {
    const h = isPng(bytes) ? checkPng(bytes, maxPixels) : checkJpeg(bytes, maxPixels);
    if ('error' in h) throw new ImageDecodeError(what, h.error);
  }
  if (isPng(bytes)) {
    let png: PNG;
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new ImageDecodeError(what, `corrupt or truncated PNG (${(e as Error).message})`);
    }
    const meta = png as unknown as { colorType?: number; alpha?: boolean };
    const ct = meta.colorType ?? 6; // 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
    const channels = ct === 0 ? 1 : ct === 4 ? 2 : ct === 2 || ct === 3 ? (meta.alpha ? 4 : 3) : 4;
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), channels };
  }
  if (isJpeg(bytes)) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: Math.max(1, Math.ceil(maxPixels / 1e6)), maxMemoryUsageInMB: 2048 });
    } catch (e) {
      throw new ImageDecodeError(what, `corrupt or truncated JPEG (${(e as Error).message})`);
    }
    if (!img.width || !img.height) throw new ImageDecodeError(what, 'JPEG has no image data');
    const oriented = applyOrientation({ width: img.width, height: img.height, data: img.data, channels: 3 }, exifOrientation(bytes));
    return oriented;
  }
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new ImageDecodeError(what, `not a PNG or JPEG file (first bytes: ${head || 'none'})`);
}

/** Reads and decodes a PNG or JPEG file to RGBA (synchronously). */
export function readImage(path: string, options: DecodeOptions = {}): RGBAImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageDecodeError(path, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeImage(bytes, path, options);
}

/** EXIF orientation (1–8) from a JPEG's APP1 segment; 1 when absent or unreadable. */
export function exifOrientation(b: Uint8Array): number {
  let p = 2;
  while (p + 4 <= b.length && b[p] === 0xff) {
    const marker = b[p + 1];
    const len = (b[p + 2] << 8) | b[p + 3];
    if (marker === 0xda || len < 2) break; // start of scan: no more metadata
    if (marker === 0xe1 && p + 10 <= b.length && String.fromCharCode(...b.subarray(p + 4, p + 8)) === 'Exif') {
      const t = p + 10; // TIFF header
      if (t + 8 > b.length) return 1;
      const le = b[t] === 0x49;
      const u16 = (o: number) => (o + 2 <= b.length ? (le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]) : 0);
      const u32 = (o: number) =>
        o + 4 <= b.length
          ? le
            ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
            : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
          : 0;
      const ifd = t + u32(t + 4);
      const count = Math.min(u16(ifd), 512);
      for (let k = 0; k < count; k++) {
        const e = ifd + 2 + 12 * k;
        if (e + 12 > b.length) break;
        if (u16(e) === 0x0112) {
          const v = u16(e + 8);
          return v >= 1 && v <= 8 ? v : 1;
        }
      }
      return 1;
    }
    p += 2 + len;
  }
  return 1;
}

/** Rotates/flips pixels so the image displays upright (EXIF orientations 2–8). */
export function applyOrientation(img: RGBAImage, orientation: number): RGBAImage {
  if (orientation <= 1 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5;
  const W = swap ? h : w,
    H = swap ? w : h;
  const out = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // source pixel for destination (x, y)
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          sy = y;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sx = x;
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        default:
          sx = w - 1 - y;
          sy = x;
          break; // 8
      }
      out.set(data.subarray((sy * w + sx) * 4, (sy * w + sx) * 4 + 4), (y * W + x) * 4);
    }
  }
  return { width: W, height: H, data: out, channels: img.channels };
}

/** PNG bytes from 8-bit pixels with 1 (grey), 3 (RGB) or 4 (RGBA) interleaved channels. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Uint8Array {
  if (pixels.length !== width * height * channels) throw new Error(`encodePng: ${pixels.length} bytes do not match ${width}×${height}×${channels}`);
  const png = new PNG({
    width,
    height,
    colorType: channels === 1 ? 0 : channels === 3 ? 2 : 6,
    inputColorType: channels === 1 ? 0 : channels === 3 ? 2 : 6,
    inputHasAlpha: channels === 4,
  });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, {
    colorType: channels === 1 ? 0 : channels === 3 ? 2 : 6,
    inputColorType: channels === 1 ? 0 : channels === 3 ? 2 : 6,
    inputHasAlpha: channels === 4,
  });
}

export async function writePng(path: string, pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Promise<void> {
  await writeFileAtomic(path, encodePng(pixels, width, height, channels));
}

/** RGBA pixels → float32 [C, H, W] in [0, 1] (C = 3 for RGB, 1 for grey, 4 with alpha). */
export function pixelsToCHW(img: RGBAImage, channels: 1 | 3 | 4 = 3): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(channels * n);
  for (let i = 0; i < n; i++) {
    const r = img.data[4 * i],
      g = img.data[4 * i + 1],
      b = img.data[4 * i + 2],
      a = img.data[4 * i + 3];
    if (channels === 1) out[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    else {
      out[i] = r / 255;
      out[n + i] = g / 255;
      out[2 * n + i] = b / 255;
      if (channels === 4) out[3 * n + i] = a / 255;
    }
  }
  return out;
}

export const imageToTensor = (img: RGBAImage, channels: 1 | 3 | 4 = 3): Tensor =>
  tensor(pixelsToCHW(img, channels), { shape: [channels, img.height, img.width] });

/** Float [C, H, W] values in [0, 1] → interleaved 8-bit pixels. */
export function chwToPixels(data: ArrayLike<number>, channels: number, height: number, width: number): Uint8Array {
  const n = height * width;
  const out = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = Math.round(Math.min(1, Math.max(0, data[c * n + i])) * 255);
  return out;
}
