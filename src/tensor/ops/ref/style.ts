/**
 * Float64 references for the neural-style-transfer loss terms (src/tensor/ops/style.ts), written from
 * the definitions in d2l's "Neural Style Transfer" chapter with plain loops.
 */
import type { RefTensor } from '../../../base/ref-tensor';

/** Gram matrix per sample: G[b, i, j] = Σ_k F[b, i, k]·F[b, j, k] / (C·H·W), F = features as (B, C, H·W). */
export function refGramMatrix(x: RefTensor): RefTensor {
  const batched = x.shape.length === 4;
  const [B, C, H, W] = batched ? x.shape : [1, ...x.shape];
  const n = H * W;
  const out = new Float64Array(B * C * C);
  for (let b = 0; b < B; b++) {
    const f = (c: number, k: number) => x.data[(b * C + c) * n + k];
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += f(i, k) * f(j, k);
        out[(b * C + i) * C + j] = s / (C * n);
      }
    }
  }
  return { shape: batched ? [B, C, C] : [C, C], dtype: 'float32', data: out };
}

/** Mean of squared differences over every element. */
function refMeanSquare(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2;
  return s / a.length;
}

const scalar = (v: number): RefTensor => ({ shape: [], dtype: 'float32', data: Float64Array.of(v) });

/** Content loss: mean((features − target)²). */
export const refContentLoss = (x: RefTensor, target: RefTensor): RefTensor => scalar(refMeanSquare(x.data, target.data));

/** Style loss: mean((gram(features) − targetGram)²). */
export const refStyleLoss = (x: RefTensor, targetGram: RefTensor): RefTensor => scalar(refMeanSquare(refGramMatrix(x).data, targetGram.data));

/**
 * Total variation: 0.5·(mean over the (H−1)·W vertical neighbour pairs of |x[h+1, w] − x[h, w]| + mean over
 * the H·(W−1) horizontal pairs of |x[h, w+1] − x[h, w]|), the last two dims being H and W and the leading ones
 * all counted in both means.
 */
export function refTotalVariationLoss(x: RefTensor): RefTensor {
  const H = x.shape[x.shape.length - 2],
    W = x.shape[x.shape.length - 1];
  const planes = x.data.length / (H * W);
  let dh = 0,
    dw = 0;
  for (let p = 0; p < planes; p++) {
    const at = (h: number, w: number) => x.data[(p * H + h) * W + w];
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        if (h + 1 < H) dh += Math.abs(at(h + 1, w) - at(h, w));
        if (w + 1 < W) dw += Math.abs(at(h, w + 1) - at(h, w));
      }
    }
  }
  return scalar(0.5 * (dh / (planes * (H - 1) * W) + dw / (planes * H * (W - 1))));
}
