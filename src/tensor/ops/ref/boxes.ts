/**
 * Float64 references for the box ops, written from torchvision's and d2l's definitions (formats,
 * IoU and GIoU, the giou loss's eps form, multibox_prior, assign_anchor_to_bbox, multibox_target).
 */
import type { RefTensor } from '../../../base/ref-tensor';

/** A box layout, torchvision's names: 'xyxy' corners, 'xywh' top-left corner and size, 'cxcywh' centre and size. */
export type BoxFormat = 'xyxy' | 'xywh' | 'cxcywh';

const out = (shape: number[], data: Float64Array | number[], dtype: RefTensor['dtype'] = 'float32'): RefTensor => ({
  shape,
  dtype,
  data: data instanceof Float64Array ? data : Float64Array.from(data),
});

function toXyxy(b: readonly number[], f: BoxFormat): number[] {
  const [a, c, d, e] = b;
  if (f === 'xyxy') return [a, c, d, e];
  if (f === 'xywh') return [a, c, a + d, c + e];
  return [a - d / 2, c - e / 2, a + d / 2, c + e / 2];
}

function fromXyxy(b: readonly number[], f: BoxFormat): number[] {
  const [x1, y1, x2, y2] = b;
  if (f === 'xyxy') return [x1, y1, x2, y2];
  if (f === 'xywh') return [x1, y1, x2 - x1, y2 - y1];
  return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1];
}

const mapBoxes = (x: RefTensor, f: (b: number[]) => number[]): RefTensor => {
  const d = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length; r += 4) d.set(f([x.data[r], x.data[r + 1], x.data[r + 2], x.data[r + 3]]), r);
  return out([...x.shape], d);
};

/** torchvision.ops.box_convert. */
export const refBoxConvert = (x: RefTensor, inFmt: BoxFormat, outFmt: BoxFormat): RefTensor => mapBoxes(x, (b) => fromXyxy(toXyxy(b, inFmt), outFmt));

/** The transpose of the (linear) conversion applied to rows: dx = dy · Mᵀ, M read off the reference on unit rows. */
export function refBoxConvertTranspose(dy: RefTensor, inFmt: BoxFormat, outFmt: BoxFormat): RefTensor {
  const M = [0, 1, 2, 3].map((k) =>
    fromXyxy(
      toXyxy(
        [0, 1, 2, 3].map((j) => (j === k ? 1 : 0)),
        inFmt,
      ),
      outFmt,
    ),
  );
  return mapBoxes(dy, (g) => M.map((row) => row.reduce((s, m, j) => s + m * g[j], 0)));
}

export interface IouAttrs {
  giou: boolean;
  pairwise: boolean;
  eps: number;
}

/** IoU (or GIoU) of two corner boxes, torchvision's formulas; `pairwise` clamps the enclosing box at 0 as box_iou does. */
export function iouValue(a: readonly number[], b: readonly number[], { giou, pairwise, eps }: IouAttrs): number {
  const area = (q: readonly number[]) => (q[2] - q[0]) * (q[3] - q[1]);
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  const inter = w > 0 && h > 0 ? w * h : 0;
  const union = area(a) + area(b) - inter;
  const iou = inter / (union + eps);
  if (!giou) return iou;
  let cw = Math.max(a[2], b[2]) - Math.min(a[0], b[0]);
  let ch = Math.max(a[3], b[3]) - Math.min(a[1], b[1]);
  if (pairwise) {
    cw = Math.max(cw, 0);
    ch = Math.max(ch, 0);
  }
  const c = cw * ch;
  return iou - (c - union) / (c + eps);
}

const box = (t: RefTensor, k: number) => [t.data[4 * k], t.data[4 * k + 1], t.data[4 * k + 2], t.data[4 * k + 3]];

/** (N, M) pairwise or (N) elementwise IoU/GIoU. */
export function refBoxIou(b1: RefTensor, b2: RefTensor, a: IouAttrs): RefTensor {
  const N = b1.data.length / 4;
  const M = b2.data.length / 4;
  if (!a.pairwise)
    return out(
      [N],
      Array.from({ length: N }, (_, i) => iouValue(box(b1, i), box(b2, i), a)),
    );
  const d = new Float64Array(N * M);
  for (let i = 0; i < N; i++) for (let j = 0; j < M; j++) d[i * M + j] = iouValue(box(b1, i), box(b2, j), a);
  return out([N, M], d);
}

/** Gradients of Σ dy · value by central differences of the float64 value (smooth away from the min/max kinks). */
export function refBoxIouBackward(dy: RefTensor, b1: RefTensor, b2: RefTensor, a: IouAttrs): [RefTensor, RefTensor] {
  const N = b1.data.length / 4;
  const M = b2.data.length / 4;
  const h = 1e-6;
  const d1 = new Float64Array(4 * N);
  const d2 = new Float64Array(4 * M);
  const pairs: [number, number, number][] = [];
  if (a.pairwise) for (let i = 0; i < N; i++) for (let j = 0; j < M; j++) pairs.push([i, j, dy.data[i * M + j]]);
  else for (let i = 0; i < N; i++) pairs.push([i, i, dy.data[i]]);
  for (const [i, j, g] of pairs) {
    const p = box(b1, i);
    const q = box(b2, j);
    for (let c = 0; c < 4; c++) {
      const pp = [...p];
      const pm = [...p];
      pp[c] += h;
      pm[c] -= h;
      d1[4 * i + c] += (g * (iouValue(pp, q, a) - iouValue(pm, q, a))) / (2 * h);
      const qp = [...q];
      const qm = [...q];
      qp[c] += h;
      qm[c] -= h;
      d2[4 * j + c] += (g * (iouValue(p, qp, a) - iouValue(p, qm, a))) / (2 * h);
    }
  }
  return [out([...b1.shape], d1), out([...b2.shape], d2)];
}

