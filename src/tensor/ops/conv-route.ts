/**
 * Routes the public conv2d forward and the stride-1 grad-input through the row kernel
 * (src/kernels/wgsl/conv-rows.ts: a thread owns 4 output channels × 8/16 pixels of a row and reuses its
 * input row segment across kw), which on lavapipe takes about half the CPU of the conv.ts tiling on U²-NetP
 * shapes. A stride-1 grad-input is itself a stride-1 conv: of dY with the weights transposed (O↔C in each
 * group) and flipped in kH, kW, padding (k − 1)·d − p at the top and left; the bottom and right need no
 * padding term, since the kernel reads rows and columns past dY's edge as zeros, whatever the remainder.
 * The choice is a function of the shapes (and of the adapter only for SwiftShader, which keeps 8-pixel tiles).
 */
import type { ConvAttrs } from '../../base/conv-args';
import type { ConvGeometry } from '../../kernels/wgsl/conv';
import {
  convRowsKey,
  convRowsLayout,
  convRowsSource,
  convRowsValues,
  convRowsWorkgroups,
  type ConvEpilogue,
  type ConvRowsGeometry,
  type ConvRowsVariant,
} from '../../kernels/wgsl/conv-rows';
import type { Tensor } from '../tensor';
import { flip, permute } from './layout';
import { reshape } from './shape-ops';

/** Dawn's SwiftShader never finishes the 16-pixel conv tiles (see conv.ts), so it keeps 8 there. */
export const wideTilesHang = (info: GPUAdapterInfo | undefined) => /swiftshader/i.test(`${info?.vendor} ${info?.architecture} ${info?.description}`);

/** Pixels per thread of the row kernel: 16 on rows of ≥ 32 outputs (U²-NetP 32→64 @320²: 527 vs 720 CPU-ms at 8), else 8. */
const rowTile = (OW: number, info?: GPUAdapterInfo) => (OW >= 32 && !wideTilesHang(info) ? 16 : 8);

/** The row-kernel variant for this geometry and epilogue, or null where it does not apply (stride along W, wide kernels). */
export function convRowsVariant(
  g: ConvRowsGeometry,
  kW: number,
  sW: number,
  dW: number,
  e: ConvEpilogue & { two: boolean },
  info?: GPUAdapterInfo,
): ConvRowsVariant | null {
  if (sW !== 1 || (kW - 1) * dW > 16) return null;
  const tp = rowTile(g.OW, info);
  const vec = g.W % 4 === 0 && g.pL <= 4 && (kW - 1) * dW - g.pL <= 4 && tp % 4 === 0;
  return {
    tc: 4,
    tp,
    kw: kW,
    d: dW,
    two: e.two,
    bias: e.bias,
    act: e.act,
    res: e.res,
    elem: 'f32',
    ...(vec ? { vec: g.pL } : {}),
    ...(g.Og % 4 === 0 ? { w4: true } : {}),
  };
}

/** Which routes are on (both by default); benchmarks switch them off to compare with the conv.ts kernels in one process. */
export const convRouting = { forward: true, gradInput: true };

/** A depthwise conv (one input channel per group, several groups) stays on its own kernels. */
const depthwise = (g: ConvGeometry) => g.Cg === 1 && g.G > 1;

function run(name: string, v: ConvRowsVariant, g: ConvRowsGeometry, x: Tensor, w: Tensor, bias: Tensor | undefined, y: Tensor): void {
  const buffers = [x.binding, w.binding, ...(bias ? [bias.binding] : []), y.binding];
  y.device.run(name, convRowsKey(v), () => convRowsSource(v), buffers, convRowsWorkgroups(v, g), { layout: convRowsLayout, values: convRowsValues(g) });
}

const fits = (v: ConvRowsVariant, g: ConvRowsGeometry) => convRowsWorkgroups(v, g).every((d) => d <= 65535);

/** w [O, Cg, kH, kW] → [O/4, Cg·kH·kW, 4], so one vec4 load serves 4 output channels (a new tensor). */
export const pack4 = (w: Tensor) => {
  const [O, Cg, kH, kW] = w.shape;
  return regroup(w, [O / 4, 4, Cg * kH * kW], [0, 2, 1]);
};

