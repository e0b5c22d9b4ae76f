/**
 * conv2dFused: a convolution with its epilogue fused into the store, for inference graphs with
 * BatchNorm folded in (U²-Net): y = act(conv(cat(x, x2), w) + bias [+ r]) [+ r].
 *   - `two`: the input is the channel concat of x and x2, read in place (the concat is never built);
 *   - `act`: none, ReLU or sigmoid; `res`: a tensor of y's shape added before or after the activation.
 * Inputs: [x, w, bias, x2 (when two), r (when res ≠ 'none')]. Stride-1-along-W convs run the row kernel
 * (src/kernels/wgsl/conv-rows.ts); anything else runs the unfused ops (conv2d, concat, add, …), which
 * give the same values. The VJP is written with the public primitive ops, so it is differentiable.
 */
import type { ConvAttrs } from '../../base/conv-args';
import type { RefTensor } from '../../base/ref-tensor';
import {
  convRowsKey,
  convRowsLayout,
  convRowsSource,
  convRowsValues,
  convRowsWorkgroups,
  type ConvRowsGeometry,
  type ConvRowsVariant,
} from '../../kernels/wgsl/conv-rows';
import { empty, type Tensor } from '../tensor';
import { defineOp, type Op } from './define';
import { conv2dOp, conv2dGradInputOp, conv2dGradWeightOp } from './conv';
import { refConv2d } from './ref/conv';
import { add, le, mul, relu, sigmoid, sub, where } from './elementwise';
import { concat, narrow, permute } from './layout';
import { reshape } from './shape-ops';
import { sum } from './reduce';
import { convRowsVariant as rowsVariant, pack4 } from './conv-route';

/** Attributes of {@link conv2dFusedOp}: the conv's geometry and its epilogue. */
export interface FusedConvAttrs extends Omit<ConvAttrs, 'act'> {
  /** The input is the channel concat of x and x2. */
  two: boolean;
  act: 'none' | 'relu' | 'sigmoid';
  res: 'none' | 'before' | 'after';
}

const plain = (a: FusedConvAttrs): ConvAttrs => ({ stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups });

function parts<T>(xs: { x: T; w: T; bias: T; extra: readonly T[] }, a: FusedConvAttrs): { x2?: T; r?: T } {
  return { x2: a.two ? xs.extra[0] : undefined, r: a.res !== 'none' ? xs.extra[a.two ? 1 : 0] : undefined };
}

/** The row-kernel variant of a fused conv (always with bias), or null where only the unfused path applies. */
export function convRowsVariant(
  g: ConvRowsGeometry,
  kW: number,
  sW: number,
  dW: number,
  a: Omit<FusedConvAttrs, 'stride' | 'padding' | 'dilation' | 'groups'>,
): ConvRowsVariant | null {
  return rowsVariant(g, kW, sW, dW, { two: a.two, bias: true, act: a.act, res: a.res });
}

function unfused(x: Tensor, w: Tensor, bias: Tensor, x2: Tensor | undefined, r: Tensor | undefined, a: FusedConvAttrs): Tensor {
  const xc = x2 ? concat([x, x2], 1) : x;
  const reluInConv = a.act === 'relu' && a.res !== 'before';
  let y = conv2dOp.call1([xc, w, bias], { ...plain(a), act: reluInConv ? 'relu' : 'none' });
  if (xc !== x) xc.dispose();
  const step = (f: () => Tensor) => {
    const t = f();
    y.dispose();
    y = t;
  };
  if (a.res === 'before') step(() => add(y, r!));
  if (a.act === 'sigmoid') step(() => sigmoid(y));
  if (a.act === 'relu' && !reluInConv) step(() => relu(y));
  if (a.res === 'after') step(() => add(y, r!));
  return y;
}

