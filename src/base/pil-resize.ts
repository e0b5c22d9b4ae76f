/**
 * 8-bit image resampling with the arithmetic of PIL's `Image.resize`, so an image or mask resized here equals,
 * byte for byte, one a reference script resized with PIL (the official U²-Net test script, SAM's ResizeLongestSide).
 * PIL's rule: a filter (triangle for BILINEAR, Keys a = −0.5 for BICUBIC) whose support is widened by the scale
 * factor when shrinking (antialiased); weights normalised per output sample, then turned into 22-bit fixed point;
 * the horizontal pass runs first into an 8-bit image, then the vertical pass, each skipped when its size does not
 * change; each output is rounded half up and clipped to 0..255. Host-only, runtime-neutral.
 */

/** PIL's resampling filters. */
export type PilFilter = 'bilinear' | 'bicubic';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** Each filter's support (before widening) and kernel. */
export const PIL_FILTERS: Readonly<Record<PilFilter, { support: number; f: (x: number) => number }>> = {
  bilinear: { support: 1, f: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
};

/** One axis's taps: for each output index its first input index, tap count and fixed-point weights. */
interface Taps {
  start: Int32Array;
  len: Int32Array;
  ksize: number;
  k: Int32Array;
}

/** PIL's coefficients for one axis (precompute + normalise + fixed point). */
function axisTaps(inSize: number, outSize: number, filter: PilFilter): Taps {
  const { support: base, f } = PIL_FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = base * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const len = new Int32Array(outSize);
  const k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    // C's (int) cast truncates towards zero; negative lows are clamped to 0 anyway
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - lo;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      w[i] = f((i + lo - center + 0.5) / filterScale);
      sum += w[i];
    }
    for (let i = 0; i < n; i++) {
      const v = sum !== 0 ? w[i] / sum : w[i];
      k[o * ksize + i] = Math.trunc(v < 0 ? -0.5 + v * ONE : 0.5 + v * ONE);
    }
    start[o] = lo;
    len[o] = n;
  }
  return { start, len, ksize, k };
}

/** A fixed-point sum (with its rounding half already added) back to a byte, clamped. */
const clip8 = (v: number): number => (v <= 0 ? 0 : v >= 256 * ONE ? 255 : Math.floor(v / ONE));

/**
 * One pass over interleaved `channels`-channel pixels along rows (`horizontal`) or columns: `w`×`h` in, the
 * resampled axis replaced by `t`'s output size.
 */
function pass(src: Uint8Array, w: number, h: number, channels: number, t: Taps, horizontal: boolean): Uint8Array {
  const outW = horizontal ? t.start.length : w;
  const outH = horizontal ? h : t.start.length;
  const out = new Uint8Array(outW * outH * channels);
  // the step between two taps, in bytes: the next pixel of a row or the next row
  const step = horizontal ? channels : w * channels;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const n = t.len[o];
      const kb = o * t.ksize;
      const first = horizontal ? (y * w + t.start[o]) * channels : (t.start[o] * w + x) * channels;
      const q = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) {
        // the products stay below 2^53, so the double sum is the same integer as PIL's 32-bit one
        let acc = ONE / 2;
        for (let i = 0, p = first + c; i < n; i++, p += step) acc += src[p] * t.k[kb + i];
        out[q + c] = clip8(acc);
      }
    }
  }
  return out;
}

/**
 * Resizes interleaved 8-bit pixels (`channels` a pixel, row-major `width`×`height`) to `outWidth`×`outHeight` as
 * PIL's `Image.resize((outWidth, outHeight), filter)` does. Returns new bytes (a copy when the size is unchanged).
 */
export function resizePil(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: PilFilter = 'bilinear',
): Uint8Array {
  let img = src;
  let w = width;
  if (outWidth !== width) {
    img = pass(img, w, height, channels, axisTaps(width, outWidth, filter), true);
    w = outWidth;
  }
  if (outHeight !== height) img = pass(img, w, height, channels, axisTaps(height, outHeight, filter), false);
  return img === src ? src.slice() : img;
}
