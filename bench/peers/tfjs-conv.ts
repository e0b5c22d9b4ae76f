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
  /** Depthwise (groups = C, channel multiplier O / C): TF.js depthwiseConv2d and its two backprop kernels. */
  depthwise?: boolean;
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
  // depthwise filters are [kH, kW, C, multiplier]
  const w = tf.randomNormal([c.k, c.k, c.C, c.depthwise ? c.O / c.C : c.O]) as T4;
  const pad =
    c.pad === 0
      ? ('valid' as const)
      : ([
          [0, 0],
          [c.pad, c.pad],
          [c.pad, c.pad],
          [0, 0],
        ] as [[number, number], [number, number], [number, number], [number, number]]);
  const fwd = () => (c.depthwise ? tf.depthwiseConv2d(x, w, c.stride, pad, 'NHWC', c.dilation) : tf.conv2d(x, w, c.stride, pad, 'NHWC', c.dilation));
  const y = fwd();
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
  const missing = `TF.js has no dilated ${c.depthwise ? 'depthwiseConv2d' : 'conv2d'} gradients`;
  if (c.depthwise) {
    // the kernels tf.grad(depthwiseConv2d) runs (their ops are not exported)
    const attrs = { strides: c.stride, pad, dilations: 1 };
    const run = (name: string, inputs: object, extra: object) => () =>
      keep(tf.engine().runKernel(name, inputs as never, { ...attrs, ...extra } as never) as import('@tensorflow/tfjs').Tensor);
    return {
      fwd: { run: () => keep(fwd()), sync },
      dx: c.dilation > 1 ? { missing } : { run: run('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { inputShape: x.shape }), sync },
      dw: c.dilation > 1 ? { missing } : { run: run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { filterShape: w.shape }), sync },
      dispose: () => {
        void sync();
        tf.dispose([x, w, dy]);
      },
    };
  }
  return {
    fwd: { run: () => keep(fwd()), sync },
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
