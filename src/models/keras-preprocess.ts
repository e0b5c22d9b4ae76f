/**
 * The input convention of Keras's ImageNet ResNet-50 (keras.applications `preprocess_input`, mode 'caffe'):
 * BGR channel order, values in [0, 255], each channel minus its ImageNet mean, no scaling by a standard
 * deviation. Both directions run on the GPU and are differentiable (style transfer optimises the image).
 */
import type { Tensor } from '../tensor/tensor';
import { tensor } from '../tensor/ops/creation';
import { add, mul, sub } from '../tensor/ops/elementwise';
import { flip } from '../tensor/ops/layout';
import { ArgumentError } from '../base/shape';
import { disposeUnlessTraced as drop } from '../nn/dispose';

/** Keras's 'caffe' per-channel means in BGR order, on the [0, 255] scale. */
export const KERAS_CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;

function check(fn: string, x: Tensor): void {
  if (!(x && typeof x === 'object' && 'shape' in x) || x.ndim !== 4 || x.shape[1] !== 3)
    throw new ArgumentError(fn, 'x', `has shape [${(x as Tensor)?.shape?.join(', ')}]`, 'an image batch [B, 3, H, W]');
}

const meanTensor = (x: Tensor) => tensor(Float32Array.from(KERAS_CAFFE_MEAN_BGR), { shape: [1, 3, 1, 1], device: x.device });

/**
 * RGB images in [0, 1] ([B, 3, H, W]) → the input Keras's ResNet-50 was trained on: BGR, ×255, minus
 * {@link KERAS_CAFFE_MEAN_BGR}.
 */
export function preprocessKerasResNet(x: Tensor): Tensor {
  check('preprocessKerasResNet', x);
  const bgr = flip(x, 1);
  const scaled = mul(bgr, 255);
  const m = meanTensor(x);
  const y = sub(scaled, m);
  drop(bgr, scaled, m);
  return y;
}

/** The inverse of {@link preprocessKerasResNet}: Keras 'caffe' input → RGB in [0, 1] (not clamped). */
export function deprocessKerasResNet(y: Tensor): Tensor {
  check('deprocessKerasResNet', y);
  const m = meanTensor(y);
  const shifted = add(y, m);
  const scaled = mul(shifted, 1 / 255);
  const x = flip(scaled, 1);
  drop(shifted, scaled, m);
  return x;
}
