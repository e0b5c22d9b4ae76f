/**
 * Float64 references for pooling, written from PyTorch's documented semantics: output sizes
 * (with ceil_mode's "last window starts inside the input or left padding" rule), -inf padding
 * for max, count_include_pad / divisor_override for avg, adaptive windows ⌊i·H/o⌋..⌈(i+1)·H/o⌉.
 * Backward references scatter (the GPU kernels gather), so the two are independent.
 */
import type { RefTensor } from '../../../base/ref-tensor';

export interface RefPoolParams {
  adaptive: boolean;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
  divisorOverride: number | null;
  /** Adaptive output size. */
  outputSize: [number, number];
  /** Input plane size (needed by the backward references). */
  inputSize: [number, number];
}

/** PyTorch's pooling_output_shape. */
export function refPoolOutSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  let out = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out -= 1;
  return out;
}

/** Input rows read by output row o along one axis (may include out-of-range rows, which are padding). */
function taps(o: number, n: number, on: number, k: number, s: number, p: number, d: number, adaptive: boolean): number[] {
  if (adaptive) {
    const a = Math.floor((o * n) / on),
      b = Math.ceil(((o + 1) * n) / on);
    return Array.from({ length: b - a }, (_, t) => a + t);
  }
  return Array.from({ length: k }, (_, t) => o * s - p + t * d);
}

function geometry(a: RefPoolParams, H: number, W: number) {
  const OH = a.adaptive ? a.outputSize[0] : refPoolOutSize(H, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0], a.ceilMode);
  const OW = a.adaptive ? a.outputSize[1] : refPoolOutSize(W, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1], a.ceilMode);
  const rows = (o: number) => taps(o, H, OH, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0], a.adaptive);
  const cols = (o: number) => taps(o, W, OW, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1], a.adaptive);
  // avg divisor, PyTorch's rules: the window clipped to input + padding (count_include_pad) or to the input
  const divisor = (oh: number, ow: number) => {
    if (a.adaptive) return rows(oh).length * cols(ow).length;
    if (a.divisorOverride) return a.divisorOverride;
    const inPad = (r: number[], n: number, p: number) => r.filter((v) => v < n + p).length;
    const inside = (r: number[], n: number) => r.filter((v) => v >= 0 && v < n).length;
    return a.countIncludePad ? inPad(rows(oh), H, a.padding[0]) * inPad(cols(ow), W, a.padding[1]) : inside(rows(oh), H) * inside(cols(ow), W);
  };
  return { OH, OW, rows, cols, divisor };
}

const planes = (shape: number[]) => shape.slice(0, -2).reduce((x, y) => x * y, 1);

/** Max pooling: values and flat h·W+w indices of the first maximum per window (a NaN replaces the max). */
export function refMaxPool(x: RefTensor, a: RefPoolParams): [RefTensor, RefTensor] {
  const [H, W] = x.shape.slice(-2);
  const g = geometry(a, H, W);
  const P = planes(x.shape);
  const y = new Float64Array(P * g.OH * g.OW),
    idx = new Float64Array(y.length);
  let k = 0;
  for (let pl = 0; pl < P; pl++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++, k++) {
        let best = -Infinity,
          at = -1;
        for (const r of g.rows(oh))
          for (const c of g.cols(ow)) {
            if (r < 0 || r >= H || c < 0 || c >= W) continue;
            const v = x.data[pl * H * W + r * W + c];
            if (at < 0 || v > best || Number.isNaN(v)) {
              best = v;
              at = r * W + c;
            }
          }
        y[k] = best;
        idx[k] = at;
      }
  const shape = [...x.shape.slice(0, -2), g.OH, g.OW];
  return [
    { shape, dtype: 'float32', data: y },
    { shape, dtype: 'int32', data: idx },
  ];
}

export function refAvgPool(x: RefTensor, a: RefPoolParams): RefTensor {
  const [H, W] = x.shape.slice(-2);
  const g = geometry(a, H, W);
  const P = planes(x.shape);
  const y = new Float64Array(P * g.OH * g.OW);
  let k = 0;
  for (let pl = 0; pl < P; pl++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++, k++) {
        let s = 0;
        for (const r of g.rows(oh)) for (const c of g.cols(ow)) if (r >= 0 && r < H && c >= 0 && c < W) s += x.data[pl * H * W + r * W + c];
        y[k] = s / g.divisor(oh, ow);
      }
  return { shape: [...x.shape.slice(0, -2), g.OH, g.OW], dtype: 'float32', data: y };
}

/** Max-pool backward: scatters each dy into the input position its index names. */
export function refMaxPoolBackward(dy: RefTensor, idx: RefTensor, a: RefPoolParams): RefTensor {
  const [H, W] = a.inputSize;
  const [OH, OW] = dy.shape.slice(-2);
  const P = planes(dy.shape);
  const dx = new Float64Array(P * H * W);
  for (let pl = 0; pl < P; pl++)
    for (let o = 0; o < OH * OW; o++) {
      const j = idx.data[pl * OH * OW + o];
      if (j >= 0) dx[pl * H * W + j] += dy.data[pl * OH * OW + o];
    }
  return { shape: [...dy.shape.slice(0, -2), H, W], dtype: 'float32', data: dx };
}

/** Avg-pool backward: scatters dy / divisor to every in-range tap of its window. */
export function refAvgPoolBackward(dy: RefTensor, a: RefPoolParams): RefTensor {
  const [H, W] = a.inputSize;
  const g = geometry(a, H, W);
  const P = planes(dy.shape);
  const dx = new Float64Array(P * H * W);
  for (let pl = 0; pl < P; pl++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) {
        const v = dy.data[(pl * g.OH + oh) * g.OW + ow] / g.divisor(oh, ow);
        for (const r of g.rows(oh)) for (const c of g.cols(ow)) if (r >= 0 && r < H && c >= 0 && c < W) dx[pl * H * W + r * W + c] += v;
      }
  return { shape: [...dy.shape.slice(0, -2), H, W], dtype: 'float32', data: dx };
}

/** y[o] = x[idx[o]] within each plane. */
export function refPoolGather(x: RefTensor, idx: RefTensor): RefTensor {
  const [H, W] = x.shape.slice(-2);
  const [OH, OW] = idx.shape.slice(-2);
  const y = new Float64Array(idx.data.length);
  for (let k = 0; k < y.length; k++) {
    const pl = Math.floor(k / (OH * OW));
    const j = idx.data[k];
    y[k] = j >= 0 ? x.data[pl * H * W + j] : 0;
  }
  return { shape: idx.shape.slice(), dtype: 'float32', data: y };
}
