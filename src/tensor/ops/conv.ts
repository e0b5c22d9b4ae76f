/**
 * Convolution family (PyTorch semantics, NCHW): three primitive ops — conv2d (fused bias and ReLU),
 * conv2dGradInput (also the transposed convolution) and conv2dGradWeight — and the public
 * conv2d / conv1d / convTranspose2d wrappers.
 */
import type { Binding } from '../../kernels/webgpu/queue';
import type { UniformValues } from '../../kernels/webgpu/uniforms';
import { convKey, convSource, convValues, convWorkgroups, convLayout, type ConvGeometry, type ConvVariant } from '../../kernels/wgsl/conv';
import {
  depthwiseKey,
  depthwiseSource,
  dwPartialLayout,
  dwSumLayout,
  dwWindowLayout,
  windowValues,
  DW_WG,
  type DepthwiseCols,
  type DepthwiseVariant,
  type DepthwiseWindowVariant,
} from '../../kernels/wgsl/conv-depthwise';
import { grid } from '../../kernels/webgpu/device';
import { convGradKey, convGradSource, convGradWorkgroups, splitSumLayout, splitSumSource, type ConvGradVariant } from '../../kernels/wgsl/conv-grad';
import { refConv2d, refConv2dGradInput, refConv2dGradWeight } from './ref/conv';
import { ArgumentError, fmtShape } from '../../base/shape';
import { GPUOpError } from '../../kernels/webgpu/device';
import { Tensor, empty } from '../tensor';
import { defineOp, type Op } from './define';
import { byBatch } from './split';
import { le, where, add as addOp } from './elementwise';
import { sum } from './reduce';
import { reshape } from './shape-ops';
import { checkGroups, normPadding, outSize, pair, type ConvAttrs, type Conv2dOptions, type Pair, type Padding } from '../../base/conv-args';
import { requireTensor } from '../require-tensor';
import { rowsForward, rowsGradInput, wideTilesHang } from './conv-route';

export type { Conv2dOptions, Padding, Pair } from '../../base/conv-args';

function geometry(x: readonly number[], w: readonly number[], y: readonly number[], a: ConvAttrs): ConvGeometry {
  const [N, C, H, W] = x,
    [O, Cg, kH, kW] = w,
    [, , OH, OW] = y;
  return {
    N,
    C,
    H,
    W,
    O,
    OH,
    OW,
    kH,
    kW,
    sH: a.stride[0],
    sW: a.stride[1],
    dH: a.dilation[0],
    dW: a.dilation[1],
    pT: a.padding[0],
    pL: a.padding[2],
    G: a.groups,
    Cg,
    Og: O / a.groups,
  };
}

function dispatch(name: string, v: ConvVariant, g: ConvGeometry, buffers: Binding[], out: Tensor): void {
  const wg = convWorkgroups(v, g);
  if (wg.some((d) => d > 65535)) {
    throw new GPUOpError(
      `${name}: a ${fmtShape(out.shape)} result needs a ${wg.join('×')} workgroup grid, past WebGPU's 65535 per dimension (split the batch or the image)`,
    );
  }
  out.device.run(name, convKey(v), () => convSource(v), [...buffers, out.binding], wg, { layout: convLayout, values: convValues(g) });
}

/**
 * Depthwise kernels (conv-depthwise.ts) for groups = C (one input channel per group, any multiplier); the generic
 * ones otherwise. `enabled: false` routes depthwise convs through the generic kernels (benchmarks compare the two).
 * Tiles (rows × pixels per thread) measured on lavapipe with bench/suites/conv.ts --depthwise.
 */
export const depthwiseConv = { enabled: true, vec: true, fwd: [4, 8] as [number, number], dx: [4, 8] as [number, number], dw: [2, 8] as [number, number] };

const isDepthwise = (g: ConvGeometry) => depthwiseConv.enabled && g.Cg === 1 && g.G === g.C;
const taps = (g: ConvGeometry): DepthwiseCols => ({ kW: g.kW, sW: g.sW, dW: g.dW });
/** Fixed tiles whatever the image (blocks past its edge are masked): one shader per kernel width, not per size too. */
const tile = ([tr, tp]: [number, number]) => ({ tr, tp });

