/**
 * Weighted F-measure (Margolin, Zelnik-Manor and Tal, CVPR 2014) as the reference toolboxes compute
 * it (Margolin's MATLAB code, and PySODMetrics after it): errors of background pixels are read at
 * their nearest foreground pixel, smoothed by MATLAB's fspecial('gaussian', 7, 5) with zero padding,
 * and background errors weighted up with their distance to the foreground; β = 1.
 */
import { distanceTransformEdt } from './distance';

const EPS = 2.220446049250313e-16;

/** MATLAB's fspecial('gaussian', [size size], sigma): normalised, tiny entries (< eps·max) zeroed. */
export function matlabGaussian(size = 7, sigma = 5): Float64Array {
  const r = (size - 1) / 2,
    k = new Float64Array(size * size);
  let max = 0;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const dy = y - r,
        dx = x - r;
      max = Math.max(max, (k[y * size + x] = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))));
    }
  let sum = 0;
  for (let i = 0; i < k.length; i++) {
    if (k[i] < EPS * max) k[i] = 0;
    sum += k[i];
  }
  if (sum !== 0) for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** 2-D convolution with an odd square kernel, zero outside the image (scipy's mode='constant', cval=0). */
export function convolveZero(img: Float64Array, height: number, width: number, kernel: Float64Array, size: number): Float64Array {
  const r = (size - 1) / 2,
    out = new Float64Array(height * width);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let ky = 0; ky < size; ky++) {
        const yy = y + r - ky; // convolution flips the kernel (symmetric here, kept for exactness)
        if (yy < 0 || yy >= height) continue;
        for (let kx = 0; kx < size; kx++) {
          const xx = x + r - kx;
          if (xx < 0 || xx >= width) continue;
          s += kernel[ky * size + kx] * img[yy * width + xx];
        }
      }
      out[y * width + x] = s;
    }
  return out;
}

let gaussian: Float64Array | null = null;

/**
 * Weighted F-measure of one prediction in [0, 1] against a binary mask (1 = object). A mask without
 * foreground scores 0, as in the reference.
 */
export function weightedFmeasure(pred: ArrayLike<number>, gt: Uint8Array, height: number, width: number, beta2 = 1): number {
  const n = height * width;
  let fg = 0;
  for (let i = 0; i < n; i++) fg += gt[i];
  if (fg === 0) return 0;
  // distances of background pixels to the nearest foreground pixel (features = gt pixels)
  const notGt = new Uint8Array(n);
  for (let i = 0; i < n; i++) notGt[i] = gt[i] ? 0 : 1;
  const { distance, nearest } = distanceTransformEdt(notGt, height, width);
  const E = new Float64Array(n),
    Et = new Float64Array(n);
  for (let i = 0; i < n; i++) E[i] = Math.abs(pred[i] - gt[i]);
  for (let i = 0; i < n; i++) Et[i] = gt[i] ? E[i] : E[nearest[i]];
  gaussian ??= matlabGaussian(7, 5);
  const EA = convolveZero(Et, height, width, gaussian, 7);
  const decay = Math.log(0.5) / 5;
  let sumEwFg = 0,
    sumEwBg = 0;
  for (let i = 0; i < n; i++) {
    if (gt[i]) sumEwFg += Math.min(EA[i], E[i]);
    else sumEwBg += E[i] * (2 - Math.exp(decay * distance[i]));
  }
  const tpw = fg - sumEwFg,
    fpw = sumEwBg;
  const recall = 1 - sumEwFg / fg;
  const precision = tpw / (tpw + fpw + EPS);
  return ((1 + beta2) * recall * precision) / (recall + beta2 * precision + EPS);
}
