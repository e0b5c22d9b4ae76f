/**
 * Single-channel 8-bit resizing as PIL's `Image.resize(..., BILINEAR)`, for masks the official U²-Net test script
 * resized with PIL (the arithmetic is in src/base/pil-resize.ts, shared with SAM's image resize).
 * PIL's rule: a triangle filter whose support is widened by the scale factor when shrinking (antialiased)
 * and is the plain two-tap bilinear when enlarging; weights normalised per output sample, then turned into
 * 22-bit fixed point; the horizontal pass runs first into an 8-bit image, then the vertical pass; each
 * output is rounded half up and clipped to 0..255.
 */
import { ArgumentError } from '../base/shape';
import { resizePil } from '../base/pil-resize';

/**
 * Resizes a single-channel 8-bit image (row-major, `width`×`height`) to `outWidth`×`outHeight` as PIL's
 * `Image.resize((outWidth, outHeight), Image.BILINEAR)` does.
 */
export function resizeBilinearPIL(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height) throw new ArgumentError('resizeBilinearPIL', 'src', `has ${src.length} values`, `width × height = ${width * height}`);
  return resizePil(src, width, height, 1, outWidth, outHeight, 'bilinear');
}
