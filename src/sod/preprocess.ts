/**
 * U²-Net's inference preprocessing and mask postprocessing on host pixels (runtime-neutral), as the
 * official test script (u2net_test.py with data_loader.py's RescaleT and ToTensorLab):
 *  - in: scale to [0, 1], resize to 320×320, divide by the resized image's maximum, normalise each channel
 *    with the ImageNet mean/std. Grey images are RGB with equal channels; alpha is ignored.
 *    The resize is skimage's `resize(order=1, mode='constant')` without a prefilter: plain bilinear on
 *    pixel centres, zero outside the image. The official result masks were made that way (the skimage
 *    that made them did not antialias): on the 18 official test images remove-bg's masks agree with them
 *    to mean IoU 0.998 / MAE 0.0005, with an antialiased resize to 0.979 / 0.0056 (README, "Removing
 *    backgrounds"). `resize: 'antialias'` keeps the antialiased triangle filter as an alternative.
 *  - out: min–max normalisation (normPRED), ×255 truncated to 8 bits (PIL's float → L conversion), and
 *    PIL's bilinear resize back to the image size (`u2netMaskU8`).
 */
import type { RGBAImage } from '../io/images';
import { ArgumentError } from '../base/shape';
import { resizeBilinearCHW } from '../train/data/resize-host';
import { resizeBilinearPIL } from './pil-resize';

/** How the image is resized to the network's input: `bilinear` (official) or `antialias`. */
export type U2NetResize = 'bilinear' | 'antialias';
/** The resize methods {@link u2netPreprocess} accepts. */
export const U2NET_RESIZES: readonly U2NetResize[] = ['bilinear', 'antialias'];

/** The input size of the official U²-Net pipeline: images are resized to 320×320. */
export const U2NET_SIZE = 320;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Weights of the 1-D antialiased bilinear (triangle) resampling from `n` to `m` samples. */
function resampleWeights(n: number, m: number): { start: Int32Array; len: Int32Array; w: Float32Array; taps: number } {
  const scale = n / m,
    support = Math.max(1, scale);
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(m),
    len = new Int32Array(m),
    w = new Float32Array(m * taps);
  for (let i = 0; i < m; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support)),
      hi = Math.min(n, Math.ceil(center + support));
    let total = 0,
      k = 0;
    for (let j = lo; j < hi && k < taps; j++, k++) {
      const v = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support));
      w[i * taps + k] = v;
      total += v;
    }
    for (let q = 0; q < k; q++) w[i * taps + q] /= total || 1;
    start[i] = lo;
    len[i] = k;
  }
  return { start, len, w, taps };
}

/** Antialiased bilinear resize of CHW float planes (separable; equals plain bilinear when enlarging). */
export function resizeAntialiasCHW(src: Float32Array, channels: number, h: number, w: number, outH: number, outW: number): Float32Array {
  if (outH >= h && outW >= w) return resizeBilinearCHW(src, channels, h, w, outH, outW);
  const X = resampleWeights(w, outW),
    Y = resampleWeights(h, outH);
  const tmp = new Float32Array(channels * h * outW);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < h; y++) {
      const row = c * h * w + y * w;
      for (let x = 0; x < outW; x++) {
        let s = 0;
        for (let k = 0; k < X.len[x]; k++) s += src[row + X.start[x] + k] * X.w[x * X.taps + k];
        tmp[c * h * outW + y * outW + x] = s;
      }
    }
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < outH; y++)
      for (let x = 0; x < outW; x++) {
        let s = 0;
        for (let k = 0; k < Y.len[y]; k++) s += tmp[c * h * outW + (Y.start[y] + k) * outW + x] * Y.w[y * Y.taps + k];
        out[c * outH * outW + y * outW + x] = s;
      }
  return out;
}

/**
 * Bilinear resize of CHW float planes as skimage's `resize(order=1, mode='constant', cval=0)` without
 * antialiasing: sample at ((i + 0.5)·in/out − 0.5), taps outside the image count as 0 (this darkens the
 * outermost row or column a little when enlarging, as the official pipeline does).
 */