/** d2l's per-shape (width, height) of multibox_prior: size_k with ratio_0, then size_0 with ratio_k; widths corrected by H/W. */
export function priorShapes(H: number, W: number, sizes: readonly number[], ratios: readonly number[]): [number, number][] {
  const shapes: [number, number][] = [];
  for (const s of sizes) shapes.push([(s * Math.sqrt(ratios[0]) * H) / W, s / Math.sqrt(ratios[0])]);
  for (const r of ratios.slice(1)) shapes.push([(sizes[0] * Math.sqrt(r) * H) / W, sizes[0] / Math.sqrt(r)]);
  return shapes;
}

/** d2l's multibox_prior: (1, H·W·K, 4), pixel-major, anchor shapes in the order of priorShapes. */
export function refMultiboxPrior(H: number, W: number, sizes: readonly number[], ratios: readonly number[]): RefTensor {
  const shapes = priorShapes(H, W, sizes, ratios);
  const d: number[] = [];
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const cx = (c + 0.5) / W;
      const cy = (r + 0.5) / H;
      for (const [w, h] of shapes) d.push(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
    }
  }
  return out([1, H * W * shapes.length, 4], d);
}

/**
 * d2l's assign_anchor_to_bbox on one image: the IoU matrix (anchors × live boxes), each anchor's
 * best box if its IoU reaches the threshold, then G times the first maximum of the matrix, whose
 * row and column are then set to −1. Returns the anchor→box map (−1 = none), box indices as given.
 */
export function refAssign(anchors: number[][], boxes: number[][], live: number[], threshold: number): number[] {
  const A = anchors.length;
  const G = live.length;
  const jac = anchors.map((an) => live.map((g) => iouValue(an, boxes[g], { giou: false, pairwise: true, eps: 0 })));
  const map = new Array<number>(A).fill(-1);
  for (let a = 0; a < A; a++) {
    let best = 0;
    for (let g = 1; g < G; g++) if (jac[a][g] > jac[a][best]) best = g;
    if (G > 0 && jac[a][best] >= threshold) map[a] = live[best];
  }
  for (let k = 0; k < G; k++) {
    let ba = 0;
    let bg = 0;
    for (let a = 0; a < A; a++) for (let g = 0; g < G; g++) if (jac[a][g] > jac[ba][bg]) [ba, bg] = [a, g];
    map[ba] = live[bg];
    for (let a = 0; a < A; a++) jac[a][bg] = -1;
    for (let g = 0; g < G; g++) jac[ba][g] = -1;
  }
  return map;
}

const rows = (t: RefTensor, width: number, from = 0, count = t.data.length / width) =>
  Array.from({ length: count }, (_, k) => Array.from(t.data.subarray((from + k) * width, (from + k + 1) * width)));

/** The anchor→box map of one image's (G, 4) boxes against (A, 4) anchors, int32 (A). */
export function refAssignAnchorToBbox(gt: RefTensor, anchors: RefTensor, threshold: number): RefTensor {
  const boxes = rows(gt, 4);
  return out(
    [anchors.data.length / 4],
    refAssign(
      rows(anchors, 4),
      boxes,
      boxes.map((_, g) => g),
      threshold,
    ),
    'int32',
  );
}

/** d2l's offset_boxes for one anchor and its box: 10·Δcentre/size, 5·log(eps + size ratio). */
export function offsetOf(an: readonly number[], bb: readonly number[], eps: number): number[] {
  const [ax, ay, aw, ah] = fromXyxy(an, 'cxcywh');
  const [bx, by, bw, bh] = fromXyxy(bb, 'cxcywh');
  return [(10 * (bx - ax)) / aw, (10 * (by - ay)) / ah, 5 * Math.log(eps + bw / aw), 5 * Math.log(eps + bh / ah)];
}

/** d2l's multibox_target for a batch of (B, G, 5) targets with padding rows (negative class) left out. */
export function refMultiboxTarget(anchors: RefTensor, targets: RefTensor, threshold: number, eps: number): [RefTensor, RefTensor, RefTensor] {
  const A = anchors.data.length / 4;
  const [B, G] = targets.shape;
  const an = rows(anchors, 4);
  const off = new Float64Array(B * A * 4);
  const mask = new Float64Array(B * A * 4);
  const cls = new Float64Array(B * A);
  for (let b = 0; b < B; b++) {
    const t = rows(targets, 5, b * G, G);
    const live = t.flatMap((r, g) => (r[0] >= 0 ? [g] : []));
    const map = refAssign(
      an,
      t.map((r) => r.slice(1)),
      live,
      threshold,
    );
    for (let a = 0; a < A; a++) {
      const g = map[a];
      if (g < 0) continue;
      off.set(offsetOf(an[a], t[g].slice(1), eps), (b * A + a) * 4);
      mask.fill(1, (b * A + a) * 4, (b * A + a + 1) * 4);
      cls[b * A + a] = Math.trunc(t[g][0]) + 1;
    }
  }
  return [out([B, A * 4], off), out([B, A * 4], mask), out([B, A], cls, 'int32')];
}
