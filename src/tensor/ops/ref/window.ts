/**
 * Float64 references of SAM's window layout (ViTDet's window_partition / window_unpartition), written as index maps:
 * token (b, h, w) of the zero-padded grid lands in window (b, h div ws, w div ws) at (h mod ws, w mod ws).
 */
import type { RefTensor } from '../../../base/ref-tensor';

/** The padded grid size: H rounded up to a multiple of ws. */
export const paddedSize = (n: number, ws: number): number => Math.ceil(n / ws) * ws;

/** x [B, H, W, C] → windows [B·nh·nw, ws, ws, C] (nh = ⌈H/ws⌉, nw = ⌈W/ws⌉), zeros where the padding is. */
export function refWindowPartition(x: RefTensor, ws: number): RefTensor {
  const [B, H, W, C] = x.shape;
  const nh = paddedSize(H, ws) / ws,
    nw = paddedSize(W, ws) / ws;
  const out = new Float64Array(B * nh * nw * ws * ws * C);
  let o = 0;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < nh; i++)
      for (let j = 0; j < nw; j++)
        for (let r = 0; r < ws; r++)
          for (let s = 0; s < ws; s++) {
            const h = i * ws + r,
              w = j * ws + s;
            for (let c = 0; c < C; c++, o++) if (h < H && w < W) out[o] = x.data[((b * H + h) * W + w) * C + c];
          }
  return { shape: [B * nh * nw, ws, ws, C], dtype: x.dtype, data: out };
}

/** windows [B·nh·nw, ws, ws, C] of a padded Hp×Wp grid → [B, H, W, C]: each token read back from its window, the padding dropped. */
export function refWindowUnpartition(windows: RefTensor, ws: number, padHw: readonly [number, number], hw: readonly [number, number]): RefTensor {
  const C = windows.shape[3];
  const nh = padHw[0] / ws,
    nw = padHw[1] / ws;
  const B = windows.shape[0] / (nh * nw);
  const [H, W] = hw;
  const out = new Float64Array(B * H * W * C);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const win = (b * nh + Math.floor(h / ws)) * nw + Math.floor(w / ws);
        const src = ((win * ws + (h % ws)) * ws + (w % ws)) * C;
        for (let c = 0; c < C; c++) out[((b * H + h) * W + w) * C + c] = windows.data[src + c];
      }
  return { shape: [B, H, W, C], dtype: windows.dtype, data: out };
}
