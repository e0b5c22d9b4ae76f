/**
 * The depthwise kernels (src/kernels/wgsl/conv-depthwise.ts) on named geometries against the float64 reference:
 * multiplier 1 and 2, stride 2, dilation 2, 5×5, odd and vec4-friendly widths, batch > 1, bias and ReLU, f16
 * storage; and that groups = C really dispatches them (the registry cases draw such geometries too).
 */
import { describe, it, expect } from 'vitest';
import { tensor, getDefaultDevice, type Tensor } from '../../src/node';
import { conv2dOp, conv2dGradInputOp, conv2dGradWeightOp } from '../../src/tensor/ops/conv';
import { refConv2d, refConv2dGradInput, refConv2dGradWeight } from '../../src/tensor/ops/ref/conv';
import { recordDispatches } from '../../src/kernels/webgpu/profile';
import type { ConvAttrs } from '../../src/base/conv-args';
import type { RefTensor } from '../../src/tensor/ops/define';
import { expectClose } from '../helpers/close';

interface Geo {
  name: string;
  N: number;
  C: number;
  Og: number;
  H: number;
  W: number;
  k: [number, number];
  s: [number, number];
  d: [number, number];
  /** top, bottom, left, right */
  p: [number, number, number, number];
}

const GEOS: Geo[] = [
  { name: '3×3 same, 8 ch @16² (vec4 rows)', N: 1, C: 8, Og: 1, H: 16, W: 16, k: [3, 3], s: [1, 1], d: [1, 1], p: [1, 1, 1, 1] },
  { name: '3×3 multiplier 2, batch 2, odd 9×13', N: 2, C: 3, Og: 2, H: 9, W: 13, k: [3, 3], s: [1, 1], d: [1, 1], p: [1, 1, 1, 1] },
  { name: '3×3 stride 2, 11×12', N: 1, C: 4, Og: 1, H: 11, W: 12, k: [3, 3], s: [2, 2], d: [1, 1], p: [1, 1, 1, 1] },
  { name: '3×3 dilation 2 (U²-Net), 12×20', N: 2, C: 5, Og: 1, H: 12, W: 20, k: [3, 3], s: [1, 1], d: [2, 2], p: [2, 2, 2, 2] },
  { name: '5×5, multiplier 2, asymmetric padding, 10×8', N: 1, C: 3, Og: 2, H: 10, W: 8, k: [5, 5], s: [1, 1], d: [1, 1], p: [1, 3, 0, 4] },
  { name: '5×3 stride (1, 2) dilation (2, 1), 17×19', N: 3, C: 2, Og: 3, H: 17, W: 19, k: [5, 3], s: [1, 2], d: [2, 1], p: [3, 0, 2, 1] },
  { name: '1×1, 4×4', N: 1, C: 6, Og: 1, H: 4, W: 4, k: [1, 1], s: [1, 1], d: [1, 1], p: [0, 0, 0, 0] },
  { name: 'one channel, 1×1 image', N: 2, C: 1, Og: 2, H: 1, W: 1, k: [3, 3], s: [1, 1], d: [1, 1], p: [1, 1, 1, 1] },
];

