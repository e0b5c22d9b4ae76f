/**
 * Host reference of d2l's `multibox_detection`, written from the book's definition with float32
 * arithmetic emulated by Math.fround (torch computes in float32).
 */
import { refNms } from './nms';

const f = Math.fround;

/** d2l's offset_inverse for one anchor and its four offsets, in float32. */
export function refOffsetInverse(anchor: ArrayLike<number>, o: ArrayLike<number>): number[] {
  const cx = f(f(anchor[0] + anchor[2]) / 2);
  const cy = f(f(anchor[1] + anchor[3]) / 2);
  const w = f(anchor[2] - anchor[0]);
  const h = f(anchor[3] - anchor[1]);
  const px = f(f(f(o[0] * w) / 10) + cx);
  const py = f(f(f(o[1] * h) / 10) + cy);
  const pw = f(f(Math.exp(f(o[2] / 5))) * w);
  const ph = f(f(Math.exp(f(o[3] / 5))) * h);
  return [f(px - f(0.5 * pw)), f(py - f(0.5 * ph)), f(px + f(0.5 * pw)), f(py + f(0.5 * ph))];
}

/**
 * d2l's multibox_detection. `clsProbs` is (B, C+1, A) row-major, `offsetPreds` (B, A·4), `anchors` (A, 4).
 * Returns B·A rows of 6 numbers, flattened.
 */
export function refMultiboxDetection(
  clsProbs: ArrayLike<number>,
  offsetPreds: ArrayLike<number>,
  anchors: ArrayLike<number>,
  [B, C1, A]: [number, number, number],
  nmsThreshold = 0.5,
  posThreshold = 0.009999999,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const conf: number[] = [];
    const cls: number[] = [];
    const boxes: number[] = [];
    for (let a = 0; a < A; a++) {
      // torch.max over the object classes: the first maximum; NaN wins
      let best = clsProbs[(b * C1 + 1) * A + a];
      let id = 0;
      for (let c = 2; c < C1; c++) {
        const v = clsProbs[(b * C1 + c) * A + a];
        if (!Number.isNaN(best) && (v > best || Number.isNaN(v))) {
          best = v;
          id = c - 1;
        }
      }
      conf.push(best);
      cls.push(id);
      const o = Array.from({ length: 4 }, (_, k) => offsetPreds[b * 4 * A + 4 * a + k]);
      const an = Array.from({ length: 4 }, (_, k) => anchors[4 * a + k]);
      boxes.push(...refOffsetInverse(an, o));
    }
    const keep = refNms(boxes, conf, nmsThreshold, { rule: 'd2l' })[0];
    const kept = new Set(keep);
    const order = [...keep, ...Array.from({ length: A }, (_, a) => a).filter((a) => !kept.has(a))];
    for (const a of order) {
      let c = kept.has(a) ? cls[a] : -1;
      let p = conf[a];
      if (p < f(posThreshold)) {
        c = -1;
        p = f(1 - p);
      }
      out.push(c, p, ...boxes.slice(4 * a, 4 * a + 4));
    }
  }
  return out;
}
