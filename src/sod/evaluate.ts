/**
 * Dataset-level salient-object-detection evaluation, accumulated the way PySODMetrics (and Fan et
 * al.'s MATLAB toolbox before it) does, so that the numbers compare with the literature's tables:
 *  - each image gives curves over the 256 thresholds of its prediction quantised to 0–255
 *    (precision, recall, F-measure with β² = 0.3, E-measure, IoU, Dice); the dataset's curve is the
 *    mean of the images' curves, and maxFm / meanFm (maxEm / meanEm, …) are the max / mean of that
 *    averaged curve (not the mean of per-image maxima);
 *  - adaptive values threshold each image at min(2·mean(pred), 1) and are averaged over images;
 *  - S-measure (α = 0.5), weighted F-measure (β = 1) and MAE are per-image values averaged.
 * Curves are indexed by threshold t = 0…255 (prediction bin ≥ t), ascending.
 * Host float64 code, runtime-neutral.
 */
import { weightedFmeasure } from './weighted-fmeasure';

const EPS = 2.220446049250313e-16;
const BETA2 = 0.3;
/** Number of thresholds (0..255) of the precision-recall, F-measure and E-measure curves, as PySODMetrics. */
export const SOD_THRESHOLDS = 256;

/**
 * How raw values are read:
 *  - 'uint8': 0–255 images, as saved prediction maps and ground-truth PNGs: the ground truth is
 *    foreground where > 128, the prediction is divided by 255 then min-max normalised when not
 *    constant (PySODMetrics' prepare_data, MATLAB's mapminmax(im2double(…)));
 *  - 'unit': a prediction already in [0, 1] (a network's probabilities) used as it is, and a ground
 *    truth in [0, 1] that is foreground where ≥ 0.5 (PySODMetrics' normalize=False).
 */
export type SodInputRange = 'uint8' | 'unit';

/**
 * Options of {@link SodEvaluator} and {@link evaluateSod}: how input values are read and the IoU of two empty
 * masks.
 */
export interface SodEvaluatorOptions {
  /** how raw values are read (default 'unit') */
  range?: SodInputRange;
  /**
   * IoU and Dice when prediction and ground truth are both empty: 0 as PySODMetrics (default), or
   * 1 ('perfect': nothing to find, nothing found).
   */
  emptyIoU?: 0 | 1;
}

/** A prediction in [0, 1] and a binary mask, ready to score. */
export interface PreparedSodPair {
  /** The prediction normalised to [0, 1]. */
  pred: Float64Array;
  /** The binarised ground truth (0 or 1). */
  gt: Uint8Array;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
}

function checkPair(fn: string, pred: ArrayLike<number>, gt: ArrayLike<number>, height: number, width: number) {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1)
    throw new Error(`${fn}: height × width must be positive integers; got ${height}×${width}`);
  if (pred.length !== gt.length) throw new Error(`${fn}: prediction has ${pred.length} values, ground truth ${gt.length}; expected equal sizes`);
  if (pred.length !== height * width) throw new Error(`${fn}: ${pred.length} values do not match ${height}×${width}; expected ${height * width}`);
}

/** Binarises the ground truth and normalises the prediction as the reference toolbox does. */
export function prepareSodPair(pred: ArrayLike<number>, gt: ArrayLike<number>, height: number, width: number, range: SodInputRange = 'unit'): PreparedSodPair {
  checkPair('prepareSodPair', pred, gt, height, width);
  const n = pred.length,
    p = new Float64Array(n),
    g = new Uint8Array(n);
  if (range === 'uint8') {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < n; i++) {
      g[i] = gt[i] > 128 ? 1 : 0;
      const v = (p[i] = pred[i] / 255);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi !== lo) for (let i = 0; i < n; i++) p[i] = (p[i] - lo) / (hi - lo);
  } else if (range === 'unit') {
    for (let i = 0; i < n; i++) {
      const v = pred[i];
      if (!(v >= 0 && v <= 1))
        throw new Error(`prepareSodPair: prediction value ${v} at ${i} is outside [0, 1]; expected probabilities (or range 'uint8' for 0–255 images)`);
      p[i] = v;
      g[i] = gt[i] >= 0.5 ? 1 : 0;
    }
  } else {
    throw new Error(`prepareSodPair: range must be 'uint8' or 'unit'; got ${JSON.stringify(range)}`);
  }
  return { pred: p, gt: g, height, width };
}

