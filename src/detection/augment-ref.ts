/**
 * Float64 reference for the box side of detection augmentation, written from the definition (not
 * from the WGSL): crop window W = [wx1, wy1, wx2, wy2] and a flip flag per sample. A box is kept when
 * its class is ≥ 0, W has positive sides, the box's centre lies strictly inside W (SSD's rule) and
 * the part of the box inside W covers at least `minVisible` of its area; it is then clipped to W,
 * expressed in W's coordinates and, when flipped, mirrored left–right. Dropped and padding rows are
 * `[−1, 0, 0, 0, 0]`.
 */
import type { RefTensor } from '../base/ref-tensor';

/** Attributes of the target transform: the least visible fraction of a kept box. */
export interface DetectionTargetsAttrs {
  minVisible: number;
}

/** One row `[class, x1, y1, x2, y2]` under window `[wx1, wy1, wx2, wy2]` and `flip`; the result in `out`. */
export function refTransformRow(row: ArrayLike<number>, win: ArrayLike<number>, flip: boolean, minVisible: number, out: Float64Array): void {
  const [cls, x1, y1, x2, y2] = [row[0], row[1], row[2], row[3], row[4]];
  const [wx1, wy1, wx2, wy2] = [win[0], win[1], win[2], win[3]];
  const cx = (x1 + x2) / 2,
    cy = (y1 + y2) / 2;
  const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  const vx1 = clip(x1, wx1, wx2),
    vy1 = clip(y1, wy1, wy2),
    vx2 = clip(x2, wx1, wx2),
    vy2 = clip(y2, wy1, wy2);
  const keep =
    cls >= 0 && wx2 > wx1 && wy2 > wy1 && cx > wx1 && cx < wx2 && cy > wy1 && cy < wy2 && (vx2 - vx1) * (vy2 - vy1) >= minVisible * (x2 - x1) * (y2 - y1);
  out.fill(0);
  if (!keep) {
    out[0] = -1;
    return;
  }
  const w = wx2 - wx1,
    h = wy2 - wy1;
  const nx1 = (vx1 - wx1) / w,
    nx2 = (vx2 - wx1) / w;
  out[0] = cls;
  out[1] = flip ? 1 - nx2 : nx1;
  out[2] = (vy1 - wy1) / h;
  out[3] = flip ? 1 - nx1 : nx2;
  out[4] = (vy2 - wy1) / h;
}

/** targets (B, G, 5), windows (B, 5) `[wx1, wy1, wx2, wy2, flip]` → (B, G, 5). */
export function refDetectionTargets(targets: RefTensor, windows: RefTensor, a: DetectionTargetsAttrs): RefTensor {
  const [B, G] = targets.shape;
  const data = new Float64Array(B * G * 5);
  const row = new Float64Array(5);
  for (let b = 0; b < B; b++) {
    const win = windows.data.subarray(5 * b, 5 * b + 5);
    for (let g = 0; g < G; g++) {
      const at = (b * G + g) * 5;
      refTransformRow(targets.data.subarray(at, at + 5), win, win[4] > 0.5, a.minVisible, row);
      data.set(row, at);
    }
  }
  return { shape: [B, G, 5], dtype: 'float32', data };
}
