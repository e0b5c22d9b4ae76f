/**
 * Segment Anything's ResizeLongestSide (segment_anything/utils/transforms.py) as functions: the size an image is
 * resized to (longest side = the encoder's input size), prompts moved into that frame, and the image resize itself.
 *
 * The official `apply_image` resizes a uint8 HWC array with torchvision's `resize` on a PIL image, which asks PIL for
 * its bilinear filter (torchvision's default interpolation; antialiased when shrinking, since PIL widens the filter
 * by the scale). {@link resizeImageU8} follows PIL's resampler step by step: the same filter taps and normalisation,
 * the coefficients in 22-bit fixed point, the horizontal pass first into a uint8 image, then the vertical pass; so
 * its output equals PIL's byte for byte (test/sam/transforms.test.ts compares it with the official fixture).
 */
import { PIL_FILTERS, resizePil } from '../base/pil-resize';
import { ArgumentError } from '../base/shape';
import { tensor } from '../tensor/ops/creation';
import { mul } from '../tensor/ops/elementwise';
import { matmul } from '../tensor/ops/matmul';
import { tidy } from '../tensor/scope';
import type { Tensor } from '../tensor/tensor';

/** An image as bytes: RGB (3 per pixel) or RGBA (4 per pixel, alpha ignored), row-major, top row first. */
export interface ImageBytes {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 3 or 4 bytes a pixel (the count tells which). */
  data: Uint8Array | Uint8ClampedArray;
}

/** Resampling filters of {@link resizeImageU8}: PIL's bilinear (what the official pipeline uses) and bicubic. */
export type ResizeFilter = 'bilinear' | 'bicubic';

/**
 * The (height, width) an (oldH, oldW) image is resized to so that its longer side is `longSide`
 * (ResizeLongestSide.get_preprocess_shape: each side scaled, then rounded half up).
 */
export function getPreprocessShape(oldH: number, oldW: number, longSide: number): [number, number] {
  for (const [name, v] of [
    ['oldH', oldH],
    ['oldW', oldW],
    ['longSide', longSide],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new ArgumentError('getPreprocessShape', name, `is ${v}`, 'a positive integer');
  }
  const scale = (longSide * 1.0) / Math.max(oldH, oldW);
  return [Math.floor(oldH * scale + 0.5), Math.floor(oldW * scale + 0.5)];
}

function checkSize(fn: string, originalSize: readonly number[]): void {
  if (!(originalSize.length === 2 && originalSize.every((v) => Number.isInteger(v) && v > 0)))
    throw new ArgumentError(fn, 'originalSize', `is [${originalSize.join(', ')}]`, 'a pair [H, W] of positive integers');
}

/**
 * Points (x, y pairs, flattened) in pixels of an image of `originalSize` [H, W], moved into the frame of the image
 * resized to `longSide` (apply_coords; float64 like numpy).
 */
export function applyCoords(coords: ArrayLike<number>, originalSize: readonly [number, number], longSide: number): Float64Array {
  checkSize('applyCoords', originalSize);
  if (coords.length % 2) throw new ArgumentError('applyCoords', 'coords', `has ${coords.length} numbers`, 'x, y pairs (an even count)');
  const [h, w] = originalSize;
  const [nh, nw] = getPreprocessShape(h, w, longSide);
  const out = new Float64Array(coords.length);
  for (let i = 0; i < coords.length; i += 2) {
    out[i] = coords[i] * (nw / w);
    out[i + 1] = coords[i + 1] * (nh / h);
  }
  return out;
}

/** Boxes (x1, y1, x2, y2, flattened) moved into the resized frame (apply_boxes: both corners as points). */
export function applyBoxes(boxes: ArrayLike<number>, originalSize: readonly [number, number], longSide: number): Float64Array {
  if (boxes.length % 4) throw new ArgumentError('applyBoxes', 'boxes', `has ${boxes.length} numbers`, 'x1, y1, x2, y2 quadruples (a multiple of 4)');
  checkSize('applyBoxes', originalSize);
  return applyCoords(boxes, originalSize, longSide);
}

/**
 * apply_coords_torch: a float32 tensor [..., 2] of (x, y) points moved into the resized frame on the device
 * (the scales rounded to float32, as torch multiplies a float32 tensor by a Python float).
 */
export function applyCoordsTensor(coords: Tensor, originalSize: readonly [number, number], longSide: number): Tensor {
  checkSize('applyCoordsTensor', originalSize);
  if (coords.ndim < 1 || coords.shape[coords.ndim - 1] !== 2 || coords.dtype !== 'float32')
    throw new ArgumentError('applyCoordsTensor', 'coords', `has shape [${coords.shape.join(', ')}] and dtype ${coords.dtype}`, 'float32 [..., 2]');
  const [h, w] = originalSize;
  const [nh, nw] = getPreprocessShape(h, w, longSide);
  const s = tensor([nw / w, nh / h], { device: coords.device });
  try {
    return mul(coords, s);
  } finally {
    s.dispose();
  }
}

/** apply_boxes_torch: a float32 tensor [B, 4] of boxes moved into the resized frame on the device. */
export function applyBoxesTensor(boxes: Tensor, originalSize: readonly [number, number], longSide: number): Tensor {
  if (boxes.ndim !== 2 || boxes.shape[1] !== 4 || boxes.dtype !== 'float32')
    throw new ArgumentError('applyBoxesTensor', 'boxes', `has shape [${boxes.shape.join(', ')}] and dtype ${boxes.dtype}`, 'float32 [B, 4]');
  checkSize('applyBoxesTensor', originalSize);
  const [h, w] = originalSize;
  const [nh, nw] = getPreprocessShape(h, w, longSide);
  const s = tensor([nw / w, nh / h, nw / w, nh / h], { device: boxes.device });
  try {
    return mul(boxes, s);
  } finally {
    s.dispose();
  }
}

/** Channels per pixel of an {@link ImageBytes} (3 or 4), or an ArgumentError naming `fn`. */
export function imageChannels(fn: string, image: ImageBytes): 3 | 4 {
  const { width: w, height: h, data } = image ?? ({} as ImageBytes);
  if (!(Number.isInteger(w) && w > 0 && Number.isInteger(h) && h > 0))
    throw new ArgumentError(fn, 'image', `has size ${w}×${h}`, 'positive integer width and height');
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) throw new ArgumentError(fn, 'image.data', `is ${typeof data}`, 'a Uint8Array');
  if (data.length === w * h * 3) return 3;
  if (data.length === w * h * 4) return 4;
  throw new ArgumentError(fn, 'image.data', `has ${data.length} bytes for ${w}×${h}`, `${3 * w * h} (RGB) or ${4 * w * h} (RGBA)`);
}