/** Confusion counts at one threshold. */
interface Counts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
const precisionOf = (c: Counts) => ratio(c.tp, c.tp + c.fp);
const recallOf = (c: Counts) => ratio(c.tp, c.tp + c.fn);
function fOf(c: Counts, beta2 = BETA2): number {
  const p = precisionOf(c),
    r = recallOf(c);
  const num = (1 + beta2) * p * r;
  return num === 0 ? 0 : num / (beta2 * p + r);
}
const iouOf = (c: Counts, empty: number) => (c.tp + c.fp + c.fn === 0 ? empty : c.tp / (c.tp + c.fp + c.fn));
const diceOf = (c: Counts, empty: number) => (c.tp + c.fp + c.fn === 0 ? empty : (2 * c.tp) / (2 * c.tp + c.fp + c.fn));

/** E-measure (Fan et al., IJCAI 2018) of a binarised prediction from its confusion counts. */
function eOf(c: Counts): number {
  const n = c.tp + c.fp + c.fn + c.tn,
    fg = c.tp + c.fn,
    predFg = c.tp + c.fp;
  let sum: number;
  if (fg === 0)
    sum = n - predFg; // all background: the share predicted background
  else if (fg === n)
    sum = predFg; // all foreground: the share predicted foreground
  else {
    const mp = predFg / n,
      mg = fg / n;
    // the four (prediction, truth) combinations, each with its demeaned values and pixel count
    const parts: [number, number, number][] = [
      [c.tp, 1 - mp, 1 - mg],
      [c.fp, 1 - mp, -mg],
      [c.fn, -mp, 1 - mg],
      [c.tn, -mp, -mg],
    ];
    sum = 0;
    for (const [count, a, b] of parts) {
      const align = (2 * a * b) / (a * a + b * b + EPS);
      sum += ((align + 1) ** 2 / 4) * count;
    }
  }
  return sum / (n - 1 + EPS); // N − 1 as the reference, also when the truth is all one class
}

/** Round half to even, as numpy's round (the S-measure's centroid). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function objectScore(values: Float64Array | number[]): number {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  return (2 * mean) / (mean * mean + 1 + sd + EPS);
}

function regionSsim(p: Float64Array, g: Uint8Array, w: number, x0: number, x1: number, y0: number, y1: number): number {
  const n = (x1 - x0) * (y1 - y0);
  if (n <= 0) return 0; // an empty quadrant has weight 0
  let mx = 0,
    my = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      mx += p[y * w + x];
      my += g[y * w + x];
    }
  mx /= n;
  my /= n;
  let vx = 0,
    vy = 0,
    cxy = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const a = p[y * w + x] - mx,
        b = g[y * w + x] - my;
      vx += a * a;
      vy += b * b;
      cxy += a * b;
    }
  vx /= n - 1 + EPS;
  vy /= n - 1 + EPS;
  cxy /= n - 1 + EPS;
  const alpha = 4 * mx * my * cxy,
    beta = (mx * mx + my * my) * (vx + vy);
  if (alpha !== 0) return alpha / (beta + EPS);
  return beta === 0 ? 1 : 0;
}

/** S-measure (Fan et al., ICCV 2017), α = 0.5, of a prepared pair. */
export function structureMeasure({ pred: p, gt: g, height: h, width: w }: PreparedSodPair, alpha = 0.5): number {
  const n = h * w;
  let fgCount = 0,
    pm = 0,
    sy = 0,
    sx = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      pm += p[i];
      if (g[i]) {
        fgCount++;
        sy += y;
        sx += x;
      }
    }
  const gm = fgCount / n;
  pm /= n;
  if (fgCount === 0) return 1 - pm;
  if (fgCount === n) return pm;
  // object term
  const fg = new Float64Array(fgCount),
    bg = new Float64Array(n - fgCount);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (g[i]) fg[a++] = p[i];
    else bg[b++] = 1 - p[i];
  }
  const object = gm * objectScore(fg) + (1 - gm) * objectScore(bg);
  // region term: quadrants split at the foreground centroid (rounded as numpy, + 1 as MATLAB's 1:X)
  const cy = roundHalfEven(sy / fgCount) + 1,
    cx = roundHalfEven(sx / fgCount) + 1;
  const wlt = (cx * cy) / n,
    wrt = (cy * (w - cx)) / n,
    wlb = ((h - cy) * cx) / n,
    wrb = 1 - wlt - wrt - wlb;
  const region =
    wlt * regionSsim(p, g, w, 0, cx, 0, cy) +
    wrt * regionSsim(p, g, w, cx, w, 0, cy) +
    wlb * regionSsim(p, g, w, 0, cx, cy, h) +
    wrb * regionSsim(p, g, w, cx, w, cy, h);
  return Math.max(0, alpha * object + (1 - alpha) * region);
}