function runDepthwise(
  name: string,
  v: DepthwiseVariant,
  buffers: Binding[],
  wg: [number, number, number],
  layout: typeof dwWindowLayout,
  values: UniformValues,
  dev: Tensor['device'],
): void {
  dev.run(name, depthwiseKey(v), () => depthwiseSource(v), buffers, wg, { layout, values });
}

/** Forward or grad-input through the window kernel: `out` from `src` with weight w (and bias). */
function depthwiseWindow(
  name: string,
  v: DepthwiseWindowVariant,
  g: ConvGeometry,
  buffers: Binding[],
  out: Tensor,
  epilogue: { hasBias: number; relu: number },
): void {
  const fwd = v.pass === 'fwd';
  const [SW, DW, pL] = fwd ? [g.W, g.OW, g.pL] : [g.OW, g.W, (g.kW - 1) * g.dW - g.pL];
  // vec4 rows where both widths allow them and the window moves by one column (no stride along the row)
  if (depthwiseConv.vec && g.sW === 1 && SW % 4 === 0 && DW % 4 === 0 && v.tp % 4 === 0) v.vec = ((-pL % 4) + 4) % 4;
  const values = windowValues(
    v,
    fwd
      ? { N: g.N, Cd: g.O, DH: g.OH, DW: g.OW, Cs: g.C, SH: g.H, SW: g.W, pT: g.pT, pL: g.pL, Og: g.Og, kH: g.kH, wsH: g.sH, dH: g.dH, uH: 1 }
      : // the adjoint: dY correlated with the flipped kernel, padded so that tap 0 meets the last output
        {
          N: g.N,
          Cd: g.C,
          DH: g.H,
          DW: g.W,
          Cs: g.O,
          SH: g.OH,
          SW: g.OW,
          pT: (g.kH - 1) * g.dH - g.pT,
          pL: (g.kW - 1) * g.dW - g.pL,
          Og: g.Og,
          kH: g.kH,
          wsH: 1,
          dH: g.dH,
          uH: g.sH,
        },
  );
  runDepthwise(name, v, [...buffers, out.binding], grid(values.n, DW_WG), dwWindowLayout, { ...values, ...epilogue }, out.device);
}

/** Grad-weight: P partial sums per (channel, kernel row) over every P-th block of dY, then their sum in a fixed order. */
function depthwiseWeight(g: ConvGeometry, x: Tensor, dy: Tensor, dw: Tensor): void {
  const { tr, tp } = tile(depthwiseConv.dw);
  const nT = Math.ceil(g.OW / tp),
    nR = Math.ceil(g.OH / tr);
  const blocks = g.N * nR * nT;
  // enough threads to fill the adapter, each with ≥ 8 blocks where there are that many
  const P = Math.max(1, Math.min(256, Math.ceil(blocks / 8)));
  const rows = g.O * g.kH;
  const part = empty([rows * P * g.kW], 'float32', x.device);
  const v1: DepthwiseVariant = { pass: 'dw', ...taps(g), tr, tp };
  // x rows as vec4s where they are multiples of 4 wide and the window moves one column per output
  if (depthwiseConv.vec && g.sW === 1 && g.W % 4 === 0 && tp % 4 === 0) v1.vec = ((-g.pL % 4) + 4) % 4;
  const n1 = rows * P;
  const values = { n: n1, P, nT, nR, N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, pT: g.pT, pL: g.pL, Og: g.Og, kH: g.kH, sH: g.sH, dH: g.dH };
  runDepthwise('conv2dGradWeight', v1, [x.binding, dy.binding, part.binding], grid(n1, DW_WG), dwPartialLayout, values, x.device);
  const n2 = rows * g.kW;
  runDepthwise('conv2dGradWeight', { pass: 'dwSum', kw: g.kW }, [part.binding, dw.binding], grid(n2, DW_WG), dwSumLayout, { n: n2, P }, x.device);
  // queued work runs in order, so the pool may hand the scratch buffer out again right away
  part.dispose();
}

const convOutShape = (x: readonly number[], w: readonly number[], a: ConvAttrs) => [
  x[0],
  w[0],
  outSize('conv2d', x[2], a.padding[0], a.padding[1], w[2], a.stride[0], a.dilation[0]),
  outSize('conv2d', x[3], a.padding[2], a.padding[3], w[3], a.stride[1], a.dilation[1]),
];

