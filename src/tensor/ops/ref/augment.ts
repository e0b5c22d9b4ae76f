/**
 * Float64 references for the augmentation kernels, written from the definitions:
 * - affine resampling: inverse mapping of output pixel centres through a per-sample 2×3 matrix;
 *   points outside the image rectangle take the fill value; bilinear interpolation between the
 *   four nearest pixel centres (edge pixels repeated), or the pixel containing the point.
 * - colour jitter: torchvision's functional adjust_brightness / adjust_contrast /
 *   adjust_saturation / adjust_hue on float images in [0, 1], and rgb_to_grayscale
 *   (ITU-R 601-2 luma 0.2989 R + 0.587 G + 0.114 B); hue shifts in the HSV hexcone model.
 */
import type { RefTensor } from '../../../base/ref-tensor';

export interface RefAffineParams {
  mode: 'bilinear' | 'nearest';
  outSize: [number, number];
  fill: number;
}

/** x [N, C, H, W], theta [N, 6] → [N, C, OH, OW]. */
export function refAffineResample(x: RefTensor, theta: RefTensor, a: RefAffineParams): RefTensor {
  const [N, C, H, W] = x.shape;
  const [OH, OW] = a.outSize;
  const out = new Float64Array(N * C * OH * OW);
  const px = (n: number, c: number, r: number, q: number) => {
    const rr = Math.min(Math.max(r, 0), H - 1),
      qq = Math.min(Math.max(q, 0), W - 1);
    return x.data[((n * C + c) * H + rr) * W + qq];
  };
  for (let n = 0; n < N; n++) {
    const t = theta.data.subarray(6 * n, 6 * n + 6);
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const cx = ox + 0.5,
          cy = oy + 0.5;
        const u = t[0] * cx + t[1] * cy + t[2],
          v = t[3] * cx + t[4] * cy + t[5];
        const inside = u >= 0 && u <= W && v >= 0 && v <= H;
        for (let c = 0; c < C; c++) {
          let val: number;
          if (!inside) val = a.fill;
          else if (a.mode === 'nearest') val = px(n, c, Math.floor(v), Math.floor(u));
          else {
            // centres of pixels q and q+1 bracket u
            const q = Math.floor(u - 0.5),
              r = Math.floor(v - 0.5);
            const wx = u - 0.5 - q,
              wy = v - 0.5 - r;
            val = (1 - wy) * ((1 - wx) * px(n, c, r, q) + wx * px(n, c, r, q + 1)) + wy * ((1 - wx) * px(n, c, r + 1, q) + wx * px(n, c, r + 1, q + 1));
          }
          out[((n * C + c) * OH + oy) * OW + ox] = val;
        }
      }
  }
  return { shape: [N, C, OH, OW], dtype: 'float32', data: out };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
const luma = (r: number, g: number, b: number) => 0.2989 * r + 0.587 * g + 0.114 * b;

/** Hue rotation of one RGB colour by `shift` turns (HSV hexcone). */
function shiftHue(r: number, g: number, b: number, shift: number): [number, number, number] {
  const v = Math.max(r, g, b),
    chroma = v - Math.min(r, g, b);
  if (chroma <= 0) return [r, g, b]; // grey: hue undefined, unchanged
  const s = chroma / v;
  let sector: number; // hue in sixths of a turn
  if (v === r) sector = (g - b) / chroma;
  else if (v === g) sector = 2 + (b - r) / chroma;
  else sector = 4 + (r - g) / chroma;
  let h = sector / 6 + shift;
  h -= Math.floor(h);
  // back to RGB: the channel of each colour is v·(1 − s·max(0, min(k, 4 − k, 1))) with k = (n + 6h) mod 6
  const chan = (nn: number) => {
    const k = (nn + 6 * h) % 6;
    return clamp01(v * (1 - s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [chan(5), chan(3), chan(1)];
}

/** x [N, 3, H, W] in [0, 1], params [N, 12] (see src/kernels/wgsl/augment.ts for the layout). */
export function refColorJitter(x: RefTensor, params: RefTensor): RefTensor {
  const [N, C, H, W] = x.shape;
  const P = H * W;
  const out = Float64Array.from(x.data);
  for (let n = 0; n < N; n++) {
    const pr = params.data.subarray(12 * n, 12 * n + 12);
    const R = out.subarray(n * C * P, n * C * P + P),
      G = out.subarray(n * C * P + P, n * C * P + 2 * P),
      B = out.subarray(n * C * P + 2 * P, n * C * P + 3 * P);
    const blend = (f: number, other: (j: number) => number) => {
      for (let j = 0; j < P; j++) {
        const o = other(j);
        R[j] = clamp01(f * R[j] + (1 - f) * o);
        G[j] = clamp01(f * G[j] + (1 - f) * o);
        B[j] = clamp01(f * B[j] + (1 - f) * o);
      }
    };
    for (let k = 0; k < 4; k++) {
      const op = pr[4 + k];
      if (op === 0) blend(pr[0], () => 0);
      else if (op === 1) {
        let mean = 0;
        for (let j = 0; j < P; j++) mean += luma(R[j], G[j], B[j]);
        mean /= P;
        blend(pr[1], () => mean);
      } else if (op === 2) {
        const grey = Float64Array.from({ length: P }, (_, j) => luma(R[j], G[j], B[j]));
        blend(pr[2], (j) => grey[j]);
      } else if (op === 3) {
        for (let j = 0; j < P; j++) [R[j], G[j], B[j]] = shiftHue(R[j], G[j], B[j], pr[3]);
      }
    }
    if (pr[8] !== 0)
      for (let j = 0; j < P; j++) {
        const g = luma(R[j], G[j], B[j]);
        R[j] = g;
        G[j] = g;
        B[j] = g;
      }
  }
  return { shape: [...x.shape], dtype: 'float32', data: out };
}

/** (x − mean[c]) / std[c] for x [N, C, H, W], mean and std [C]. */
export function refNormalize(x: RefTensor, mean: RefTensor, std: RefTensor): RefTensor {
  const [, C, H, W] = x.shape;
  const data = x.data.map((v, i) => {
    const c = Math.floor(i / (H * W)) % C;
    return (v - mean.data[c]) / std.data[c];
  });
  return { shape: [...x.shape], dtype: 'float32', data };
}