/** Everything one image contributes to the dataset numbers. */
export interface SodImageScores {
  /** Mean absolute error. */
  MAE: number;
  /** Structure measure. */
  Smeasure: number;
  /** Weighted F-measure (Margolin et al. 2014). */
  wFmeasure: number;
  /** F-measure at the adaptive threshold (twice the mean prediction, at most 1). */
  adpFm: number;
  /** E-measure at the adaptive threshold. */
  adpEm: number;
  /** IoU at the adaptive threshold. */
  adpIoU: number;
  /** Dice at the adaptive threshold. */
  adpDice: number;
  /** Precision at the adaptive threshold. */
  adpPrecision: number;
  /** Recall at the adaptive threshold. */
  adpRecall: number;
  /** IoU and Dice of the prediction binarised at > 0.5 (PySODMetrics' binary, sample-based form) */
  IoU: number;
  /** Dice of the prediction binarised at 0.5. */
  Dice: number;
  /** curves over thresholds t = 0…255 (ascending) */
  precision: Float64Array;
  /** Recall at each threshold. */
  recall: Float64Array;
  /** F-measure at each threshold. */
  fmeasure: Float64Array;
  /** E-measure at each threshold. */
  emeasure: Float64Array;
  /** IoU at each threshold. */
  iou: Float64Array;
  /** Dice at each threshold. */
  dice: Float64Array;
}

function countsAt(p: Float64Array, g: Uint8Array, above: (v: number) => boolean): Counts {
  const c: Counts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (let i = 0; i < g.length; i++) {
    const on = above(p[i]);
    if (g[i]) {
      if (on) c.tp++;
      else c.fn++;
    } else if (on) c.fp++;
    else c.tn++;
  }
  return c;
}

/** Per-image scores and curves of a prepared pair. */
export function scoreSodImage(pair: PreparedSodPair, options: { emptyIoU?: 0 | 1 } = {}): SodImageScores {
  const { pred: p, gt: g } = pair;
  const n = p.length,
    empty = options.emptyIoU ?? 0;
  let mae = 0,
    mean = 0;
  for (let i = 0; i < n; i++) {
    mae += Math.abs(p[i] - g[i]);
    mean += p[i];
  }
  mae /= n;
  mean /= n;
  // histograms of the prediction quantised as uint8(pred·255) over truth foreground / background
  const fgHist = new Float64Array(256),
    bgHist = new Float64Array(256);
  let fgTotal = 0;
  for (let i = 0; i < n; i++) {
    const bin = Math.min(255, Math.floor(p[i] * 255));
    if (g[i]) {
      fgHist[bin]++;
      fgTotal++;
    } else bgHist[bin]++;
  }
  const bgTotal = n - fgTotal;
  const curves = {
    precision: new Float64Array(256),
    recall: new Float64Array(256),
    fmeasure: new Float64Array(256),
    emeasure: new Float64Array(256),
    iou: new Float64Array(256),
    dice: new Float64Array(256),
  };
  let tp = 0,
    fp = 0;
  for (let t = 255; t >= 0; t--) {
    tp += fgHist[t];
    fp += bgHist[t];
    const c: Counts = { tp, fp, fn: fgTotal - tp, tn: bgTotal - fp };
    curves.precision[t] = precisionOf(c);
    curves.recall[t] = recallOf(c);
    curves.fmeasure[t] = fOf(c);
    curves.emeasure[t] = eOf(c);
    curves.iou[t] = iouOf(c, empty);
    curves.dice[t] = diceOf(c, empty);
  }
  const thr = Math.min(2 * mean, 1);
  const adp = countsAt(p, g, (v) => v >= thr);
  const bin = countsAt(p, g, (v) => v > 0.5);
  return {
    MAE: mae,
    Smeasure: structureMeasure(pair),
    wFmeasure: weightedFmeasure(p, g, pair.height, pair.width),
    adpFm: fOf(adp),
    adpEm: eOf(adp),
    adpIoU: iouOf(adp, empty),
    adpDice: diceOf(adp, empty),
    adpPrecision: precisionOf(adp),
    adpRecall: recallOf(adp),
    IoU: iouOf(bin, empty),
    Dice: diceOf(bin, empty),
    ...curves,
  };
}