/**
 * Pixels (taps for grad-weight) per thread in the 4-channel kernels: 8 measured ≥ 4 on lavapipe (scratch sweep over
 * 512→512@20², 64→64@80²/56²); benchmarks may change them. Rows of at least `wideRow` pixels use `wide` instead
 * (16: U²-NetP 64→64@64² batch 8 forward 639 → 484 ms CPU, grad-input 514 → 438 ms; neutral on 16-pixel rows).
 */
export const convTiles = { fwd: 8, dx: 8, dw: 8, wide: 16, wideRow: 32 };
// Dawn's SwiftShader (headless Chromium's WebGPU without a GPU) never finishes the padded 16-pixel
// variants (the device is lost after minutes; 8-pixel tiles run in 0.2 s), so it keeps the base tile.
const rowTile = (base: number, row: number, info?: GPUAdapterInfo) => (row >= convTiles.wideRow && !wideTilesHang(info) ? convTiles.wide : base);

/**
 * The conv-grad.ts kernels: grad-weight whenever Og ≥ 2, grad-input when strided (its phase-uniform workgroups skip
 * the taps a stride rules out; at stride 1 the conv.ts tiling measured as fast) with Cg ≥ 2. A single channel
 * per group (depthwise) keeps the conv.ts tiling.
 * Channels per workgroup: 16 from 16 channels, else 8 from 8, else 4.
 */
const gradTc = (ch: number, max: 4 | 8 | 16): 4 | 8 | 16 => (ch >= 16 && max >= 16 ? 16 : ch >= 8 && max >= 8 ? 8 : 4);
/** Pixels per lane of the grad-input kernel (2: 16 channels × 2 pixels of vec4 accumulators per lane). */
export const convGradTiles: { dxPixels: number; dxTc: 4 | 8 | 16; dwTaps: number; dwTc: 4 | 8 | 16; dwMinWorkgroups: number; dwMinRows: number } = {
  dxPixels: 8,
  dxTc: 8,
  dwTaps: 8,
  dwTc: 8,
  dwMinWorkgroups: 128,
  dwMinRows: 8,
};
/**
 * Split-K for grad-weight: cut the output rows into chunks (each at least `dwMinRows` rows) until there are
 * `dwMinWorkgroups` workgroups, then sum the partial slabs. A function of the shapes only.
 */
export function dwSplit(g: ConvGeometry, tc: number): number {
  const wgs = Math.ceil((g.Cg * g.kH * g.kW) / convGradTiles.dwTaps / 8) * Math.ceil(g.Og / tc) * g.G;
  const want = Math.ceil(convGradTiles.dwMinWorkgroups / wgs);
  return Math.max(1, Math.min(want, Math.floor((g.N * g.OH) / convGradTiles.dwMinRows), g.OH));
}

function gradDispatch(name: string, v: ConvGradVariant, g: ConvGeometry, buffers: Binding[], out: Tensor): void {
  const wg = convGradWorkgroups(v, g);
  if (wg.some((d) => d > 65535)) {
    throw new GPUOpError(
      `${name}: a ${fmtShape(out.shape)} result needs a ${wg.join('×')} workgroup grid, past WebGPU's 65535 per dimension (split the batch or the image)`,
    );
  }
  const dev = out.device;
  const values = convValues(g);
  if (v.split <= 1) {
    dev.run(name, convGradKey(v), () => convGradSource(v), [...buffers, out.binding], wg, { layout: convLayout, values });
    return;
  }
  const M = out.size;
  const part = empty([v.split * M], 'float32', dev);
  dev.run(name, convGradKey(v), () => convGradSource(v), [...buffers, part.binding], wg, { layout: convLayout, values });
  dev.run(`${name}:splitSum`, 'convGrad:splitSum', splitSumSource, [part.binding, out.binding], grid(M, 64), {
    layout: splitSumLayout,
    values: { M, S: v.split },
  });
  part.dispose();
}

const plain = (a: ConvAttrs): ConvAttrs => ({ stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups });

/** y = act(conv(x, w) + bias); inputs [x, w] or [x, w, bias]. */
export const conv2dOp: Op<ConvAttrs> = defineOp({
  name: 'conv2d',
  inputs: { x: 'tensor', w: 'tensor', bias: 'tensor?' },
  // float16 (inference): f16 storage, f32 accumulation; the wrapper checked that w and bias match x
  dtypes: ['float32', 'float16'],
  shape: ({ x, w }, a: ConvAttrs) => ({ shape: convOutShape(x.shape, w.shape, a), dtype: x.dtype === 'float16' ? 'float16' : 'float32' }),
  forward({ x, w, bias }, a, [y]) {
    const g = geometry(x.shape, w.shape, y.shape, a);
    const inputs = bias !== undefined ? [x.binding, w.binding, bias.binding] : [x.binding, w.binding];
    if (isDepthwise(g)) {
      const v: DepthwiseWindowVariant = { pass: 'fwd', ...taps(g), ...tile(depthwiseConv.fwd) };
      if (x.dtype === 'float16') v.elem = 'f16';
      // without a bias the weight stands in for its binding (≥ O elements; hasBias = 0 ignores it)
      depthwiseWindow('conv2d', v, g, [x.binding, w.binding, (bias ?? w).binding], y, { hasBias: bias ? 1 : 0, relu: a.act === 'relu' ? 1 : 0 });
      return;
    }
    if (rowsForward(g, x, w, bias, a, y)) return; // float32, stride 1 along W, not depthwise
    const depthwise = g.Cg === 1 && g.Og < 4;
    const v: ConvVariant = {
      kind: 'fwd',
      tc: depthwise ? 1 : 4,
      tp: depthwise ? 8 : rowTile(convTiles.fwd, g.OW, x.device.adapterInfo),
      bias: bias !== undefined,
      act: a.act ?? 'none',
    };
    if (x.dtype === 'float16') v.elem = 'f16';
    dispatch('conv2d', v, g, inputs, y);
  },
  split: byBatch('x'),
  reference: ({ x, w, bias }, a) => refConv2d(x, w, bias, a),
  vjp({ dy, inputs: { x, w, bias }, outputs: [y], attrs: a }) {
    const g = a.act === 'relu' ? where(le(y, 0), 0, dy) : dy; // as relu's VJP (NaN passes)
    const p = plain(a);
    return [
      conv2dGradInputOp.call1([g, w], { ...p, inSize: [x.shape[2], x.shape[3]] }),
      conv2dGradWeightOp.call1([x, g], { ...p, kSize: [w.shape[2], w.shape[3]] }),
      bias === undefined ? null : sum(g, { dim: [0, 2, 3] }),
    ];
  },
});

/** dX from (dY, w): the adjoint of conv2d in x, for an input of spatial size attrs.inSize. */
export const conv2dGradInputOp: Op<ConvAttrs> = defineOp({
  name: 'conv2dGradInput',
  inputs: { dy: 'tensor', w: 'tensor' },
  shape: ({ dy, w }, a: ConvAttrs) => ({ shape: [dy.shape[0], w.shape[1] * a.groups, a.inSize![0], a.inSize![1]], dtype: 'float32' }),
  forward({ dy, w }, a, [dx]) {
    const g = geometry(dx.shape, w.shape, dy.shape, a);
    if (isDepthwise(g)) {
      const v: DepthwiseWindowVariant = { pass: 'dx', ...taps(g), ...tile(depthwiseConv.dx) };
      depthwiseWindow('conv2dGradInput', v, g, [dy.binding, w.binding], dx, { hasBias: 0, relu: 0 });
      return;
    }
    if (rowsGradInput(g, dy, w, dx)) return; // stride 1, not depthwise: a conv of dY with the flipped weights
    if (g.Cg >= 2 && (g.sH > 1 || g.sW > 1)) {
      gradDispatch(
        'conv2dGradInput',
        { kind: 'dx', tc: gradTc(g.Cg, convGradTiles.dxTc), tp: convGradTiles.dxPixels, split: 1 },
        g,
        [dy.binding, w.binding],
        dx,
      );
      return;
    }
    const v: ConvVariant = {
      kind: 'dx',
      tc: g.Cg === 1 ? 1 : 4,
      tp: g.Cg === 1 ? 8 : rowTile(convTiles.dx, Math.ceil(g.W / g.sW), dy.device.adapterInfo),
      bias: false,
      act: 'none',
    };
    dispatch('conv2dGradInput', v, g, [dy.binding, w.binding], dx);
  },
  split: byBatch('dy'),
  reference: ({ dy, w }, a) => refConv2dGradInput(dy, w, a),
  vjp({ dy: gx, inputs: { dy, w }, attrs: a }) {
    const p = plain(a);
    return [conv2dOp.call1([gx, w], p), conv2dGradWeightOp.call1([gx, dy], { ...p, kSize: [w.shape[2], w.shape[3]] })];
  },
});

