/**
 * Salient-object-detection metrics on host arrays (prediction in [0, 1], ground truth binarised at
 * 0.5), as the literature defines them: MAE; max/mean/adaptive F-beta with β² = 0.3; S-measure
 * (Fan et al., ICCV 2017); E-measure (Fan et al., IJCAI 2018); IoU and Dice at 0.5.
 */
const EPS = 2.220446049250313e-16;
const BETA2 = 0.3;

function check(pred: ArrayLike<number>, gt: ArrayLike<number>, fn: string) {
  if (pred.length !== gt.length) throw new Error(`${fn}: prediction has ${pred.length} values, ground truth ${gt.length}; expected equal sizes`);
  if (pred.length === 0) throw new Error(`${fn}: empty input`);
}

const binarise = (gt: ArrayLike<number>) => Uint8Array.from(gt as ArrayLike<number>, (v) => (v >= 0.5 ? 1 : 0));

export function mae(pred: ArrayLike<number>, gt: ArrayLike<number>): number {
  check(pred, gt, 'mae');
  const g = binarise(gt);
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += Math.abs(pred[i] - g[i]);
  return s / pred.length;
}

function fbetaAt(pred: ArrayLike<number>, g: Uint8Array, t: number): number {
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < g.length; i++) {
    const p = pred[i] >= t ? 1 : 0;
    if (p && g[i]) tp++; else if (p) fp++; else if (g[i]) fn++;
  }
  const precision = tp / (tp + fp + EPS), recall = tp / (tp + fn + EPS);
  return ((1 + BETA2) * precision * recall) / (BETA2 * precision + recall + EPS);
}

/** F-beta over the 256 thresholds k/255: max and mean; adaptive uses threshold min(2·mean(pred), 1). */
export function fMeasure(pred: ArrayLike<number>, gt: ArrayLike<number>): { max: number; mean: number; adaptive: number } {
  check(pred, gt, 'fMeasure');
  const g = binarise(gt);
  let max = 0, sum = 0;
  for (let k = 0; k < 256; k++) { const f = fbetaAt(pred, g, k / 255); max = Math.max(max, f); sum += f; }
  let m = 0;
  for (let i = 0; i < pred.length; i++) m += pred[i];
  const adaptive = fbetaAt(pred, g, Math.min((2 * m) / pred.length, 1));
  return { max, mean: sum / 256, adaptive };
}

export function iou(pred: ArrayLike<number>, gt: ArrayLike<number>, threshold = 0.5): number {
  check(pred, gt, 'iou');
  const g = binarise(gt);
  let inter = 0, union = 0;
  for (let i = 0; i < g.length; i++) { const p = pred[i] >= threshold ? 1 : 0; inter += p & g[i]; union += p | g[i]; }
  return union === 0 ? 1 : inter / union;
}

export function dice(pred: ArrayLike<number>, gt: ArrayLike<number>, threshold = 0.5): number {
  check(pred, gt, 'dice');
  const g = binarise(gt);
  let inter = 0, total = 0;
  for (let i = 0; i < g.length; i++) { const p = pred[i] >= threshold ? 1 : 0; inter += p & g[i]; total += p + g[i]; }
  return total === 0 ? 1 : (2 * inter) / total;
}

// ---- S-measure -------------------------------------------------------------------------------

function objectScore(values: number[]): number {
  if (values.length === 0) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(values.length - 1, 1));
  return (2 * mean) / (mean * mean + 1 + sd + EPS);
}

function sObject(pred: ArrayLike<number>, g: Uint8Array): number {
  const fg: number[] = [], bg: number[] = [];
  let gtMean = 0;
  for (let i = 0; i < g.length; i++) { if (g[i]) { fg.push(pred[i]); gtMean++; } else bg.push(1 - pred[i]); }
  gtMean /= g.length;
  return gtMean * objectScore(fg) + (1 - gtMean) * objectScore(bg);
}

/** SSIM-like structural similarity of one region (Fan et al.'s region term). */
function ssim(pred: ArrayLike<number>, g: Uint8Array, w: number, x0: number, x1: number, y0: number, y1: number): number {
  const n = (x1 - x0) * (y1 - y0);
  if (n === 0) return 0;
  let mx = 0, my = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) { mx += pred[y * w + x]; my += g[y * w + x]; }
  mx /= n; my /= n;
  let vx = 0, vy = 0, cxy = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
    const a = pred[y * w + x] - mx, b = g[y * w + x] - my;
    vx += a * a; vy += b * b; cxy += a * b;
  }
  const d = Math.max(n - 1, 1);
  vx /= d; vy /= d; cxy /= d;
  const alpha = 4 * mx * my * cxy, beta = (mx * mx + my * my) * (vx + vy);
  if (alpha !== 0) return alpha / (beta + EPS);
  return alpha === 0 && beta === 0 ? 1 : 0;
}