/** The dataset-level numbers, named as the literature (and PySODMetrics) name them. */
export interface SodEvaluation {
  /** Number of images averaged. */
  images: number;
  /** Mean absolute error. */
  MAE: number;
  /** S-measure S_α, α = 0.5 */
  Smeasure: number;
  /** weighted F-measure F^w_β, β = 1 */
  wFmeasure: number;
  /** Largest F-measure (β² = 0.3) of the mean F-measure curve. */
  maxFm: number;
  /** Mean of the mean F-measure curve. */
  meanFm: number;
  /** F-measure at each image's adaptive threshold, averaged. */
  adpFm: number;
  /** Largest E-measure of the mean curve. */
  maxEm: number;
  /** Mean of the mean E-measure curve. */
  meanEm: number;
  /** E-measure at the adaptive threshold, averaged. */
  adpEm: number;
  /** Largest IoU of the mean curve. */
  maxIoU: number;
  /** Mean of the mean IoU curve. */
  meanIoU: number;
  /** IoU at the adaptive threshold, averaged. */
  adpIoU: number;
  /** Largest Dice of the mean curve. */
  maxDice: number;
  /** Mean of the mean Dice curve. */
  meanDice: number;
  /** Dice at the adaptive threshold, averaged. */
  adpDice: number;
  /** IoU / Dice of predictions binarised at > 0.5, averaged over images */
  IoU: number;
  /** Dice of the prediction binarised at 0.5, averaged. */
  Dice: number;
  /** the averaged curves over thresholds t = 0…255 (ascending) */
  curves: { precision: number[]; recall: number[]; fmeasure: number[]; emeasure: number[]; iou: number[]; dice: number[] };
}

type CurveName = keyof SodEvaluation['curves'];
const CURVES: CurveName[] = ['precision', 'recall', 'fmeasure', 'emeasure', 'iou', 'dice'];
const SCALARS = ['MAE', 'Smeasure', 'wFmeasure', 'adpFm', 'adpEm', 'adpIoU', 'adpDice', 'IoU', 'Dice'] as const;

const maxOf = (c: number[]) => c.reduce((a, b) => Math.max(a, b), -Infinity);
const meanOf = (c: number[]) => c.reduce((a, b) => a + b, 0) / c.length;

/**
 * Accumulates images one at a time (constant memory: sums of curves and scalars) and reports the
 * dataset-level numbers.
 *   const ev = new SodEvaluator({ range: 'uint8' });
 *   for (const [pred, gt] of pairs) ev.add(pred, gt, height, width);
 *   ev.result().maxFm
 */
export class SodEvaluator {
  /** How raw input values are read. */
  readonly range: SodInputRange;
  /** IoU and Dice when prediction and ground truth are both empty. */
  readonly emptyIoU: 0 | 1;
  private count = 0;
  private readonly sums = Object.fromEntries(SCALARS.map((k) => [k, 0])) as Record<(typeof SCALARS)[number], number>;
  private readonly curveSums = Object.fromEntries(CURVES.map((k) => [k, new Float64Array(SOD_THRESHOLDS)])) as Record<CurveName, Float64Array>;

