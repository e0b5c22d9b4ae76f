/**
 * TEMPORARY stand-ins (host-side, minimal) for functions other helpers are writing; same signatures as
 * the detection contract. Deleted once the real ones land in main.
 */
import type { Tensor } from '../tensor/tensor';
import { tensor } from '../tensor/ops/creation';
import type { Device } from '../kernels/webgpu/device';
import type { DetectionBatch, DetectionSample, ImageDetections, ImageGroundTruth } from './types';

// ---- det-boxes -------------------------------------------------------------------------------------

/** d2l multibox_prior (host computed). */
export function multiboxPrior(data: Tensor, sizes: number[], ratios: number[]): Tensor {
  const H = data.shape[data.ndim - 2],
    W = data.shape[data.ndim - 1];
  const ws: number[] = [],
    hs: number[] = [];
  for (const s of sizes) {
    ws.push((s * Math.sqrt(ratios[0]) * H) / W);
    hs.push(s / Math.sqrt(ratios[0]));
  }
  for (const r of ratios.slice(1)) {
    ws.push((sizes[0] * Math.sqrt(r) * H) / W);
    hs.push(sizes[0] / Math.sqrt(r));
  }
  const n = ws.length;
  const out = new Float32Array(H * W * n * 4);
  let o = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const cy = (y + 0.5) / H,
        cx = (x + 0.5) / W;
      for (let k = 0; k < n; k++) {
        out[o++] = cx - ws[k] / 2;
        out[o++] = cy - hs[k] / 2;
        out[o++] = cx + ws[k] / 2;
        out[o++] = cy + hs[k] / 2;
      }
    }
  return tensor(out, { shape: [1, H * W * n, 4], device: data.device });
}

const iou = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
  const ix = Math.max(0, Math.min(a[i + 2], b[j + 2]) - Math.max(a[i], b[j]));
  const iy = Math.max(0, Math.min(a[i + 3], b[j + 3]) - Math.max(a[i + 1], b[j + 1]));
  const inter = ix * iy;
  const u = (a[i + 2] - a[i]) * (a[i + 3] - a[i + 1]) + (b[j + 2] - b[j]) * (b[j + 3] - b[j + 1]) - inter;
  return u > 0 ? inter / u : 0;
};

/** d2l multibox_target (host side, reads back). */
export async function multiboxTarget(anchors: Tensor, targets: Tensor, o: { iouThreshold?: number } = {}): Promise<[Tensor, Tensor, Tensor]> {
  const thr = o.iouThreshold ?? 0.5;
  const anc = await anchors.data();
  const lab = await targets.data();
  const A = anchors.shape[1];
  const [B, G] = targets.shape;
  const off = new Float32Array(B * A * 4),
    mask = new Float32Array(B * A * 4),
    cls = new Int32Array(B * A);
  for (let b = 0; b < B; b++) {
    const rows: number[] = [];
    for (let g = 0; g < G; g++) if (lab[(b * G + g) * 5] >= 0) rows.push(g);
    const gt = rows.flatMap((g) => Array.from(lab.subarray((b * G + g) * 5 + 1, (b * G + g) * 5 + 5)));
    const n = rows.length;
    const jac = new Float64Array(A * n);
    for (let a = 0; a < A; a++) for (let j = 0; j < n; j++) jac[a * n + j] = iou(anc, a * 4, gt, j * 4);
    const map = new Int32Array(A).fill(-1);
    for (let a = 0; a < A; a++) {
      let best = -1,
        bi = 0;
      for (let j = 0; j < n; j++)
        if (jac[a * n + j] > best) {
          best = jac[a * n + j];
          bi = j;
        }
      if (n && best >= thr) map[a] = bi;
    }
    for (let t = 0; t < n; t++) {
      let best = -Infinity,
        bi = 0;
      for (let k = 0; k < A * n; k++)
        if (jac[k] > best) {
          best = jac[k];
          bi = k;
        }
      const a = Math.floor(bi / n),
        j = bi % n;
      map[a] = j;
      for (let q = 0; q < A; q++) jac[q * n + j] = -1;
      for (let q = 0; q < n; q++) jac[a * n + q] = -1;
    }
    for (let a = 0; a < A; a++) {
      const j = map[a];
      if (j < 0) continue;
      cls[b * A + a] = lab[(b * G + rows[j]) * 5] + 1;
      const [ax1, ay1, ax2, ay2] = [anc[a * 4], anc[a * 4 + 1], anc[a * 4 + 2], anc[a * 4 + 3]];
      const [gx1, gy1, gx2, gy2] = [gt[j * 4], gt[j * 4 + 1], gt[j * 4 + 2], gt[j * 4 + 3]];
      const aw = ax2 - ax1,
        ah = ay2 - ay1;
      const k = (b * A + a) * 4;
      off[k] = (10 * ((gx1 + gx2) / 2 - (ax1 + ax2) / 2)) / aw;
      off[k + 1] = (10 * ((gy1 + gy2) / 2 - (ay1 + ay2) / 2)) / ah;
      off[k + 2] = 5 * Math.log(1e-6 + (gx2 - gx1) / aw);
      off[k + 3] = 5 * Math.log(1e-6 + (gy2 - gy1) / ah);
      mask.fill(1, k, k + 4);
    }
  }
  const device = anchors.device;
  return [tensor(off, { shape: [B, A * 4], device }), tensor(mask, { shape: [B, A * 4], device }), tensor(cls, { shape: [B, A], dtype: 'int32', device })];
}

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