/** y = act(conv(cat(x, x2), w) + bias [+ r]) [+ r] in one kernel where the row kernel applies. */
export const conv2dFusedOp: Op<FusedConvAttrs> = defineOp({
  name: 'conv2dFused',
  inputs: { x: 'tensor', w: 'tensor', bias: 'tensor', extra: 'tensor[]' },
  dtypes: ['float32'],
  shape: ({ x, w, extra }, a: FusedConvAttrs) => {
    const H = x.shape[2],
      W = x.shape[3];
    const C = x.shape[1] + (a.two ? extra[0].shape[1] : 0);
    if (w.shape[1] * a.groups !== C) throw new Error(`conv2dFused: weight ${w.shape} does not take ${C} input channels in ${a.groups} groups`);
    const ext = (i: number, p0: number, p1: number, k: number, s: number, d: number) => Math.floor((i + p0 + p1 - d * (k - 1) - 1) / s) + 1;
    return {
      shape: [
        x.shape[0],
        w.shape[0],
        ext(H, a.padding[0], a.padding[1], w.shape[2], a.stride[0], a.dilation[0]),
        ext(W, a.padding[2], a.padding[3], w.shape[3], a.stride[1], a.dilation[1]),
      ],
      dtype: 'float32',
    };
  },
  produce(ins, a) {
    const { x, w, bias } = ins;
    const { x2, r } = parts(ins, a);
    const [N, C1, H, W] = x.shape,
      [O, Cg, kH, kW] = w.shape;
    const C = C1 + (x2 ? x2.shape[1] : 0);
    const OH = Math.floor((H + a.padding[0] + a.padding[1] - a.dilation[0] * (kH - 1) - 1) / a.stride[0]) + 1;
    const OW = Math.floor((W + a.padding[2] + a.padding[3] - a.dilation[1] * (kW - 1) - 1) / a.stride[1]) + 1;
    const g: ConvRowsGeometry = {
      N,
      C,
      C1,
      H,
      W,
      O,
      OH,
      OW,
      kH,
      sH: a.stride[0],
      dH: a.dilation[0],
      pT: a.padding[0],
      pL: a.padding[2],
      G: a.groups,
      Cg,
      Og: O / a.groups,
    };
    const v = convRowsVariant(g, kW, a.stride[1], a.dilation[1], a);
    const wg = v && convRowsWorkgroups(v, g);
    if (!v || !wg || wg.some((d) => d > 65535)) return unfused(x, w, bias, x2, r, a);
    const y = empty([N, O, OH, OW], 'float32', x.device);
    const wp = v.w4 ? pack4(w) : w;
    const buffers = [x.binding, ...(x2 ? [x2.binding] : []), wp.binding, bias.binding, ...(r ? [r.binding] : []), y.binding];
    y.device.run('conv2dFused', convRowsKey(v), () => convRowsSource(v), buffers, wg, { layout: convRowsLayout, values: convRowsValues(g) });
    if (wp !== w) wp.dispose();
    return y;
  },
  reference(ins, a) {
    const { x, w, bias } = ins;
    const { x2, r } = parts(ins, a);
    let xc: RefTensor = x;
    if (x2) {
      const [N, C1, H, W] = x.shape,
        C2 = x2.shape[1],
        HW = H * W;
      const data = new Float64Array(N * (C1 + C2) * HW);
      for (let n = 0; n < N; n++) {
        data.set(x.data.subarray(n * C1 * HW, (n + 1) * C1 * HW), n * (C1 + C2) * HW);
        data.set(x2.data.subarray(n * C2 * HW, (n + 1) * C2 * HW), (n * (C1 + C2) + C1) * HW);
      }
      xc = { shape: [N, C1 + C2, H, W], dtype: 'float32', data };
    }
    const z = refConv2d(xc, w, bias, plain(a));
    const f = a.act === 'relu' ? (v: number) => Math.max(v, 0) : a.act === 'sigmoid' ? (v: number) => 1 / (1 + Math.exp(-v)) : (v: number) => v;
    const data = z.data.map((v, i) => {
      let u = a.res === 'before' ? v + r!.data[i] : v;
      u = f(u);
      return a.res === 'after' ? u + r!.data[i] : u;
    });
    return { shape: z.shape, dtype: 'float32', data };
  },
  vjp({ dy, inputs, attrs: a }) {
    const { x, w, bias } = inputs;
    const { x2, r } = parts(inputs, a);
    const p = plain(a);
    const xc = x2 ? concat([x, x2], 1) : x;
    // the pre-activation, recomputed with the unfused ops
    let u = conv2dOp.call1([xc, w, bias], p);
    if (a.res === 'before') u = add(u, r!);
    const gu = a.act === 'relu' ? where(le(u, 0), 0, dy) : a.act === 'sigmoid' ? mul(dy, mul(sigmoid(u), sub(1, sigmoid(u)))) : dy;
    const gx = conv2dGradInputOp.call1([gu, w], { ...p, inSize: [x.shape[2], x.shape[3]] });
    const C1 = x.shape[1];
    return [
      x2 ? narrow(gx, 1, 0, C1) : gx,
      conv2dGradWeightOp.call1([xc, gu], { ...p, kSize: [w.shape[2], w.shape[3]] }),
      sum(gu, { dim: [0, 2, 3] }),
      ...(x2 ? [narrow(gx, 1, C1, x2.shape[1])] : []),
      ...(r ? [a.res === 'after' ? dy : gu] : []),
    ];
  },
});