/** dW from (x, dY): the adjoint of conv2d in w, for a kernel of size attrs.kSize. */
export const conv2dGradWeightOp: Op<ConvAttrs> = defineOp({
  name: 'conv2dGradWeight',
  inputs: { x: 'tensor', dy: 'tensor' },
  shape: ({ x, dy }, a: ConvAttrs) => ({ shape: [dy.shape[1], x.shape[1] / a.groups, a.kSize![0], a.kSize![1]], dtype: 'float32' }),
  forward({ x, dy }, a, [dw]) {
    const g = geometry(x.shape, dw.shape, dy.shape, a);
    if (isDepthwise(g)) {
      depthwiseWeight(g, x, dy, dw);
      return;
    }
    if (g.Og >= 2) {
      const tc = gradTc(g.Og, convGradTiles.dwTc);
      gradDispatch('conv2dGradWeight', { kind: 'dw', tc, tp: convGradTiles.dwTaps, split: dwSplit(g, tc) }, g, [x.binding, dy.binding], dw);
      return;
    }
    const v: ConvVariant = { kind: 'dw', tc: g.Og < 4 ? 1 : 4, tp: convTiles.dw, bias: false, act: 'none' };
    dispatch('conv2dGradWeight', v, g, [x.binding, dy.binding], dw);
  },
  // a sum over the batch: chunks' weight gradients add up
  split: () => ({ kind: 'batch-sum', batched: ['x', 'dy'] }),
  reference: ({ x, dy }, a) => refConv2dGradWeight(x, dy, a),
  vjp({ dy: gw, inputs: { x, dy }, attrs: a }) {
    const p = plain(a);
    return [conv2dGradInputOp.call1([dy, gw], { ...p, inSize: [x.shape[2], x.shape[3]] }), conv2dOp.call1([x, gw], p)];
  },
});

// ---------------------------------------------------------------- public wrappers

/** `dtype`: the dtype required (float32, or the input's dtype for weight and bias of a float16 conv2d). */
function checkTensor(fn: string, arg: string, t: unknown, rank: number, what: string, dtype: 'float32' | 'float16' = 'float32', why = ''): Tensor {
  requireTensor(fn, arg, t, `a Tensor of rank ${rank} (${what})`);
  if (t.ndim !== rank) throw new ArgumentError(fn, arg, `has shape ${fmtShape(t.shape)}`, `rank ${rank} (${what})`);
  if (t.dtype !== dtype) throw new ArgumentError(fn, arg, `has dtype ${t.dtype}`, `${dtype}${why}`);
  return t;
}

function checkBias(fn: string, bias: unknown, channels: number, dtype: 'float32' | 'float16' = 'float32'): Tensor | undefined {
  if (bias === undefined || bias === null) return undefined;
  const b = checkTensor(fn, 'bias', bias, 1, `[${channels}]`, dtype, dtype === 'float16' ? ' (the dtype of input)' : '');
  if (b.shape[0] !== channels) throw new ArgumentError(fn, 'bias', `has shape ${fmtShape(b.shape)}`, `[${channels}] (one per output channel)`);
  return b;
}

function checkOut(fn: string, x: Tensor, w: readonly number[], a: ConvAttrs, out: readonly number[]): void {
  if (out[2] <= 0 || out[3] <= 0) {
    throw new ArgumentError(
      fn,
      'input',
      `has spatial size ${fmtShape(x.shape.slice(2))}, which with kernel ${fmtShape(w.slice(2))}, padding [top ${a.padding[0]}, bottom ${a.padding[1]}, left ${a.padding[2]}, right ${a.padding[3]}], stride ${fmtShape(a.stride)} and dilation ${fmtShape(a.dilation)} gives an output of ${fmtShape(out.slice(2))}`,
      'an output size ≥ 1 (input + padding ≥ dilation·(kernel − 1) + 1)',
    );
  }
}