  /** An empty evaluator; add images with `add`. */
  constructor(options: SodEvaluatorOptions = {}) {
    this.range = options.range ?? 'unit';
    if (this.range !== 'uint8' && this.range !== 'unit') throw new Error(`SodEvaluator: range must be 'uint8' or 'unit'; got ${JSON.stringify(this.range)}`);
    this.emptyIoU = options.emptyIoU ?? 0;
    if (this.emptyIoU !== 0 && this.emptyIoU !== 1) throw new Error(`SodEvaluator: emptyIoU must be 0 or 1; got ${JSON.stringify(this.emptyIoU)}`);
  }

  /** Scores one image (raw values read per `range`) and adds it; returns its own scores. */
  add(pred: ArrayLike<number>, gt: ArrayLike<number>, height: number, width: number): SodImageScores {
    return this.addScores(scoreSodImage(prepareSodPair(pred, gt, height, width, this.range), { emptyIoU: this.emptyIoU }));
  }

  /** Adds scores computed elsewhere (e.g. by scoreSodImage in a worker). */
  addScores(s: SodImageScores): SodImageScores {
    for (const k of SCALARS) this.sums[k] += s[k];
    for (const k of CURVES) {
      const sum = this.curveSums[k],
        c = s[k];
      for (let t = 0; t < SOD_THRESHOLDS; t++) sum[t] += c[t];
    }
    this.count++;
    return s;
  }

  /** Number of images added so far. */
  get images(): number {
    return this.count;
  }

  /** The dataset-level scores and curves, averaged over the images added; throws if none was. */
  result(): SodEvaluation {
    if (this.count === 0) throw new Error('SodEvaluator.result: no images were added; expected at least one');
    const n = this.count;
    const curves = Object.fromEntries(CURVES.map((k) => [k, Array.from(this.curveSums[k], (v) => v / n)])) as SodEvaluation['curves'];
    const mean = (k: (typeof SCALARS)[number]) => this.sums[k] / n;
    return {
      images: n,
      MAE: mean('MAE'),
      Smeasure: mean('Smeasure'),
      wFmeasure: mean('wFmeasure'),
      maxFm: maxOf(curves.fmeasure),
      meanFm: meanOf(curves.fmeasure),
      adpFm: mean('adpFm'),
      maxEm: maxOf(curves.emeasure),
      meanEm: meanOf(curves.emeasure),
      adpEm: mean('adpEm'),
      maxIoU: maxOf(curves.iou),
      meanIoU: meanOf(curves.iou),
      adpIoU: mean('adpIoU'),
      maxDice: maxOf(curves.dice),
      meanDice: meanOf(curves.dice),
      adpDice: mean('adpDice'),
      IoU: mean('IoU'),
      Dice: mean('Dice'),
      curves,
    };
  }
}

/**
 * Evaluates a whole set of (prediction, ground truth) pairs at once.
 *
 * @example
 * ```ts
 * import { evaluateSod } from '@webgrad/core/sod';
 * const gt = new Uint8Array(64).fill(255, 16, 48); // 8×8 masks in 0..255
 * const pred = gt.map((v) => (v ? 230 : 20));
 * const r = evaluateSod([{ pred, gt, height: 8, width: 8 }], { range: 'uint8' });
 * // MAE is 0 here: a uint8 prediction is min-max normalised per image, as PySODMetrics does
 * console.log(r.images, r.MAE, r.maxFm, r.Smeasure, r.curves.precision.length); // 1 0 1 1 256
 * ```
 */
export function evaluateSod(
  pairs: Iterable<{ pred: ArrayLike<number>; gt: ArrayLike<number>; height: number; width: number }>,
  options: SodEvaluatorOptions = {},
): SodEvaluation {
  const ev = new SodEvaluator(options);
  for (const p of pairs) ev.add(p.pred, p.gt, p.height, p.width);
  return ev.result();
}