function sRegion(pred: ArrayLike<number>, g: Uint8Array, h: number, w: number): number {
  // split at the ground truth's centroid (rounded like the reference implementation; the image centre if empty)
  let cx = 0, cy = 0, count = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (g[y * w + x]) { cx += x + 1; cy += y + 1; count++; }
  const X = count ? Math.round(cx / count) : Math.round(w / 2);
  const Y = count ? Math.round(cy / count) : Math.round(h / 2);
  const area = h * w;
  const parts: [number, number, number, number][] = [[0, X, 0, Y], [X, w, 0, Y], [0, X, Y, h], [X, w, Y, h]];
  return parts.reduce((s, [x0, x1, y0, y1]) => s + (((x1 - x0) * (y1 - y0)) / area) * ssim(pred, g, w, x0, x1, y0, y1), 0);
}

/** Structure measure with α = 0.5. */
export function sMeasure(pred: ArrayLike<number>, gt: ArrayLike<number>, height: number, width: number): number {
  check(pred, gt, 'sMeasure');
  if (height * width !== pred.length) throw new Error(`sMeasure: ${height}×${width} does not match ${pred.length} values`);
  const g = binarise(gt);
  let gtMean = 0, predMean = 0;
  for (let i = 0; i < g.length; i++) { gtMean += g[i]; predMean += pred[i]; }
  gtMean /= g.length; predMean /= g.length;
  if (gtMean === 0) return 1 - predMean;
  if (gtMean === 1) return predMean;
  const s = 0.5 * sObject(pred, g) + 0.5 * sRegion(pred, g, height, width);
  return Math.max(s, 0);
}

// ---- E-measure -------------------------------------------------------------------------------

function eAt(pred: ArrayLike<number>, g: Uint8Array, t: number, gtMean: number): number {
  const n = g.length;
  let fmMean = 0;
  const fm = new Uint8Array(n);
  for (let i = 0; i < n; i++) { fm[i] = pred[i] >= t ? 1 : 0; fmMean += fm[i]; }
  fmMean /= n;
  if (gtMean === 0) return 1 - fmMean;
  if (gtMean === 1) return fmMean;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const a = fm[i] - fmMean, b = g[i] - gtMean;
    const align = (2 * a * b) / (a * a + b * b + EPS);
    sum += ((align + 1) ** 2) / 4;
  }
  return sum / (n - 1 + EPS);
}

/** Enhanced-alignment measure: adaptive (threshold min(2·mean, 1)), and mean/max over 256 thresholds. */
export function eMeasure(pred: ArrayLike<number>, gt: ArrayLike<number>): { adaptive: number; mean: number; max: number } {
  check(pred, gt, 'eMeasure');
  const g = binarise(gt);
  let gtMean = 0, pm = 0;
  for (let i = 0; i < g.length; i++) { gtMean += g[i]; pm += pred[i]; }
  gtMean /= g.length;
  const adaptive = eAt(pred, g, Math.min((2 * pm) / g.length, 1), gtMean);
  let sum = 0, max = 0;
  for (let k = 0; k < 256; k++) { const e = eAt(pred, g, k / 255, gtMean); sum += e; max = Math.max(max, e); }
  return { adaptive, mean: sum / 256, max };
}

export interface SodScores { mae: number; maxF: number; meanF: number; adaptiveF: number; sMeasure: number; eMeasure: number; iou: number; dice: number; }

/** Every metric for one prediction (eMeasure is the adaptive one). */
export function sodScores(pred: ArrayLike<number>, gt: ArrayLike<number>, height: number, width: number): SodScores {
  const f = fMeasure(pred, gt);
  return { mae: mae(pred, gt), maxF: f.max, meanF: f.mean, adaptiveF: f.adaptive, sMeasure: sMeasure(pred, gt, height, width), eMeasure: eMeasure(pred, gt).adaptive, iou: iou(pred, gt), dice: dice(pred, gt) };
}