/**
 * 2-D convolution like torch.nn.functional.conv2d. x: [N, Cin, H, W]; w: [Cout, Cin/groups, kH, kW].
 * `padding`: number, [pH, pW], [left, right, top, bottom] (F.pad order), 'same' (stride 1) or 'valid'.
 * `activation: 'relu'` fuses a ReLU after the bias. float16 x, w and bias (forward only) accumulate in
 * f32 and round the result to float16.
 *
 * @example
 * ```ts
 * import { init, random, randn, conv2d } from '@webgrad/core/node';
 * await init();
 * const [k1, k2] = random.split(random.key(0));
 * const x = randn(k1, [1, 3, 8, 8]); // N, C, H, W
 * const w = randn(k2, [4, 3, 3, 3]); // out, in, kH, kW
 * console.log(conv2d(x, w, { padding: 1 }).shape); // [1, 4, 8, 8]
 * console.log(conv2d(x, w, { stride: 2 }).shape); // [1, 4, 3, 3]
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, o: Conv2dOptions = {}): Tensor {
  const fn = 'conv2d';
  // float16 input (inference only: no gradient kernels) needs float16 weight and bias
  const dtype = x instanceof Tensor && x.dtype === 'float16' ? 'float16' : 'float32';
  checkTensor(fn, 'input', x, 4, '[N, Cin, H, W]', dtype);
  checkTensor(fn, 'weight', w, 4, '[Cout, Cin/groups, kH, kW]', dtype, dtype === 'float16' ? ' (the dtype of input; cast the weights too)' : '');
  const groups = checkGroups(
    fn,
    o.groups ?? 1,
    x.shape[1],
    w.shape[0],
    `input channels of ${fmtShape(x.shape)}`,
    `output channels of weight ${fmtShape(w.shape)}`,
  );
  if (w.shape[1] * groups !== x.shape[1]) {
    throw new ArgumentError(
      fn,
      'weight',
      `has shape ${fmtShape(w.shape)}: in-channels ${w.shape[1]} × groups ${groups} = ${w.shape[1] * groups}`,
      `${x.shape[1]} (the input channels of input ${fmtShape(x.shape)})`,
    );
  }
  if (w.shape.some((d) => d === 0)) throw new ArgumentError(fn, 'weight', `has shape ${fmtShape(w.shape)}`, 'non-zero sizes');
  const stride = pair(fn, 'stride', o.stride ?? 1, 1),
    dilation = pair(fn, 'dilation', o.dilation ?? 1, 1);
  const padding = normPadding(fn, o.padding ?? 0, [w.shape[2], w.shape[3]], stride, dilation);
  const act = o.activation ?? 'none';
  if (act !== 'none' && act !== 'relu') throw new ArgumentError(fn, 'activation', `is ${JSON.stringify(act)}`, "'none' or 'relu'");
  const a: ConvAttrs = { stride, padding, dilation, groups, act };
  checkOut(fn, x, w.shape, a, convOutShape(x.shape, w.shape, a));
  const b = checkBias(fn, o.bias, w.shape[0], dtype);
  return conv2dOp.call1(b ? [x, w, b] : [x, w], a);
}

/** Options of {@link conv1d}: stride, padding, dilation and groups, as torch.nn.functional.conv1d. */
export interface Conv1dOptions {
  /** Bias tensor [out] added to every output position (default: none). */
  bias?: unknown;
  /** Step of the kernel over the input (default 1). */
  stride?: number;
  /** Zero padding added on each side, or 'same' / 'valid' (default 0). */
  padding?: number | readonly [number, number] | 'same' | 'valid';
  /** Spacing between kernel elements (default 1). */
  dilation?: number;
  /** Split input and output channels into this many groups, each convolved separately (default 1). */
  groups?: number;
  /** 'relu' fuses a ReLU into the convolution kernel (default 'none'). */
  activation?: 'none' | 'relu';
}

/** 1-D convolution like torch.nn.functional.conv1d: x [N, Cin, L], w [Cout, Cin/groups, k]; padding a number, [left, right], 'same' or 'valid'. */
export function conv1d(x: Tensor, w: Tensor, o: Conv1dOptions = {}): Tensor {
  const fn = 'conv1d';
  checkTensor(fn, 'input', x, 3, '[N, Cin, L]');
  checkTensor(fn, 'weight', w, 3, '[Cout, Cin/groups, k]');
  const one = (arg: string, v: unknown, min: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, `an integer ≥ ${min}`);
    return v;
  };
  const p = o.padding ?? 0;
  const padding: Padding = typeof p === 'string' ? p : Array.isArray(p) ? [p[0], p[1], 0, 0] : [one('padding', p, 0), p as number, 0, 0];
  const y = conv2d(reshape(x, [x.shape[0], x.shape[1], 1, x.shape[2]]), reshape(w, [w.shape[0], w.shape[1], 1, w.shape[2]]), {
    bias: o.bias,
    stride: [1, one('stride', o.stride ?? 1, 1)],
    dilation: [1, one('dilation', o.dilation ?? 1, 1)],
    padding,
    groups: o.groups,
    activation: o.activation,
  });
  return reshape(y, [y.shape[0], y.shape[1], y.shape[3]]);
}

