/**
 * d2l's `multibox_detection` (the anchors chapter) on the GPU: decode the predicted offsets against
 * the anchors, take each anchor's most likely object class, run d2l's NMS per image, and write one
 * row per anchor. Only the kept counts are read back (by the NMS).
 */
import { ArgumentError } from '../base/shape';
import { checkOptions } from '../base/options';
import { grid } from '../kernels/webgpu/device';
import { MULTIBOX_WG, assembleKernel, assembleLayout, bestClassKernel, bestLayout } from '../kernels/wgsl/multibox';
import { tidy } from '../tensor/scope';
import { reshape } from '../tensor/ops/shape-ops';
import { offsetInverse } from '../tensor/ops/boxes';
import { type Tensor, empty } from '../tensor/tensor';
import { nmsPerImageWith } from './nms';

/** Options of {@link multiboxDetection}. */
export interface MultiboxDetectionOptions {
  /** d2l's NMS keeps a box when its IoU with every box kept before it is ≤ this. Default 0.5. */
  nmsThreshold?: number;
  /** A confidence below this marks the row as background (class −1, confidence 1 − confidence). Default 0.009999999 (d2l's). */
  posThreshold?: number;
}

/**
 * Predicted boxes from anchors with non-maximum suppression, exactly d2l's `multibox_detection`.
 * For each image: each anchor's box is decoded from its offsets (d2l's `offset_inverse`: centre
 * offsets scaled by 1/10, size offsets by 1/5, no clipping), its confidence is the largest object
 * class probability (class ids 0…C−1, background excluded; the first maximum wins ties), and d2l's
 * NMS ({@link nmsD2l}: keep IoU ≤ `nmsThreshold`) runs over all anchors regardless of class. The
 * output rows are `[class, confidence, x1, y1, x2, y2]`: first the kept anchors in descending
 * confidence, then the others in ascending anchor order with class −1; any row whose confidence is
 * below `posThreshold` gets class −1 and confidence 1 − confidence.
 *
 * @param clsProbs (B, C+1, A) float32 class probabilities, background first.
 * @param offsetPreds (B, A·4) float32 predicted offsets.
 * @param anchors (1, A, 4) (or (A, 4)) float32 corner anchors.
 * @param opts `nmsThreshold` (0.5) and `posThreshold` (0.009999999).
 * @returns (B, A, 6) float32 rows `[class, confidence, x1, y1, x2, y2]`.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { multiboxDetection } from '@webgrad/core/detection';
 * await init();
 * // d2l's anchors chapter: four anchors, zero offsets, probabilities of background, dog and cat
 * const anchors = tensor([[[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95], [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]]]);
 * const clsProbs = tensor([[[0, 0, 0, 0], [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]]]);
 * const out = await multiboxDetection(clsProbs, tensor(new Float32Array(16), { shape: [1, 16] }), anchors, { nmsThreshold: 0.5 });
 * console.log(await out.format()); // rows [0, 0.9, …], [1, 0.9, …], [-1, 0.8, …], [-1, 0.7, …], as the book prints
 * ```
 */
export async function multiboxDetection(clsProbs: Tensor, offsetPreds: Tensor, anchors: Tensor, opts: MultiboxDetectionOptions = {}): Promise<Tensor> {
  const fn = 'multiboxDetection';
  checkOptions(fn, 'opts', opts, ['nmsThreshold', 'posThreshold']);
  const nmsThreshold = opts.nmsThreshold ?? 0.5;
  const posThreshold = opts.posThreshold ?? 0.009999999;
  for (const [name, v] of [
    ['nmsThreshold', nmsThreshold],
    ['posThreshold', posThreshold],
  ] as const) {
    if (typeof v !== 'number' || Number.isNaN(v)) throw new ArgumentError(fn, name, `got ${v}`, 'a number');
  }
  if (clsProbs.dtype !== 'float32' || clsProbs.ndim !== 3 || clsProbs.shape[1] < 2) {
    throw new ArgumentError(fn, 'clsProbs', `has shape [${clsProbs.shape.join(', ')}] and dtype ${clsProbs.dtype}`, 'float32 (B, C+1, A) with C ≥ 1');
  }
  const [B, C1, A] = clsProbs.shape;
  const anchorsOk = anchors.dtype === 'float32' && (anchors.ndim === 2 || (anchors.ndim === 3 && anchors.shape[0] === 1)) && anchors.shape.at(-1) === 4;
  if (!anchorsOk || anchors.shape.at(-2) !== A) {
    throw new ArgumentError(fn, 'anchors', `has shape [${anchors.shape.join(', ')}] and dtype ${anchors.dtype}`, `float32 (1, ${A}, 4)`);
  }
  if (offsetPreds.dtype !== 'float32' || offsetPreds.ndim !== 2 || offsetPreds.shape[0] !== B || offsetPreds.shape[1] !== 4 * A) {
    throw new ArgumentError(fn, 'offsetPreds', `has shape [${offsetPreds.shape.join(', ')}] and dtype ${offsetPreds.dtype}`, `float32 (${B}, ${4 * A})`);
  }
  const device = clsProbs.device;
  for (const [name, t] of [
    ['offsetPreds', offsetPreds],
    ['anchors', anchors],
  ] as const) {
    if (t.device !== device) throw new ArgumentError(fn, name, `is on device ${t.device.label}`, `clsProbs' device ${device.label}`);
  }
  const out = empty([B, A, 6], 'float32', device);
  if (B * A === 0) return out;
  const conf = empty([B, A], 'float32', device);
  const cls = empty([B, A], 'int32', device);
  const rank = empty([B, A], 'int32', device);
  const boxes = tidy(() => offsetInverse(anchors, reshape(offsetPreds, [B, A, 4])));
  const counts = empty([B], 'int32', device);
  let kept: Tensor[] = [];
  try {
    const best = bestClassKernel();
    device.run('multibox.best', best.key, best.source, [clsProbs.buffer, conf.buffer, cls.buffer], grid(B * A, MULTIBOX_WG), {
      layout: bestLayout,
      values: { n: B * A, A, C1 },
    });
    kept = await nmsPerImageWith(fn, boxes, conf, nmsThreshold, {}, 'd2l');
    // the kept lists side by side, and their lengths, for the assembling kernel
    const K = kept.reduce((s, t) => s + t.size, 0);
    const all = empty([Math.max(K, 1)], 'int32', device);
    try {
      let at = 0;
      for (const t of kept) {
        if (t.size > 0) device.queue.copy(t.buffer, 0, all.buffer, 4 * at, 4 * t.size);
        at += t.size;
      }
      device.upload(
        counts.buffer,
        Int32Array.from(kept, (t) => t.size),
      );
      const asm = assembleKernel();
      device.run(
        'multibox.assemble',
        asm.key,
        asm.source,
        [conf.buffer, cls.buffer, boxes.buffer, all.buffer, counts.buffer, rank.buffer, out.buffer],
        grid(B, 1),
        {
          layout: assembleLayout,
          values: { A, B, posThr: Math.fround(posThreshold) },
        },
      );
    } finally {
      all.dispose();
    }
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    for (const t of [conf, cls, rank, boxes, counts, ...kept]) t.dispose();
  }
}
