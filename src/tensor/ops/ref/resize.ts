/**
 * Float64 references for interpolate (nearest and bilinear), from PyTorch's documented index
 * rules. PyTorch computes source coordinates in float32 for float tensors, so the coordinate
 * arithmetic is rounded with Math.fround at each step (that decides which pixel nearest picks);
 * the blending itself is float64. The backward reference scatters (the GPU gathers).
 */
import type { RefTensor } from '../../../base/ref-tensor';

export interface RefResizeParams {
  mode: 'nearest' | 'bilinear';
  alignCorners: boolean;
  inputSize: [number, number];
  outputSize: [number, number];
  /** User scale factors per axis (null when the size was given). */
  scaleFactor: [number | null, number | null];
}

const f = Math.fround;

/** Per output index along one axis: the input taps and their weights. */
function axisTaps(inSize: number, outSize: number, sf: number | null, a: RefResizeParams): [number, number][][] {
  const out: [number, number][][] = [];
  for (let d = 0; d < outSize; d++) {
    if (a.mode === 'nearest') {
      let s: number;
      if (outSize === inSize) s = d;
      else if (outSize === 2 * inSize) s = Math.floor(d / 2);
      else {
        const scale = sf ? f(1 / sf) : f(inSize / outSize);
        s = Math.min(Math.floor(f(d * scale)), inSize - 1);
      }
      out.push([[s, 1]]);
      continue;
    }
    let src: number;
    if (a.alignCorners) {
      const scale = outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0;
      src = f(scale * d);
    } else {
      const scale = sf ? f(1 / sf) : f(inSize / outSize);
      src = Math.max(f(f(scale * f(d + 0.5)) - 0.5), 0);
    }
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = Math.min(Math.max(f(src - i0), 0), 1);
    out.push([
      [i0, 1 - l1],
      [i1, l1],
    ]);
  }
  return out;
}

export function refInterpolate(x: RefTensor, a: RefResizeParams): RefTensor {
  const [H, W] = x.shape.slice(-2);
  const [OH, OW] = a.outputSize;
  const rows = axisTaps(H, OH, a.scaleFactor[0], a),
    cols = axisTaps(W, OW, a.scaleFactor[1], a);
  const P = x.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const y = new Float64Array(P * OH * OW);
  for (let pl = 0; pl < P; pl++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let s = 0;
        for (const [r, wr] of rows[oh]) for (const [c, wc] of cols[ow]) s += wr * wc * x.data[pl * H * W + r * W + c];
        y[(pl * OH + oh) * OW + ow] = s;
      }
  return { shape: [...x.shape.slice(0, -2), OH, OW], dtype: 'float32', data: y };
}

/** Attributes of the 1-d interpolation of [N, C, L] tensors ('linear' is the 1-d 'bilinear'). */
export interface RefResize1dParams {
  mode: 'nearest' | 'linear';
  alignCorners: boolean;
  inputSize: number;
  outputSize: number;
  /** The user's scale factor (null when the size was given). */
  scaleFactor: number | null;
}

/** 1-d interpolate (F.interpolate on [N, C, L]): the same per-axis taps as the 2-d modes, along the last axis only. */
export function refInterpolate1d(x: RefTensor, a: RefResize1dParams): RefTensor {
  const L = x.shape[x.shape.length - 1];
  const axis: RefResizeParams = {
    mode: a.mode === 'linear' ? 'bilinear' : 'nearest',
    alignCorners: a.alignCorners,
    inputSize: [1, L],
    outputSize: [1, a.outputSize],
    scaleFactor: [null, a.scaleFactor],
  };
  const taps = axisTaps(L, a.outputSize, a.scaleFactor, axis);
  const P = x.data.length / L;
  const y = new Float64Array(P * a.outputSize);
  for (let p = 0; p < P; p++)
    for (let o = 0; o < a.outputSize; o++) {
      let s = 0;
      for (const [i, w] of taps[o]) s += w * x.data[p * L + i];
      y[p * a.outputSize + o] = s;
    }
  return { shape: [...x.shape.slice(0, -1), a.outputSize], dtype: 'float32', data: y };
}

/** The transpose of refInterpolate: every output's dy is scattered to its taps. */
export function refInterpolateBackward(dy: RefTensor, a: RefResizeParams): RefTensor {
  const [H, W] = a.inputSize;
  const [OH, OW] = a.outputSize;
  const rows = axisTaps(H, OH, a.scaleFactor[0], a),
    cols = axisTaps(W, OW, a.scaleFactor[1], a);
  const P = dy.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const dx = new Float64Array(P * H * W);
  for (let pl = 0; pl < P; pl++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const g = dy.data[(pl * OH + oh) * OW + ow];
        for (const [r, wr] of rows[oh]) for (const [c, wc] of cols[ow]) dx[pl * H * W + r * W + c] += wr * wc * g;
      }
  return { shape: [...dy.shape.slice(0, -2), H, W], dtype: 'float32', data: dx };
}
