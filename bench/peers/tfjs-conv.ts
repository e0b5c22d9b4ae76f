/**
 * TF.js (WebGPU backend) as the convolution peer, on the same adapter as webgrad (Node: Dawn via the
 * `webgpu` package, exposed as navigator.gpu). Loaded lazily so suites run without it.
 */
import { create, globals } from 'webgpu';

type TF = typeof import('@tensorflow/tfjs');
let tfp: Promise<TF> | null = null;

export function loadTF(): Promise<TF> {
  tfp ??= (async () => {
    Object.assign(globalThis, globals);
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    const nav = (globalThis as { navigator?: object }).navigator;
    if (nav && !('gpu' in nav)) Object.defineProperty(nav, 'gpu', { value: create([]), configurable: true });
    else if (!nav) Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js: the webgpu backend did not initialise');
    await tf.ready();
    return tf;
  })();
  return tfp;
}

export interface TFConvCase { N: number; C: number; H: number; W: number; O: number; k: number; stride: number; pad: number; dilation: number; }

/** Seconds per call for TF.js forward, grad-input and grad-weight of one NCHW case (TF.js computes NHWC; inputs are given in NHWC). */
export async function tfConvTimes(c: TFConvCase, time: (fn: () => void, sync: () => Promise<void>) => Promise<number>):
  Promise<{ fwd: number | string; dx: number | string; dw: number | string }> {
  const tf = await loadTF();
  const x = tf.randomNormal([c.N, c.H, c.W, c.C]) as import('@tensorflow/tfjs').Tensor4D;
  const w = tf.randomNormal([c.k, c.k, c.C, c.O]) as import('@tensorflow/tfjs').Tensor4D;
  const pad = c.pad === 0 ? 'valid' as const : [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]];
  const y = tf.conv2d(x, w, c.stride, pad, 'NHWC', c.dilation);
  const dy = tf.randomNormal(y.shape) as import('@tensorflow/tfjs').Tensor4D;
  let last: import('@tensorflow/tfjs').Tensor | null = null;
  const sync = async () => { if (last) { await last.data(); last.dispose(); last = null; } };
  const keep = (t: import('@tensorflow/tfjs').Tensor) => { if (last) last.dispose(); last = t; };
  const fwd = await time(() => keep(tf.conv2d(x, w, c.stride, pad, 'NHWC', c.dilation)), sync);
  let dx: number | string, dw: number | string;
  if (c.dilation > 1) {
    dx = dw = 'TF.js has no dilated conv2d gradients';
  } else {
    dx = await time(() => keep(tf.conv2dTranspose(dy, w, x.shape, c.stride, pad)), sync);
    // conv2dBackpropFilter is not exported; its kernel is registered under this name (what tf.grad of conv2d runs)
    const filterShape = w.shape;
    dw = await time(() => keep(tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.stride, pad, dataFormat: 'NHWC', filterShape } as never) as import('@tensorflow/tfjs').Tensor), sync);
  }
  tf.dispose([x, w, y, dy]);
  return { fwd, dx, dw };
}