/**
 * Options of {@link convTranspose2d}: stride, padding, output padding, dilation and groups, as
 * torch.nn.functional.conv_transpose2d.
 */
export interface ConvTranspose2dOptions {
  /** Bias tensor [out] added to every output position (default: none). */
  bias?: unknown;
  /** Step of the kernel over the input (default 1). */
  stride?: Pair;
  /**
   * Removes this many rows and columns from each side of the full transposed output (default 0), as PyTorch's
   * padding.
   */
  padding?: Pair;
  /** Extra rows and columns on one side of the output, to pick among output sizes a stride allows (default 0). */
  outputPadding?: Pair;
  /** Spacing between kernel elements (default 1). */
  dilation?: Pair;
  /** Split input and output channels into this many groups, each convolved separately (default 1). */
  groups?: number;
}

/**
 * Transposed 2-D convolution like torch.nn.functional.conv_transpose2d. x: [N, Cin, H, W]; w: [Cin, Cout/groups, kH, kW].
 * Output size per dim: (H − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
 */
export function convTranspose2d(x: Tensor, w: Tensor, o: ConvTranspose2dOptions = {}): Tensor {
  const fn = 'convTranspose2d';
  checkTensor(fn, 'input', x, 4, '[N, Cin, H, W]');
  checkTensor(fn, 'weight', w, 4, '[Cin, Cout/groups, kH, kW]');
  const groups = checkGroups(fn, o.groups ?? 1, x.shape[1], w.shape[0], `input channels of ${fmtShape(x.shape)}`, `weight's first dim of ${fmtShape(w.shape)}`);
  if (w.shape[0] !== x.shape[1])
    throw new ArgumentError(fn, 'weight', `has shape ${fmtShape(w.shape)}`, `first dim ${x.shape[1]} (the input channels of input ${fmtShape(x.shape)})`);
  if (w.shape.some((d) => d === 0)) throw new ArgumentError(fn, 'weight', `has shape ${fmtShape(w.shape)}`, 'non-zero sizes');
  const stride = pair(fn, 'stride', o.stride ?? 1, 1),
    dilation = pair(fn, 'dilation', o.dilation ?? 1, 1);
  const pad = pair(fn, 'padding', o.padding ?? 0, 0),
    op = pair(fn, 'outputPadding', o.outputPadding ?? 0, 0);
  for (let i = 0; i < 2; i++) {
    if (op[i] >= stride[i] && op[i] >= dilation[i])
      throw new ArgumentError(
        fn,
        'outputPadding',
        `is ${fmtShape(op)}`,
        `smaller than stride ${fmtShape(stride)} or dilation ${fmtShape(dilation)} in each dim`,
      );
  }
  const size = [0, 1].map((i) => (x.shape[2 + i] - 1) * stride[i] - 2 * pad[i] + dilation[i] * (w.shape[2 + i] - 1) + op[i] + 1) as [number, number];
  if (size[0] <= 0 || size[1] <= 0) {
    throw new ArgumentError(
      fn,
      'input',
      `has spatial size ${fmtShape(x.shape.slice(2))}, which with kernel ${fmtShape(w.shape.slice(2))}, stride ${fmtShape(stride)}, padding ${fmtShape(pad)}, dilation ${fmtShape(dilation)} and outputPadding ${fmtShape(op)} gives an output of ${fmtShape(size)}`,
      'an output size ≥ 1',
    );
  }
  const b = checkBias(fn, o.bias, w.shape[1] * groups);
  const y = conv2dGradInputOp.call1([x, w], { stride, dilation, groups, padding: [pad[0], pad[0] - op[0], pad[1], pad[1] - op[1]], inSize: size });
  return b ? addChannelBias(y, b) : y;
}

function addChannelBias(y: Tensor, b: Tensor): Tensor {
  return addOp(y, reshape(b, [1, b.shape[0], 1, 1]));
}
