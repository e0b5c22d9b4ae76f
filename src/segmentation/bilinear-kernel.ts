/**
 * d2l's `bilinear_kernel` (FCN, Long et al. 2015): the weight that makes a transposed convolution of
 * kernel 2s, stride s and padding s/2 an s× bilinear upsampler, used to initialise FCN's last layer.
 */
import { ArgumentError } from '../base/shape';
import type { Device } from '../kernels/webgpu/device';
import { tensor } from '../tensor/ops/creation';
import type { Tensor } from '../tensor/tensor';

/**
 * The bilinear interpolation filter of size `kernelSize`² as d2l computes it: with factor f = ⌊(k + 1)/2⌋
 * and centre c = f − 1 (k odd) or f − 0.5 (k even), `filt[i][j] = (1 − |i − c|/f)·(1 − |j − c|/f)`.
 */
export function bilinearFilter(kernelSize: number): Float64Array {
  const k = kernelSize;
  const f = Math.floor((k + 1) / 2);
  const c = k % 2 === 1 ? f - 1 : f - 0.5;
  const out = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) out[i * k + j] = (1 - Math.abs(i - c) / f) * (1 - Math.abs(j - c) / f);
  return out;
}

/**
 * A transposed convolution weight (inChannels, outChannels, kernelSize, kernelSize) float32 holding the
 * bilinear filter ({@link bilinearFilter}) at each pair (i, i) and zeros elsewhere, exactly as d2l's
 * `bilinear_kernel` (`weight[range(in), range(out)] = filt`, so inChannels must equal outChannels, or one
 * of them be 1, when NumPy-style indexing broadcasts it). With `convTranspose2d(x, w, { stride: s,
 * padding: s / 2 })` and kernelSize 2s it upsamples each channel s× bilinearly (align_corners=False,
 * away from the border, where the missing neighbours count as zeros).
 *
 * @example
 * ```ts
 * import { init, ones, convTranspose2d } from '@webgrad/core/node';
 * import { bilinearKernel } from '@webgrad/core/segmentation';
 * await init();
 * const w = bilinearKernel(3, 3, 4); // (3, 3, 4, 4); each filter's rows are [0.25, 0.75, 0.75, 0.25]·[0.25, 0.75, 0.75, 0.25]
 * const y = convTranspose2d(ones([1, 3, 8, 8]), w, { stride: 2, padding: 1 });
 * console.log(y.shape); // [1, 3, 16, 16]: every interior pixel 1
 * ```
 */
export function bilinearKernel(inChannels: number, outChannels: number, kernelSize: number, options: { device?: Device } = {}): Tensor {
  const fn = 'bilinearKernel';
  for (const [arg, v] of [
    ['inChannels', inChannels],
    ['outChannels', outChannels],
    ['kernelSize', kernelSize],
  ] as const)
    if (!(Number.isInteger(v) && v > 0)) throw new ArgumentError(fn, arg, `is ${v}`, 'a positive integer');
  if (inChannels !== outChannels && inChannels !== 1 && outChannels !== 1)
    throw new ArgumentError(
      fn,
      'outChannels',
      `is ${outChannels} with inChannels ${inChannels}`,
      'equal to inChannels, or one of them 1 (d2l fills the pairs (i, i))',
    );
  const k2 = kernelSize * kernelSize;
  const filt = bilinearFilter(kernelSize);
  const w = new Float32Array(inChannels * outChannels * k2);
  for (let n = 0; n < Math.max(inChannels, outChannels); n++) {
    const i = inChannels === 1 ? 0 : n,
      o = outChannels === 1 ? 0 : n;
    w.set(filt, (i * outChannels + o) * k2);
  }
  return tensor(w, { shape: [inChannels, outChannels, kernelSize, kernelSize], device: options.device });
}