const ext = (i: number, p0: number, p1: number, k: number, s: number, d: number) => Math.floor((i + p0 + p1 - d * (k - 1) - 1) / s) + 1;
let seed = 1;
const ref = (shape: number[]): RefTensor => ({
  shape,
  dtype: 'float32',
  // deterministic values in [-1, 1], exactly representable in f32
  data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(Math.sin(seed++ * 12.9898) * 0.999)),
});
const gpu = (r: RefTensor, dtype: 'float32' | 'float16' = 'float32') => tensor(Float32Array.from(r.data), { shape: r.shape, dtype });
describe('depthwise conv kernels vs float64 reference', () => {
  for (const g of GEOS) {
    const a: ConvAttrs = { stride: g.s, padding: g.p, dilation: g.d, groups: g.C };
    const OH = ext(g.H, g.p[0], g.p[1], g.k[0], g.s[0], g.d[0]),
      OW = ext(g.W, g.p[2], g.p[3], g.k[1], g.s[1], g.d[1]);
    const O = g.C * g.Og;
    it(g.name, async () => {
      const x = ref([g.N, g.C, g.H, g.W]),
        w = ref([O, 1, ...g.k]),
        b = ref([O]),
        dy = ref([g.N, O, OH, OW]);
      const tol = { rtol: 1e-4, atol: 1e-5 };
      for (const act of ['none', 'relu'] as const) {
        const y = conv2dOp.call1([gpu(x), gpu(w), gpu(b)], { ...a, act });
        expectClose(await y.data(), refConv2d(x, w, b, { ...a, act }), tol, `forward act ${act}`);
      }
      const dx = conv2dGradInputOp.call1([gpu(dy), gpu(w)], { ...a, inSize: [g.H, g.W] });
      expectClose(await dx.data(), refConv2dGradInput(dy, w, { ...a, inSize: [g.H, g.W] }), tol, 'grad-input');
      const dw = conv2dGradWeightOp.call1([gpu(x), gpu(dy)], { ...a, kSize: g.k });
      expectClose(await dw.data(), refConv2dGradWeight(x, dy, { ...a, kSize: g.k }), { rtol: 1e-4, atol: 1e-4 }, 'grad-weight');
    });
  }

  it('f16 storage: forward rounds the f32-accumulated result once', async () => {
    const g = GEOS[3];
    const a: ConvAttrs = { stride: g.s, padding: g.p, dilation: g.d, groups: g.C, act: 'relu' };
    const x = ref([g.N, g.C, g.H, g.W]),
      w = ref([g.C, 1, ...g.k]),
      b = ref([g.C]);
    // the reference on the f16-rounded inputs
    const x16 = gpu(x, 'float16'),
      w16 = gpu(w, 'float16'),
      b16 = gpu(b, 'float16');
    const asRef = async (t: Tensor): Promise<RefTensor> => ({ shape: [...t.shape], dtype: 'float32', data: Float64Array.from(await t.data()) });
    const y = conv2dOp.call1([x16, w16, b16], a);
    expect(y.dtype).toBe('float16');
    expectClose(await y.data(), refConv2d(await asRef(x16), await asRef(w16), await asRef(b16), a), { rtol: 2e-3, atol: 2e-3 }, 'f16 forward');
  });

  it('groups = C dispatches the depthwise kernels in all three passes; groups < C does not', () => {
    const dev = getDefaultDevice();
    const labels = (fn: () => unknown) => recordDispatches(dev, fn).dispatches.map((d) => d.kernel.pipeline.label);
    const x = gpu(ref([1, 4, 8, 8])),
      dy = gpu(ref([1, 8, 8, 8]));
    const a: ConvAttrs = { stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1], groups: 4 };
    const fwd = labels(() => conv2dOp.call1([x, gpu(ref([8, 1, 3, 3]))], a));
    const dx = labels(() => conv2dGradInputOp.call1([dy, gpu(ref([8, 1, 3, 3]))], { ...a, inSize: [8, 8] }));
    const dw = labels(() => conv2dGradWeightOp.call1([x, dy], { ...a, kSize: [3, 3] }));
    for (const l of [...fwd, ...dx, ...dw]) expect(l).toMatch(/^convDepthwise/);
    expect(dw.length).toBe(2);
    const grouped = labels(() => conv2dOp.call1([x, gpu(ref([8, 2, 3, 3]))], { ...a, groups: 2 }));
    // grouped convs with several channels per group take the generic or row kernels, never the depthwise ones
    expect(grouped.length).toBeGreaterThan(0);
    expect(grouped.some((l) => l.startsWith('convDepthwise'))).toBe(false);
  });
});
