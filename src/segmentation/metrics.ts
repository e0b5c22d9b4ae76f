/**
 * Segmentation metrics as the DeepLabV3+ PyTorch code's `StreamSegMetrics` computes them: a
 * confusion matrix accumulated over the whole validation set (rows = target, columns = prediction),
 * then overall pixel accuracy, mean class accuracy, frequency-weighted IoU accuracy, mean IoU and the
 * per-class IoU, with NumPy's NaN semantics (a class that never occurs as a target has no accuracy;
 * one that neither occurs nor is predicted has no IoU; NaN-aware means skip them).
 *
 * The matrix is counted on the GPU ({@link confusionMatrix}) and summed there between read-backs; the
 * host keeps float64 totals, so `update` never waits for the GPU and only `results` reads back.
 */
import { ArgumentError, fmtShape } from '../base/shape';
import { add } from '../tensor/ops/elementwise';
import { argmax } from '../tensor/ops/reduce';
import { requireTensor } from '../tensor/require-tensor';
import { keep, tidy } from '../tensor/scope';
import type { Tensor } from '../tensor/tensor';
import { confusionMatrix } from './confusion-matrix';

/** The scores of {@link StreamSegMetrics.results} (the DeepLabV3+ code's names in camelCase). */
export interface SegmentationScores {
  /** Correct pixels / counted pixels ("Overall Acc"); NaN when no pixel was counted. */
  overallAcc: number;
  /** NaN-aware mean over classes of correct / target pixels of the class ("Mean Acc"). */
  meanAcc: number;
  /** Σ over classes present as targets of (their share of the pixels) · IoU ("FreqW Acc"); 0 when no pixel was counted. */
  freqWAcc: number;
  /** NaN-aware mean of `classIoU` ("Mean IoU"). */
  meanIoU: number;
  /**
   * IoU of each class: TP / (TP + FP + FN); 0 for a class predicted but never a target, NaN for one
   * neither predicted nor a target ("Class IoU").
   */
  classIoU: number[];
}

/** NumPy's nanmean: the mean of the non-NaN values, NaN when there are none. */
function nanMean(v: readonly number[]): number {
  let s = 0,
    n = 0;
  for (const x of v) {
    if (!Number.isNaN(x)) {
      s += x;
      n++;
    }
  }
  return n === 0 ? Number.NaN : s / n;
}

/**
 * The scores of a confusion matrix given row-major (numClasses²) counts, rows = target class and columns =
 * predicted class, exactly as the DeepLabV3+ stream metrics' `get_results` (NaN where it gives NaN).
 */
export function segmentationScores(matrix: ArrayLike<number>, numClasses: number): SegmentationScores {
  const fn = 'segmentationScores';
  const C = numClasses;
  if (!(Number.isInteger(C) && C > 0)) throw new ArgumentError(fn, 'numClasses', `is ${numClasses}`, 'a positive integer');
  if (matrix?.length !== C * C) throw new ArgumentError(fn, 'matrix', `has ${matrix?.length} values`, `${C * C} (numClasses², row-major)`);
  const rows = new Array<number>(C).fill(0),
    cols = new Array<number>(C).fill(0),
    diag = new Array<number>(C);
  let total = 0,
    correct = 0;
  for (let t = 0; t < C; t++) {
    for (let q = 0; q < C; q++) {
      const v = matrix[t * C + q];
      rows[t] += v;
      cols[q] += v;
      total += v;
    }
    diag[t] = matrix[t * C + t];
    correct += diag[t];
  }
  // x / 0 is NaN here exactly when NumPy's is: a zero row or denominator has a zero diagonal
  const classAcc = diag.map((d, c) => d / rows[c]);
  const classIoU = diag.map((d, c) => d / (rows[c] + cols[c] - d));
  let freqWAcc = 0;
  for (let c = 0; c < C; c++) {
    const freq = rows[c] / total;
    if (freq > 0) freqWAcc += freq * classIoU[c];
  }
  return { overallAcc: correct / total, meanAcc: nanMean(classAcc), freqWAcc, meanIoU: nanMean(classIoU), classIoU };
}

/** Options of {@link StreamSegMetrics}. */
export interface StreamSegMetricsOptions {
  /** Target value never counted (default 255, the Cityscapes void label); targets outside [0, numClasses) are never counted either. */
  ignoreIndex?: number;
}

/** Largest count an int32 cell can hold: the GPU total is read back before it could be exceeded. */
const INT32_MAX = 2 ** 31 - 1;