export function resizeBilinearConstantCHW(src: Float32Array, channels: number, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(channels * outH * outW);
  const sy = h / outH,
    sx = w / outW;
  const px = (p: number, y: number, x: number) => (y < 0 || y >= h || x < 0 || x >= w ? 0 : src[p + y * w + x]);
  for (let c = 0; c < channels; c++) {
    const p = c * h * w;
    for (let y = 0; y < outH; y++) {
      const fy = (y + 0.5) * sy - 0.5,
        y0 = Math.floor(fy),
        ty = fy - y0;
      for (let x = 0; x < outW; x++) {
        const fx = (x + 0.5) * sx - 0.5,
          x0 = Math.floor(fx),
          tx = fx - x0;
        const top = px(p, y0, x0) * (1 - tx) + px(p, y0, x0 + 1) * tx;
        const bot = px(p, y0 + 1, x0) * (1 - tx) + px(p, y0 + 1, x0 + 1) * tx;
        out[c * outH * outW + y * outW + x] = top * (1 - ty) + bot * ty;
      }
    }
  }
  return out;
}

/** Options of {@link u2netPreprocess}. */
export interface U2NetPreprocessOptions {
  /** `bilinear` (default): the official pipeline's plain bilinear; `antialias`: triangle filter widened when shrinking. */
  resize?: U2NetResize;
}

/** RGB(A) pixels → the network input, float32 [3, size, size] (the batch dimension is the caller's). */
export function u2netPreprocess(img: RGBAImage, size = U2NET_SIZE, options: U2NetPreprocessOptions = {}): Float32Array {
  const resize = options.resize ?? 'bilinear';
  if (!U2NET_RESIZES.includes(resize)) throw new ArgumentError('u2netPreprocess', 'options.resize', `is ${JSON.stringify(resize)}`, U2NET_RESIZES.join(' or '));
  const n = img.width * img.height;
  const rgb = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[c * n + i] = img.data[4 * i + c] / 255;
  const x = (resize === 'antialias' ? resizeAntialiasCHW : resizeBilinearConstantCHW)(rgb, 3, img.height, img.width, size, size);
  let max = 0;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  const m = size * size;
  for (let c = 0; c < 3; c++) for (let i = 0; i < m; i++) x[c * m + i] = ((max > 0 ? x[c * m + i] / max : 0) - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
  return x;
}

/** Min–max normalisation of a predicted map to [0, 1] (the official `normPRED`); a flat map becomes 0. */
export function normalizeMask(mask: Float32Array): Float32Array {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of mask) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(mask.length);
  if (hi > lo) for (let i = 0; i < mask.length; i++) out[i] = (mask[i] - lo) / (hi - lo);
  return out;
}

/** A [size, size] mask resized back to the image's resolution (bilinear, alignCorners false). */
export const maskToImageSize = (mask: Float32Array, size: number, width: number, height: number): Float32Array =>
  resizeBilinearCHW(mask, 1, size, size, height, width);

/**
 * The official mask: a [size, size] map → 8-bit mask of `width`×`height` (row-major). With `normalize`
 * (default) min–max normalised first, in float32 as the official normPRED; then ×255 truncated to 0..255
 * as PIL's float → 8-bit conversion, and resized with PIL's bilinear rule (`resizeBilinearPIL`).
 */
export function u2netMaskU8(map: Float32Array, size: number, width: number, height: number, options: { normalize?: boolean } = {}): Uint8Array {
  if (map.length !== size * size) throw new ArgumentError('u2netMaskU8', 'map', `has ${map.length} values`, `size² = ${size * size}`);
  const f = Math.fround;
  let lo = Infinity,
    hi = -Infinity;
  for (const v of map) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const norm = options.normalize ?? true,
    range = f(hi - lo);
  const u8 = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) {
    const v = f((norm ? (range > 0 ? f(f(map[i] - lo) / range) : 0) : map[i]) * 255);
    u8[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
  return resizeBilinearPIL(u8, size, size, width, height);
}
