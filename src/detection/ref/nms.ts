/**
 * Host references for non-maximum suppression: the textbook greedy loop, written from torchvision's
 * definition (ops/boxes.py and its CPU kernel) and d2l's `nms`, with float32 arithmetic emulated by
 * Math.fround where the references compute in float32. The GPU version (src/detection/nms.ts) must
 * return exactly these indices.
 */

/** Which reference's rules decide a suppression (see nms / nmsD2l in src/detection/nms.ts). */
export type NmsRule = 'torchvision' | 'd2l';

/** Options of the reference, as the GPU functions take them, plus the grouping. */
export interface RefNmsOptions {
  scoreThreshold?: number;
  topK?: number;
  maxDetections?: number;
  /** A class per box: only boxes of one class suppress each other. */
  classes?: ArrayLike<number>;
  /** Boxes per image: box i belongs to image ⌊i / perImage⌋ (sort, top-k and max detections per image). */
  perImage?: number;
  rule?: NmsRule;
}

const f = Math.fround;

/** float32 IoU of boxes a and b (4 numbers each), in torchvision's order of operations; NaN for 0/0. */
export function refIou32(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const areaA = f(f(a[2] - a[0]) * f(a[3] - a[1]));
  const areaB = f(f(b[2] - b[0]) * f(b[3] - b[1]));
  const w = Math.max(0, f(Math.min(a[2], b[2]) - Math.max(a[0], b[0])));
  const h = Math.max(0, f(Math.min(a[3], b[3]) - Math.max(a[1], b[1])));
  const inter = f(w * h);
  return f(inter / f(f(areaA + areaB) - inter));
}

/** Does the kept box a suppress b? torchvision: IoU > threshold (float32 IoU against the double threshold); d2l: not (IoU ≤ float32(threshold)). */
export function refSuppresses(iou: number, threshold: number, rule: NmsRule): boolean {
  return rule === 'torchvision' ? iou > threshold : !(iou <= f(threshold));
}

/** Descending by score (NaN first, −0 equal to +0), ties by index ascending. */
function scoreOrder(scores: ArrayLike<number>, ids: number[]): number[] {
  const key = (s: number) => (Number.isNaN(s) ? Number.POSITIVE_INFINITY : s);
  return ids.sort((i, j) => {
    const a = scores[i];
    const b = scores[j];
    if (Number.isNaN(a) !== Number.isNaN(b)) return Number.isNaN(a) ? -1 : 1;
    const d = key(b) - key(a);
    return d > 0 ? 1 : d < 0 ? -1 : i - j;
  });
}

/**
 * Greedy NMS on the host. `boxes` holds 4 numbers per box. Returns, per image (one list unless
 * `perImage` is given), the kept indices (inside the image) in score order.
 */
export function refNms(boxes: ArrayLike<number>, scores: ArrayLike<number>, iouThreshold: number, opts: RefNmsOptions = {}): number[][] {
  const n = scores.length;
  const per = opts.perImage ?? Math.max(n, 1);
  const images = opts.perImage === undefined ? 1 : n / per;
  const rule = opts.rule ?? 'torchvision';
  const out: number[][] = [];
  for (let img = 0; img < images; img++) {
    let ids = Array.from({ length: per }, (_, k) => img * per + k).filter((i) => i < n);
    if (opts.scoreThreshold !== undefined) ids = ids.filter((i) => scores[i] > (opts.scoreThreshold as number));
    ids = scoreOrder(scores, ids).slice(0, opts.topK ?? ids.length);
    const removed = new Array<boolean>(ids.length).fill(false);
    const kept: number[] = [];
    const box = (i: number) => [boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]];
    for (let a = 0; a < ids.length && kept.length < (opts.maxDetections ?? Number.POSITIVE_INFINITY); a++) {
      if (removed[a]) continue;
      kept.push(ids[a] - img * per);
      const ba = box(ids[a]);
      for (let b = a + 1; b < ids.length; b++) {
        if (removed[b]) continue;
        if (opts.classes && opts.classes[ids[a]] !== opts.classes[ids[b]]) continue;
        if (refSuppresses(refIou32(ba, box(ids[b])), iouThreshold, rule)) removed[b] = true;
      }
    }
    out.push(kept);
  }
  return out;
}