/**
 * A running confusion matrix over batches and its scores, as the DeepLabV3+ code's `StreamSegMetrics`:
 * `update` each validation batch, `results` at the end, `reset` for the next epoch, `dispose` when done.
 * Note the argument order: `update(pred, target)` (the DeepLabV3+ code's is `update(targets, preds)`).
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { StreamSegMetrics } from '@webgrad/core/segmentation';
 * await init();
 * const metrics = new StreamSegMetrics(3);
 * const pred = tensor([[[0, 1], [2, 2]]], { dtype: 'int32' }); // (B, H, W) classes, or (B, C, H, W) logits
 * const target = tensor([[[0, 1], [1, 255]]], { dtype: 'int32' });
 * metrics.update(pred, target);
 * console.log(await metrics.results()); // { overallAcc: 0.667, meanAcc: 0.75, freqWAcc: 0.667, meanIoU: 0.5, classIoU: [1, 0.5, 0] }
 * metrics.dispose();
 * ```
 */
export class StreamSegMetrics {
  /** Number of classes (the matrix is numClasses × numClasses). */
  readonly numClasses: number;
  /** The target value that is never counted. */
  readonly ignoreIndex: number;
  private host: Float64Array;
  private gpu: Tensor | null = null;
  /** Pixels added to `gpu` since it was made (an upper bound of any cell). */
  private pending = 0;
  private reads: Promise<void>[] = [];

  /** An empty accumulator for `numClasses` classes. */
  constructor(numClasses: number, options: StreamSegMetricsOptions = {}) {
    const fn = 'StreamSegMetrics';
    if (!(Number.isInteger(numClasses) && numClasses > 0 && numClasses <= 4096))
      throw new ArgumentError(fn, 'numClasses', `is ${numClasses}`, 'an integer in [1, 4096]');
    const ignoreIndex = options.ignoreIndex ?? 255;
    if (!Number.isInteger(ignoreIndex)) throw new ArgumentError(fn, 'ignoreIndex', `is ${options.ignoreIndex}`, 'an integer');
    this.numClasses = numClasses;
    this.ignoreIndex = ignoreIndex;
    this.host = new Float64Array(numClasses * numClasses);
  }

  /**
   * Adds a batch: `pred` int32 classes of the target's shape, or float32 logits with the classes in dim 1
   * (e.g. (B, C, H, W) for (B, H, W) targets; the prediction is their argmax). Nothing is read back.
   */
  update(pred: Tensor, target: Tensor): void {
    const fn = 'StreamSegMetrics.update';
    requireTensor(fn, 'pred', pred);
    requireTensor(fn, 'target', target);
    const logits = pred.dtype === 'float32';
    if (logits) {
      const want = pred.shape.filter((_, d) => d !== 1);
      if (pred.ndim < 2 || pred.shape[1] !== this.numClasses || want.length !== target.ndim || want.some((n, d) => n !== target.shape[d]))
        throw new ArgumentError(
          fn,
          'pred',
          `has shape ${fmtShape(pred.shape)} (float, so read as logits)`,
          `logits (B, ${this.numClasses}, …) with the target's shape ${fmtShape(target.shape)} without the class dim, or int32 classes`,
        );
    }
    if (target.size > INT32_MAX) throw new ArgumentError(fn, 'target', `has ${target.size} pixels`, `at most ${INT32_MAX} a batch`);
    if (this.gpu && this.pending + target.size > INT32_MAX) this.flush();
    const next = tidy(() => {
      const cm = confusionMatrix(logits ? argmax(pred, 1) : pred, target, this.numClasses, this.ignoreIndex);
      return this.gpu ? add(this.gpu, cm) : cm;
    });
    this.gpu?.dispose();
    this.gpu = keep(next);
    this.pending += target.size;
  }

  /** Starts reading the GPU total into the host's float64 total. */
  private flush(): void {
    const t = this.gpu;
    if (!t) return;
    this.gpu = null;
    this.pending = 0;
    const host = this.host;
    this.reads.push(
      t
        .data()
        .then((d) => {
          for (let k = 0; k < d.length; k++) host[k] += d[k];
        })
        .finally(() => t.dispose()),
    );
  }

  /** The confusion matrix so far: row-major numClasses² counts, rows = target class, columns = predicted class. */
  async matrix(): Promise<Float64Array> {
    this.flush();
    const reads = this.reads;
    this.reads = [];
    await Promise.all(reads);
    return this.host.slice();
  }

  /** The scores of everything added since the last reset (see {@link segmentationScores}). */
  async results(): Promise<SegmentationScores> {
    return segmentationScores(await this.matrix(), this.numClasses);
  }

  /** Forgets every batch (the next `results` counts only later updates). */
  reset(): void {
    this.gpu?.dispose();
    this.gpu = null;
    this.pending = 0;
    // reads under way add into the old total, which is dropped (and so are their errors)
    for (const r of this.reads) r.catch(() => {});
    this.reads = [];
    this.host = new Float64Array(this.numClasses * this.numClasses);
  }

  /** Frees the GPU total. */
  dispose(): void {
    this.reset();
  }
}