/** permute(reshape(x, shape), dims), the reshaped view released. */
function regroup(x: Tensor, shape: number[], dims: number[]): Tensor {
  const r = reshape(x, shape);
  const t = permute(r, dims);
  if (r !== x) r.dispose();
  return t;
}

/**
 * conv2d's forward (float32) through the row kernel; false where it does not apply and the caller keeps the
 * conv.ts kernel: stride along W, (kW − 1)·dW > 16, depthwise, a grid past 65535.
 */
export function rowsForward(g: ConvGeometry, x: Tensor, w: Tensor, bias: Tensor | undefined, a: ConvAttrs, y: Tensor): boolean {
  if (!convRouting.forward || x.dtype !== 'float32' || depthwise(g)) return false;
  const rg: ConvRowsGeometry = {
    N: g.N,
    C: g.C,
    C1: g.C,
    H: g.H,
    W: g.W,
    O: g.O,
    OH: g.OH,
    OW: g.OW,
    kH: g.kH,
    sH: g.sH,
    dH: g.dH,
    pT: g.pT,
    pL: g.pL,
    G: g.G,
    Cg: g.Cg,
    Og: g.Og,
  };
  const v = convRowsVariant(rg, g.kW, g.sW, g.dW, { two: false, bias: bias !== undefined, act: a.act ?? 'none', res: 'none' }, x.device.adapterInfo);
  if (!v || !fits(v, rg)) return false;
  const wp = v.w4 ? pack4(w) : w;
  run('conv2d', v, rg, x, wp, bias, y);
  if (wp !== w) wp.dispose();
  return true;
}

/**
 * A stride-1 conv2dGradInput through the row kernel: dX = conv(dY, w′) with w′[g·Cg + c, o] = flip(w[g·Og + o, c])
 * (kH and kW reversed), padding (kH − 1)·dH − pT on top and (kW − 1)·dW − pL on the left, dilation unchanged.
 * g is the geometry of the forward conv (x = dX, y = dY). False where it does not apply.
 */
export function rowsGradInput(g: ConvGeometry, dy: Tensor, w: Tensor, dx: Tensor): boolean {
  if (!convRouting.gradInput || g.sH !== 1 || g.sW !== 1 || depthwise(g)) return false;
  const pT = (g.kH - 1) * g.dH - g.pT,
    pL = (g.kW - 1) * g.dW - g.pL;
  if (pT < 0 || pL < 0) return false;
  const rg: ConvRowsGeometry = {
    N: g.N,
    C: g.O,
    C1: g.O,
    H: g.OH,
    W: g.OW,
    O: g.C,
    OH: g.H,
    OW: g.W,
    kH: g.kH,
    sH: 1,
    dH: g.dH,
    pT,
    pL,
    G: g.G,
    Cg: g.Og,
    Og: g.Cg,
  };
  const v = convRowsVariant(rg, g.kW, 1, g.dW, { two: false, bias: false, act: 'none', res: 'none' }, dy.device.adapterInfo);
  if (!v || !fits(v, rg)) return false;
  const wt = transposedWeight(w, g, v.w4 === true);
  run('conv2dGradInput', v, rg, dy, wt, undefined, dx);
  wt.dispose();
  return true;
}

/**
 * w [G·Og, Cg, kH, kW] flipped in kH, kW and transposed per group: [G·Cg, Og, kH, kW], or packed by 4 of the new
 * output channels (Cg % 4 = 0): [G·Cg/4, Og·kH·kW, 4]. Two small gathers (flip, permute); the caller disposes it.
 */
function transposedWeight(w: Tensor, g: ConvGeometry, w4: boolean): Tensor {
  const KK = g.kH * g.kW;
  const f = flip(w, [2, 3]);
  const t = w4 ? regroup(f, [g.G, g.Og, g.Cg / 4, 4, KK], [0, 2, 1, 4, 3]) : regroup(f, [g.G, g.Og, g.Cg, KK], [0, 2, 1, 3]);
  f.dispose();
  return t;
}
