/**
 * TEMPORARY stand-ins (host-side, minimal) for functions other helpers are writing; same signatures as
 * the detection contract. Deleted once the real ones land in main.
 */
import type { Tensor } from '../tensor/tensor';
import { tensor } from '../tensor/ops/creation';

const iou = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
  const ix = Math.max(0, Math.min(a[i + 2], b[j + 2]) - Math.max(a[i], b[j]));
  const iy = Math.max(0, Math.min(a[i + 3], b[j + 3]) - Math.max(a[i + 1], b[j + 1]));
  const inter = ix * iy;
  const u = (a[i + 2] - a[i]) * (a[i + 3] - a[i + 1]) + (b[j + 2] - b[j]) * (b[j + 3] - b[j + 1]) - inter;
  return u > 0 ? inter / u : 0;
};

// ---- det-nms ---------------------------------------------------------------------------------------

/** d2l multibox_detection (host side). */
export async function multiboxDetection(
  clsProbs: Tensor,
  offsetPreds: Tensor,
  anchors: Tensor,
  o: { nmsThreshold?: number; posThreshold?: number } = {},
): Promise<Tensor> {
  const nmsT = o.nmsThreshold ?? 0.5,
    pos = o.posThreshold ?? 0.009999999;
  const [B, C1, A] = clsProbs.shape;
  const p = await clsProbs.data(),
    off = await offsetPreds.data(),
    anc = await anchors.data();
  const out = new Float32Array(B * A * 6);
  for (let b = 0; b < B; b++) {
    const conf = new Float64Array(A),
      cid = new Int32Array(A),
      bb = new Float64Array(A * 4);
    for (let a = 0; a < A; a++) {
      let best = -Infinity,
        bi = 0;
      for (let c = 1; c < C1; c++) {
        const v = p[(b * C1 + c) * A + a];
        if (v > best) {
          best = v;
          bi = c - 1;
        }
      }
      conf[a] = best;
      cid[a] = bi;
      const aw = anc[a * 4 + 2] - anc[a * 4],
        ah = anc[a * 4 + 3] - anc[a * 4 + 1];
      const acx = anc[a * 4] + aw / 2,
        acy = anc[a * 4 + 1] + ah / 2;
      const k = (b * A + a) * 4;
      const cx = (off[k] * aw) / 10 + acx,
        cy = (off[k + 1] * ah) / 10 + acy;
      const w = Math.exp(off[k + 2] / 5) * aw,
        h = Math.exp(off[k + 3] / 5) * ah;
      bb.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], a * 4);
    }
    const order = Array.from({ length: A }, (_, i) => i).sort((x, y) => conf[y] - conf[x] || x - y);
    const keep: number[] = [];
    const removed = new Uint8Array(A);
    for (const i of order) {
      if (removed[i]) continue;
      keep.push(i);
      for (const j of order) if (!removed[j] && j !== i && iou(bb, i * 4, bb, j * 4) > nmsT) removed[j] = 1;
    }
    const kept = new Set(keep);
    const rest = Array.from({ length: A }, (_, i) => i).filter((i) => !kept.has(i));
    [...keep, ...rest].forEach((i, r) => {
      let c = kept.has(i) ? cid[i] : -1;
      let s = conf[i];
      if (s < pos) {
        c = -1;
        s = 1 - s;
      }
      out.set([c, s, bb[i * 4], bb[i * 4 + 1], bb[i * 4 + 2], bb[i * 4 + 3]], (b * A + r) * 6);
    });
  }
  return tensor(out, { shape: [B, A, 6], device: clsProbs.device });
}
