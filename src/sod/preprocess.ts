/**
 * U²-Net's inference preprocessing and mask postprocessing on host pixels (runtime-neutral).
 * As the official test script: resize to 320×320, scale to [0, 1] and divide by the image maximum,
 * then normalise each channel with the ImageNet mean/std. Grey images are RGB with equal channels;
 * alpha is ignored. The official code resizes with skimage (Gaussian prefilter + bilinear); here the
 * resize is bilinear with a triangle filter widened by the scale factor when shrinking (antialiased,
 * as PIL's and PyTorch's `antialias=True`), which is close and well defined.
 */
import type { RGBAImage } from '../io/images';
import { resizeBilinearCHW } from '../train/data/resize-host';

export const U2NET_SIZE = 320;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Weights of the 1-D antialiased bilinear (triangle) resampling from `n` to `m` samples. */
function resampleWeights(n: number, m: number): { start: Int32Array; len: Int32Array; w: Float32Array; taps: number } {
  const scale = n / m, support = Math.max(1, scale);
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(m), len = new Int32Array(m), w = new Float32Array(m * taps);
  for (let i = 0; i < m; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support)), hi = Math.min(n, Math.ceil(center + support));
    let total = 0, k = 0;
    for (let j = lo; j < hi && k < taps; j++, k++) {
      const v = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support));
      w[i * taps + k] = v; total += v;
    }
    for (let q = 0; q < k; q++) w[i * taps + q] /= total || 1;
    start[i] = lo; len[i] = k;
  }
  return { start, len, w, taps };
}

/** Antialiased bilinear resize of CHW float planes (separable; equals plain bilinear when enlarging). */
export function resizeAntialiasCHW(src: Float32Array, channels: number, h: number, w: number, outH: number, outW: number): Float32Array {
  if (outH >= h && outW >= w) return resizeBilinearCHW(src, channels, h, w, outH, outW);
  const X = resampleWeights(w, outW), Y = resampleWeights(h, outH);
  const tmp = new Float32Array(channels * h * outW);
  for (let c = 0; c < channels; c++) for (let y = 0; y < h; y++) {
    const row = c * h * w + y * w;
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let k = 0; k < X.len[x]; k++) s += src[row + X.start[x] + k] * X.w[x * X.taps + k];
      tmp[c * h * outW + y * outW + x] = s;
    }
  }
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++) for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) {
    let s = 0;
    for (let k = 0; k < Y.len[y]; k++) s += tmp[c * h * outW + (Y.start[y] + k) * outW + x] * Y.w[y * Y.taps + k];
    out[c * outH * outW + y * outW + x] = s;
  }
  return out;
}

/** RGB(A) pixels → the network input, float32 [3, size, size] (the batch dimension is the caller's). */
export function u2netPreprocess(img: RGBAImage, size = U2NET_SIZE): Float32Array {
  const n = img.width * img.height;
  const rgb = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[c * n + i] = img.data[4 * i + c] / 255;
  const x = resizeAntialiasCHW(rgb, 3, img.height, img.width, size, size);
  let max = 0;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  const m = size * size;
  for (let c = 0; c < 3; c++) for (let i = 0; i < m; i++) x[c * m + i] = ((max > 0 ? x[c * m + i] / max : 0) - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
  return x;
}

/** Min–max normalisation of a predicted map to [0, 1] (the official `normPRED`); a flat map becomes 0. */
export function normalizeMask(mask: Float32Array): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (const v of mask) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const out = new Float32Array(mask.length);
  if (hi > lo) for (let i = 0; i < mask.length; i++) out[i] = (mask[i] - lo) / (hi - lo);
  return out;
}

/** A [size, size] mask resized back to the image's resolution (bilinear, alignCorners false). */
export const maskToImageSize = (mask: Float32Array, size: number, width: number, height: number): Float32Array =>
  resizeBilinearCHW(mask, 1, size, size, height, width);