/**
 * Resizes 8-bit RGB(A) pixels to `outW`×`outH` as PIL's `Image.resize` does for an RGB image (the alpha channel, if
 * any, is dropped): separable filter, horizontal pass first into uint8, then vertical; each pass skipped when its
 * size does not change. Returns RGB bytes (3 per pixel).
 */
export function resizeImageU8(image: ImageBytes, outW: number, outH: number, filter: ResizeFilter = 'bilinear'): Uint8Array {
  const fn = 'resizeImageU8';
  const ch = imageChannels(fn, image);
  if (!(Number.isInteger(outW) && outW > 0 && Number.isInteger(outH) && outH > 0))
    throw new ArgumentError(fn, 'size', `is ${outW}×${outH}`, 'positive integer width and height');
  if (!Object.hasOwn(PIL_FILTERS, filter)) throw new ArgumentError(fn, 'filter', `is ${JSON.stringify(filter)}`, "'bilinear' or 'bicubic'");
  const { width: W, height: H, data } = image;
  // to packed RGB
  const src = new Uint8Array(W * H * 3);
  for (let i = 0, n = W * H; i < n; i++) for (let c = 0; c < 3; c++) src[3 * i + c] = data[ch * i + c];
  return resizePil(src, W, H, 3, outW, outH, filter);
}

/**
 * ResizeLongestSide.apply_image: the image resized so that its longer side is `longSide` (PIL's bilinear, as
 * torchvision's resize asks for). Returns the RGB bytes with their size.
 */
export function resizeLongestSide(image: ImageBytes, longSide: number, filter: ResizeFilter = 'bilinear'): { width: number; height: number; data: Uint8Array } {
  imageChannels('resizeLongestSide', image);
  const [height, width] = getPreprocessShape(image.height, image.width, longSide);
  return { width, height, data: resizeImageU8(image, width, height, filter) };
}

/**
 * The [outSize, inSize] matrix of an antialiased linear resize along one axis (PyTorch's bilinear with
 * antialias=True, which shares PIL's taps: the triangle filter widened by the scale when shrinking, weights
 * normalised per output), in float64.
 */
export function antialiasWeights(inSize: number, outSize: number): Float64Array {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const w = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const t = Math.abs((i - center + 0.5) / support);
      const v = t < 1 ? 1 - t : 0;
      w[o * inSize + i] = v;
      sum += v;
    }
    if (sum !== 0) for (let i = lo; i < hi; i++) w[o * inSize + i] /= sum;
  }
  return w;
}

/**
 * ResizeLongestSide.apply_image_torch: float32 images [B, C, H, W] resized on the device so that the longer side is
 * `longSide` (bilinear, align_corners False, antialiased as F.interpolate(antialias=True)): two matmuls with the
 * per-axis weight matrices. Within float rounding of PIL's uint8 path but not equal to it (PIL rounds to bytes
 * after each pass), as the official notes.
 */
export function resizeLongestSideTensor(x: Tensor, longSide: number): Tensor {
  const fn = 'resizeLongestSideTensor';
  if (x.ndim !== 4 || x.dtype !== 'float32') throw new ArgumentError(fn, 'x', `has shape [${x.shape.join(', ')}] and dtype ${x.dtype}`, 'float32 [B, C, H, W]');
  const [, , H, W] = x.shape;
  const [h, w] = getPreprocessShape(H, W, longSide);
  return tidy(() => {
    const wy = tensor(Float32Array.from(antialiasWeights(H, h)), { shape: [h, H], device: x.device });
    const wxT = tensor(Float32Array.from(antialiasWeights(W, w)), { shape: [w, W], device: x.device });
    // rows: [h, H] @ [B, C, H, W] → [B, C, h, W]; columns: [B, C, h, W] @ [W, w]
    return matmul(matmul(wy, x), wxT, { transB: true });
  });
}
