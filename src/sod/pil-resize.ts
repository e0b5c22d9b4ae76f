/**
 * 8-bit image resampling with the arithmetic of PIL's `Image.resize(..., BILINEAR)`, so a mask resized
 * here equals, byte for byte, one the official U²-Net test script resized with PIL (runtime-neutral).
 * PIL's rule: a triangle filter whose support is widened by the scale factor when shrinking (antialiased)
 * and is the plain two-tap bilinear when enlarging; weights normalised per output sample, then turned into
 * 22-bit fixed point; the horizontal pass runs first into an 8-bit image, then the vertical pass; each
 * output is rounded half up and clipped to 0..255.
 */
import { ArgumentError } from '../base/shape';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;

interface Coeffs {
  start: Int32Array;
  len: Int32Array;
  k: Int32Array;
  taps: number;
}

/** Fixed-point weights for resampling `inSize` samples to `outSize` (PIL's precompute + normalise). */
function pilCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = filterScale; // the bilinear filter's support is 1
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize),
    len = new Int32Array(outSize),
    k = new Int32Array(outSize * taps);
  const w = new Float64Array(taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    // C's (int) cast truncates towards zero; negative lows are clamped to 0 anyway
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - lo;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const t = Math.abs((i + lo - center + 0.5) / filterScale);
      w[i] = t < 1 ? 1 - t : 0;
      total += w[i];
    }
    for (let i = 0; i < n; i++) {
      const v = total !== 0 ? w[i] / total : w[i];
      k[o * taps + i] = Math.trunc(v < 0 ? -0.5 + v * ONE : 0.5 + v * ONE);
    }
    start[o] = lo;
    len[o] = n;
  }
  return { start, len, k, taps };
}

const clip8 = (acc: number): number => (acc <= 0 ? 0 : acc >= ONE * 256 ? 255 : Math.floor(acc / ONE));

/** One pass along rows (`horizontal`) or columns of a single-channel 8-bit image. */
function pass(src: Uint8Array, w: number, h: number, c: Coeffs, horizontal: boolean, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH);
  for (let y = 0; y < outH; y++)
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const s0 = c.start[o],
        n = c.len[o],
        base = o * c.taps;
      // the products stay below 2^53, so the double sum is the same integer as PIL's 32-bit one
      let acc = ONE / 2;
      if (horizontal) for (let i = 0; i < n; i++) acc += src[y * w + s0 + i] * c.k[base + i];
      else for (let i = 0; i < n; i++) acc += src[(s0 + i) * w + x] * c.k[base + i];
      out[y * outW + x] = clip8(acc);
    }
  return out;
}

/**
 * Resizes a single-channel 8-bit image (row-major, `width`×`height`) to `outWidth`×`outHeight` as PIL's
 * `Image.resize((outWidth, outHeight), Image.BILINEAR)` does.
 */
export function resizeBilinearPIL(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height) throw new ArgumentError('resizeBilinearPIL', 'src', `has ${src.length} values`, `width × height = ${width * height}`);
  let img = src;
  if (outWidth !== width) img = pass(img, width, height, pilCoeffs(width, outWidth), true, outWidth, height);
  if (outHeight !== height) img = pass(img, outWidth, height, pilCoeffs(height, outHeight), false, outWidth, outHeight);
  return img === src ? src.slice() : img;
}
