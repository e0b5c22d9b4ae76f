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

export interface TFConvCase {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  k: number;
  stride: number;
  pad: number;
  dilation: number;
}

export type Runner = { run: () => void; sync: () => Promise<void> } | { missing: string };

/**
 * TF.js forward, grad-input (conv2dTranspose) and grad-weight (its registered Conv2DBackpropFilter kernel,
 * which tf.grad of conv2d runs; the op itself is not exported) for one case. TF.js computes NHWC, so the
 * inputs are made NHWC. `dispose` frees them.
 */
export async function tfConvRunners(c: TFConvCase): Promise<{ fwd: Runner; dx: Runner; dw: Runner; dispose: () => void }> {
  const tf = await loadTF();
  type T4 = import('@tensorflow/tfjs').Tensor4D;
  const x = tf.randomNormal([c.N, c.H, c.W, c.C]) as T4;
  const w = tf.randomNormal([c.k, c.k, c.C, c.O]) as T4;
  const pad =
    c.pad === 0
      ? ('valid' as const)
      : ([
          [0, 0],
          [c.pad, c.pad],
          [c.pad, c.pad],
          [0, 0],
        ] as [[number, number], [number, number], [number, number], [number, number]]);
  const y = tf.conv2d(x, w, c.stride, pad, 'NHWC', c.dilation);
  const dy = tf.randomNormal(y.shape) as T4;
  y.dispose();
  let last: import('@tensorflow/tfjs').Tensor | null = null;
  const sync = async () => {
    if (last) {
      await last.data();
      last.dispose();
      last = null;
    }
  };
  const keep = (t: import('@tensorflow/tfjs').Tensor) => {
    if (last) last.dispose();
    last = t;
  };
  const missing = 'TF.js has no dilated conv2d gradients';
  return {
    fwd: { run: () => keep(tf.conv2d(x, w, c.stride, pad, 'NHWC', c.dilation)), sync },
    dx: c.dilation > 1 ? { missing } : { run: () => keep(tf.conv2dTranspose(dy, w, x.shape, c.stride, pad)), sync },
    dw:
      c.dilation > 1
        ? { missing }
        : {
            run: () =>
              keep(
                tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
                  strides: c.stride,
                  pad,
                  dataFormat: 'NHWC',
                  filterShape: w.shape,
                } as never) as import('@tensorflow/tfjs').Tensor,
              ),
            sync,
          },
    dispose: () => {
      void sync();
      tf.dispose([x, w, dy]);
    },
  };
}