// ---- det-data --------------------------------------------------------------------------------------

/** Minimal synthetic sample: coloured squares/discs on noise. */
export function syntheticDetectionSample(index: number, options: { size?: number; seed?: number } = {}): DetectionSample {
  const S = options.size ?? 256;
  let s = (index * 2654435761 + (options.seed ?? 0) * 97 + 1) >>> 0;
  const r = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const image = new Float32Array(3 * S * S);
  for (let i = 0; i < image.length; i++) image[i] = 0.3 + 0.4 * r();
  const n = 1 + Math.floor(r() * 3);
  const boxes: number[] = [],
    labels: number[] = [];
  const colours = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 1, 0],
  ];
  for (let k = 0; k < n; k++) {
    const c = Math.floor(r() * 4);
    const side = Math.floor(S * (0.15 + 0.35 * r()));
    const x0 = Math.floor(r() * (S - side)),
      y0 = Math.floor(r() * (S - side));
    for (let y = y0; y < y0 + side; y++)
      for (let x = x0; x < x0 + side; x++) {
        const dx = (x - x0 - side / 2) / (side / 2),
          dy = (y - y0 - side / 2) / (side / 2);
        if (c === 1 && dx * dx + dy * dy > 1) continue;
        for (let ch = 0; ch < 3; ch++) image[ch * S * S + y * S + x] = colours[c][ch];
      }
    boxes.push(x0 / S, y0 / S, (x0 + side) / S, (y0 + side) / S);
    labels.push(c);
  }
  return { image, height: S, width: S, boxes: Float32Array.from(boxes), labels: Int32Array.from(labels) };
}

/** Collate with class −1 padding. */
export function detectionBatch(samples: readonly DetectionSample[], options: { maxObjects?: number; device?: Device } = {}): DetectionBatch {
  const { height: H, width: W } = samples[0];
  const G = options.maxObjects ?? Math.max(1, ...samples.map((s) => s.labels.length));
  const img = new Float32Array(samples.length * 3 * H * W);
  const tg = new Float32Array(samples.length * G * 5).fill(-1);
  samples.forEach((s, b) => {
    img.set(s.image, b * 3 * H * W);
    for (let g = 0; g < s.labels.length; g++) tg.set([s.labels[g], ...s.boxes.subarray(g * 4, g * 4 + 4)], (b * G + g) * 5);
  });
  return {
    images: tensor(img, { shape: [samples.length, 3, H, W], device: options.device }),
    targets: tensor(tg, { shape: [samples.length, G, 5], device: options.device }),
  };
}

// ---- det-metrics -----------------------------------------------------------------------------------

/** VOC all-point mAP@iouThreshold (minimal). */
export class DetectionEvaluator {
  private dets: ImageDetections[] = [];
  private gts: ImageGroundTruth[] = [];
  constructor(private readonly o: { iouThreshold?: number; numClasses?: number; coco?: boolean } = {}) {}
  add(d: ImageDetections | readonly ImageDetections[], g: ImageGroundTruth | readonly ImageGroundTruth[]): void {
    this.dets.push(...(Array.isArray(d) ? d : [d as ImageDetections]));
    this.gts.push(...(Array.isArray(g) ? g : [g as ImageGroundTruth]));
  }
  compute(): { map: number; perClass: { classId: number; ap: number }[] } {
    const thr = this.o.iouThreshold ?? 0.5;
    const C = this.o.numClasses ?? 1;
    const perClass = [];
    for (let c = 0; c < C; c++) {
      let npos = 0;
      const all: { img: number; k: number; s: number }[] = [];
      this.gts.forEach((g, i) => {
        npos += g.labels.filter((l) => l === c).length;
        this.dets[i].labels.forEach((l, k) => {
          if (l === c) all.push({ img: i, k, s: this.dets[i].scores[k] });
        });
      });
      all.sort((a, b) => b.s - a.s);
      const used = this.gts.map((g) => new Uint8Array(g.labels.length));
      let tp = 0,
        fp = 0;
      const prec: number[] = [],
        rec: number[] = [];
      for (const d of all) {
        const g = this.gts[d.img];
        let best = 0,
          bj = -1;
        for (let j = 0; j < g.labels.length; j++) {
          if (g.labels[j] !== c) continue;
          const v = iou(this.dets[d.img].boxes, d.k * 4, g.boxes, j * 4);
          if (v > best) {
            best = v;
            bj = j;
          }
        }
        if (bj >= 0 && best >= thr && !used[d.img][bj]) {
          used[d.img][bj] = 1;
          tp++;
        } else fp++;
        prec.push(tp / (tp + fp));
        rec.push(npos ? tp / npos : 0);
      }
      let ap = 0;
      for (let i = prec.length - 2; i >= 0; i--) prec[i] = Math.max(prec[i], prec[i + 1]);
      let r0 = 0;
      for (let i = 0; i < prec.length; i++) {
        ap += (rec[i] - r0) * prec[i];
        r0 = rec[i];
      }
      perClass.push({ classId: c, ap: npos ? ap : NaN });
    }
    const valid = perClass.filter((p) => Number.isFinite(p.ap));
    return { map: valid.reduce((s, p) => s + p.ap, 0) / Math.max(1, valid.length), perClass };
  }
}
