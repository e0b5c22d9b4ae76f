/**
 * Box ops on the GPU (torchvision's box_convert, box_area, clip_boxes_to_image, remove_small_boxes,
 * box_iou, generalized_box_iou and the IoU/GIoU losses) and the GPU side of d2l's anchor machinery
 * (multibox_prior, offset_boxes / offset_inverse, assign_anchor_to_bbox, multibox_target). Boxes are
 * rows of four float32 values, corner form (x1, y1, x2, y2) unless a format says otherwise. The
 * public anchor functions (with their caches and argument checks) are in src/detection/.
 */
import { grid } from '../../kernels/webgpu/device';
import { getDefaultDevice } from '../../kernels/webgpu/devices';
import type { Device } from '../../kernels/webgpu/device';
import {
  BOX_WG,
  iouGradKernel,
  iouKernel,
  iouLayout,
  linear4Kernel,
  linear4Layout,
  matchKernel,
  matchLayout,
  priorKernel,
  priorLayout,
} from '../../kernels/wgsl/boxes';
import { ArgumentError, fmtShape } from '../../base/shape';
import { checkOptions } from '../../base/options';
import type { RefTensor } from '../../base/ref-tensor';
import {
  iouValue,
  offsetOf,
  priorShapes,
  refAssignAnchorToBbox,
  refBoxConvert,
  refBoxConvertTranspose,
  refBoxIou,
  refBoxIouBackward,
  refMultiboxPrior,
  refMultiboxTarget,
  type BoxFormat,
  type IouAttrs,
} from './ref/boxes';
import { defineComposite, defineOp, type Op, type TensorMeta } from './define';
import { empty, Tensor } from '../tensor';
import { tensor, zerosLike } from './creation';
import { add, clamp, div, exp, ge, log, logicalAnd, mul, sub } from './elementwise';
import { concat, narrow } from './layout';
import { reshape } from './shape-ops';
import { mean } from './stats';
import { sum } from './reduce';
import { requireTensor } from '../require-tensor';

export type { BoxFormat } from './ref/boxes';

const FORMATS: readonly BoxFormat[] = ['xyxy', 'xywh', 'cxcywh'];

// ---- argument checks ---------------------------------------------------------------------------

/** A float32 tensor whose last dim is 4 (and of rank `rank` when given). */
export function checkBoxes(fn: string, arg: string, x: unknown, rank?: number): Tensor {
  requireTensor(fn, arg, x, 'a Tensor of boxes');
  if (x.dtype !== 'float32') throw new ArgumentError(fn, arg, `has dtype ${x.dtype}`, 'float32');
  const want = rank === 2 ? '(N, 4)' : rank === 3 ? '(B, N, 4)' : '(…, 4)';
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== 4 || (rank !== undefined && x.ndim !== rank))
    throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, `boxes of shape ${want}`);
  return x;
}

function checkFormat(fn: string, arg: string, f: unknown): BoxFormat {
  if (!FORMATS.includes(f as BoxFormat)) throw new ArgumentError(fn, arg, `is ${JSON.stringify(f)}`, "'xyxy', 'xywh' or 'cxcywh'");
  return f as BoxFormat;
}

// ---- formats -----------------------------------------------------------------------------------

/** Row k of M, for y = x·M: how input coordinate k enters each output coordinate (xyxy in between). */
const TO_XYXY: Record<BoxFormat, number[][]> = {
  xyxy: [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ],
  xywh: [
    [1, 0, 1, 0],
    [0, 1, 0, 1],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ],
  cxcywh: [
    [1, 0, 1, 0],
    [0, 1, 0, 1],
    [-0.5, 0, 0.5, 0],
    [0, -0.5, 0, 0.5],
  ],
};
const FROM_XYXY: Record<BoxFormat, number[][]> = {
  xyxy: TO_XYXY.xyxy,
  xywh: [
    [1, 0, -1, 0],
    [0, 1, 0, -1],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ],
  cxcywh: [
    [0.5, 0, -1, 0],
    [0, 0.5, 0, -1],
    [0.5, 0, 1, 0],
    [0, 0.5, 0, 1],
  ],
};

function convertMatrix(inFmt: BoxFormat, outFmt: BoxFormat, transpose: boolean): number[] {
  const P = TO_XYXY[inFmt];
  const Q = FROM_XYXY[outFmt];
  const M = P.map((row) => [0, 1, 2, 3].map((j) => row.reduce((s, p, k) => s + p * Q[k][j], 0)));
  return [0, 1, 2, 3].flatMap((k) => [0, 1, 2, 3].map((j) => (transpose ? M[j][k] : M[k][j])));
}

interface ConvertAttrs {
  inFmt: BoxFormat;
  outFmt: BoxFormat;
}

const sameAsBoxes = ({ x }: { x: TensorMeta }) => ({ shape: x.shape, dtype: 'float32' as const });

function runLinear4(x: Tensor, y: Tensor, m: number[]): void {
  const k = linear4Kernel();
  x.device.run('boxConvert', k.key, k.source, [x.binding, y.binding], grid(y.size, BOX_WG), { layout: linear4Layout, values: { n: y.size, m } });
}

const boxConvertTransposeOp: Op<ConvertAttrs> = defineOp({
  name: 'boxConvertTranspose',
  inputs: { x: 'tensor' },
  dtypes: ['float32'],
  shape: sameAsBoxes,
  forward: ({ x }, a: ConvertAttrs, [y]) => runLinear4(x, y, convertMatrix(a.inFmt, a.outFmt, true)),
  reference: ({ x }, a) => refBoxConvertTranspose(x, a.inFmt, a.outFmt),
  vjp: ({ dy, attrs }) => [boxConvertOp.call1([dy], attrs)],
});

const boxConvertOp: Op<ConvertAttrs> = defineOp({
  name: 'boxConvert',
  inputs: { x: 'tensor' },
  dtypes: ['float32'],
  shape: sameAsBoxes,
  forward: ({ x }, a: ConvertAttrs, [y]) => runLinear4(x, y, convertMatrix(a.inFmt, a.outFmt, false)),
  reference: ({ x }, a) => refBoxConvert(x, a.inFmt, a.outFmt),
  vjp: ({ dy, attrs }) => [boxConvertTransposeOp.call1([dy], attrs)],
});

/**
 * Converts boxes (…, 4) between formats, as torchvision.ops.box_convert: 'xyxy' (corners), 'xywh'
 * (top-left corner, width, height) and 'cxcywh' (centre, width, height). Differentiable.
 */
export function boxConvert(boxes: Tensor, inFmt: BoxFormat, outFmt: BoxFormat): Tensor {
  checkBoxes('boxConvert', 'boxes', boxes);
  return boxConvertOp.call1([boxes], { inFmt: checkFormat('boxConvert', 'inFmt', inFmt), outFmt: checkFormat('boxConvert', 'outFmt', outFmt) });
}

/** d2l's box_corner_to_center: (x1, y1, x2, y2) → (cx, cy, w, h) for boxes (…, 4). */
export function boxCornerToCenter(boxes: Tensor): Tensor {
  checkBoxes('boxCornerToCenter', 'boxes', boxes);
  return boxConvertOp.call1([boxes], { inFmt: 'xyxy', outFmt: 'cxcywh' });
}

/** d2l's box_center_to_corner: (cx, cy, w, h) → (x1, y1, x2, y2) for boxes (…, 4). */
export function boxCenterToCorner(boxes: Tensor): Tensor {
  checkBoxes('boxCenterToCorner', 'boxes', boxes);
  return boxConvertOp.call1([boxes], { inFmt: 'cxcywh', outFmt: 'xyxy' });
}

// ---- area, clipping, small boxes ---------------------------------------------------------------

const col = (b: Tensor, k: number) => narrow(b, b.ndim - 1, k, 1);

const boxAreaOp = defineComposite({
  name: 'boxArea',
  inputs: { x: 'tensor' },
  dtypes: ['float32'],
  shape: ({ x }) => ({ shape: x.shape.slice(0, -1), dtype: 'float32' }),
  impl: ({ x }) => reshape(mul(sub(col(x, 2), col(x, 0)), sub(col(x, 3), col(x, 1))), x.shape.slice(0, -1)),
  reference: ({ x }) => {
    const d = new Float64Array(x.data.length / 4);
    for (let i = 0; i < d.length; i++) d[i] = (x.data[4 * i + 2] - x.data[4 * i]) * (x.data[4 * i + 3] - x.data[4 * i + 1]);
    return { shape: x.shape.slice(0, -1), dtype: 'float32', data: d };
  },
});

/** Areas (…) of corner boxes (…, 4): (x2 − x1)·(y2 − y1), as torchvision.ops.box_area. Differentiable. */
export function boxArea(boxes: Tensor): Tensor {
  checkBoxes('boxArea', 'boxes', boxes);
  return boxAreaOp.call1([boxes], {});
}

const clipOp = defineComposite({
  name: 'clipBoxesToImage',
  inputs: { x: 'tensor' },
  dtypes: ['float32'],
  shape: sameAsBoxes,
  impl: ({ x }, { size: [h, w] }: { size: [number, number] }) => {
    const hi = tensor(Float32Array.of(w, h, w, h), { device: x.device });
    return clamp(x, 0, hi);
  },
  reference: ({ x }, { size: [h, w] }) => {
    const d = x.data.map((v, i) => Math.min(Math.max(v, 0), i % 2 === 0 ? w : h));
    return { shape: [...x.shape], dtype: 'float32', data: d };
  },
});

/**
 * Clips corner boxes (…, 4) to an image of `size` = [height, width]: x into [0, width], y into
 * [0, height], as torchvision.ops.clip_boxes_to_image. Differentiable (clamp's gradient).
 */
export function clipBoxesToImage(boxes: Tensor, size: readonly [number, number]): Tensor {
  checkBoxes('clipBoxesToImage', 'boxes', boxes);
  return clipOp.call1([boxes], { size: checkSize('clipBoxesToImage', size, false) });
}

const scaleOp = defineComposite({
  name: 'scaleBoxes',
  inputs: { x: 'tensor' },
  dtypes: ['float32'],
  shape: sameAsBoxes,
  impl: ({ x }, { sx, sy }: { sx: number; sy: number }) => mul(x, tensor(Float32Array.of(sx, sy, sx, sy), { device: x.device })),
  reference: ({ x }, { sx, sy }) => ({ shape: [...x.shape], dtype: 'float32', data: x.data.map((v, i) => v * (i % 2 === 0 ? sx : sy)) }),
});

function checkSize(fn: string, size: unknown, positive: boolean): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => typeof s === 'number' && Number.isFinite(s) && (positive ? s > 0 : s >= 0)))
    throw new ArgumentError(fn, 'size', `is ${JSON.stringify(size)}`, `an [height, width] pair of finite ${positive ? 'positive' : 'non-negative'} numbers`);
  return [size[0], size[1]];
}

/** Normalised corner boxes (…, 4) in [0, 1] to pixels of an image of `size` = [height, width]: x·width, y·height. Differentiable. */
export function boxesToPixels(boxes: Tensor, size: readonly [number, number]): Tensor {
  checkBoxes('boxesToPixels', 'boxes', boxes);
  const [h, w] = checkSize('boxesToPixels', size, true);
  return scaleOp.call1([boxes], { sx: w, sy: h });
}

/** Pixel corner boxes (…, 4) of an image of `size` = [height, width] to normalised ones: x/width, y/height. Differentiable. */
export function boxesToNormalized(boxes: Tensor, size: readonly [number, number]): Tensor {
  checkBoxes('boxesToNormalized', 'boxes', boxes);
  const [h, w] = checkSize('boxesToNormalized', size, true);
  return scaleOp.call1([boxes], { sx: 1 / w, sy: 1 / h });
}

/**
 * Indices (int32, ascending) of the boxes (N, 4) whose width and height are both at least
 * `minSize`, as torchvision.ops.remove_small_boxes. Reads back only the keep mask.
 */
export async function removeSmallBoxes(boxes: Tensor, minSize: number): Promise<Tensor> {
  checkBoxes('removeSmallBoxes', 'boxes', boxes, 2);
  if (typeof minSize !== 'number' || Number.isNaN(minSize)) throw new ArgumentError('removeSmallBoxes', 'minSize', `is ${minSize}`, 'a number');
  const keep = logicalAnd(ge(sub(col(boxes, 2), col(boxes, 0)), minSize), ge(sub(col(boxes, 3), col(boxes, 1)), minSize));
  let mask: ArrayLike<number>;
  try {
    mask = await keep.data();
  } finally {
    keep.dispose();
  }
  const idx: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) idx.push(i);
  return tensor(Int32Array.from(idx), { device: boxes.device });
}

// ---- IoU and GIoU ------------------------------------------------------------------------------

const iouShape = ({ b1, b2 }: { b1: TensorMeta; b2: TensorMeta }, a: IouAttrs) => ({
  shape: a.pairwise ? [b1.shape[0], b2.shape[0]] : [b1.shape[0]],
  dtype: 'float32' as const,
});

const boxIouBackwardOp = defineOp({
  name: 'boxIouBackward',
  inputs: { dy: 'tensor', b1: 'tensor', b2: 'tensor' },
  dtypes: ['float32'],
  shape: ({ b1, b2 }) => [
    { shape: b1.shape, dtype: 'float32' as const },
    { shape: b2.shape, dtype: 'float32' as const },
  ],
  forward({ dy, b1, b2 }, a: IouAttrs, [d1, d2]) {
    const N = b1.shape[0];
    const M = b2.shape[0];
    const n = a.pairwise ? N + M : N;
    const k = iouGradKernel(a);
    dy.device.run('boxIouBackward', k.key, k.source, [dy.binding, b1.binding, b2.binding, d1.binding, d2.binding], grid(n, BOX_WG), {
      layout: iouLayout,
      values: { n, N, M, eps: a.eps },
    });
  },
  reference: ({ dy, b1, b2 }, a) => refBoxIouBackward(dy, b1, b2, a),
  noGrad: 'second derivatives of IoU are not provided',
});

const boxIouOp = defineOp({
  name: 'boxIou',
  inputs: { b1: 'tensor', b2: 'tensor' },
  dtypes: ['float32'],
  shape: iouShape,
  forward({ b1, b2 }, a: IouAttrs, [y]) {
    const k = iouKernel(a);
    b1.device.run('boxIou', k.key, k.source, [b1.binding, b2.binding, y.binding], grid(y.size, BOX_WG), {
      layout: iouLayout,
      values: { n: y.size, N: b1.shape[0], M: b2.shape[0], eps: a.eps },
    });
  },
  reference: ({ b1, b2 }, a) => refBoxIou(b1, b2, a),
  vjp: ({ dy, inputs: { b1, b2 }, attrs }) => {
    if (b1.size === 0 || b2.size === 0) return [zerosLike(b1), zerosLike(b2)];
    return boxIouBackwardOp.callN([dy, b1, b2], attrs);
  },
});

/**
 * Pairwise IoU (N, M) of corner boxes (N, 4) and (M, 4), intersection over union, as
 * torchvision.ops.box_iou and d2l's box_iou: one fused kernel, differentiable in both inputs.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { boxIou, generalizedBoxIou } from '@webgrad/core/detection';
 * await init();
 * const a = tensor([[0, 0, 2, 2]]);
 * const b = tensor([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]]);
 * console.log(Array.from(await boxIou(a, b).data())); // [1/7, 1, 0]
 * console.log(Array.from(await generalizedBoxIou(a, b).data())); // [1/7 − 2/9, 1, −31/36]
 * ```
 */
export function boxIou(boxes1: Tensor, boxes2: Tensor): Tensor {
  checkBoxes('boxIou', 'boxes1', boxes1, 2);
  checkBoxes('boxIou', 'boxes2', boxes2, 2);
  return boxIouOp.call1([boxes1, boxes2], { giou: false, pairwise: true, eps: 0 });
}

/**
 * Pairwise generalised IoU (N, M), IoU − (C − U)/C with C the smallest enclosing box's area, as
 * torchvision.ops.generalized_box_iou; differentiable.
 */
export function generalizedBoxIou(boxes1: Tensor, boxes2: Tensor): Tensor {
  checkBoxes('generalizedBoxIou', 'boxes1', boxes1, 2);
  checkBoxes('generalizedBoxIou', 'boxes2', boxes2, 2);
  return boxIouOp.call1([boxes1, boxes2], { giou: true, pairwise: true, eps: 0 });
}

/** How a box loss reduces its per-pair values. */
export type BoxLossReduction = 'none' | 'mean' | 'sum';
/** Options of {@link generalizedBoxIouLoss} and {@link boxIouLoss}. */
export interface BoxLossOptions {
  /** 'none' (default, torchvision's), 'mean' (0 for no boxes) or 'sum'. */
  reduction?: BoxLossReduction;
  /** Added to the denominators (default 1e-7, torchvision's). */
  eps?: number;
}

interface LossAttrs {
  giou: boolean;
  eps: number;
  reduction: BoxLossReduction;
}

const lossOp = defineComposite({
  name: 'boxIouLoss',
  inputs: { b1: 'tensor', b2: 'tensor' },
  dtypes: ['float32'],
  shape: ({ b1 }, a: LossAttrs) => ({ shape: a.reduction === 'none' ? b1.shape.slice(0, -1) : [], dtype: 'float32' }),
  impl: ({ b1, b2 }, a) => {
    const lead = b1.shape.slice(0, -1);
    const n = b1.size / 4;
    const l = reshape(sub(1, boxIouOp.call1([reshape(b1, [n, 4]), reshape(b2, [n, 4])], { giou: a.giou, pairwise: false, eps: a.eps })), lead);
    if (a.reduction === 'none') return l;
    if (a.reduction === 'sum') return sum(l);
    return n === 0 ? mul(sum(l), 0) : mean(l);
  },
  reference: ({ b1, b2 }, a) => {
    const n = b1.data.length / 4;
    const v = Float64Array.from(
      { length: n },
      (_, i) => 1 - iouValue([...b1.data.subarray(4 * i, 4 * i + 4)], [...b2.data.subarray(4 * i, 4 * i + 4)], { giou: a.giou, pairwise: false, eps: a.eps }),
    );
    if (a.reduction === 'none') return { shape: b1.shape.slice(0, -1), dtype: 'float32', data: v };
    const s = v.reduce((p, q) => p + q, 0);
    return { shape: [], dtype: 'float32', data: Float64Array.of(a.reduction === 'sum' ? s : n === 0 ? 0 : s / n) };
  },
});

function boxLoss(fn: string, giou: boolean, boxes1: Tensor, boxes2: Tensor, options: BoxLossOptions): Tensor {
  checkBoxes(fn, 'boxes1', boxes1);
  checkBoxes(fn, 'boxes2', boxes2);
  if (fmtShape(boxes1.shape) !== fmtShape(boxes2.shape))
    throw new ArgumentError(fn, 'boxes2', `has shape ${fmtShape(boxes2.shape)}`, `the shape of boxes1, ${fmtShape(boxes1.shape)} (one box per box)`);
  checkOptions(fn, 'options', options, ['reduction', 'eps']);
  const reduction = options.reduction ?? 'none';
  if (!['none', 'mean', 'sum'].includes(reduction)) throw new ArgumentError(fn, 'reduction', `is ${JSON.stringify(reduction)}`, "'none', 'mean' or 'sum'");
  const eps = options.eps ?? 1e-7;
  if (!Number.isFinite(eps) || eps < 0) throw new ArgumentError(fn, 'eps', `is ${eps}`, 'a finite non-negative number');
  return lossOp.call1([boxes1, boxes2], { giou, eps, reduction });
}

/**
 * torchvision.ops.generalized_box_iou_loss: 1 − GIoU of each pair of corner boxes (…, 4) and
 * (…, 4), element by element, with eps in both denominators; differentiable in both inputs.
 */
export const generalizedBoxIouLoss = (boxes1: Tensor, boxes2: Tensor, options: BoxLossOptions = {}): Tensor =>
  boxLoss('generalizedBoxIouLoss', true, boxes1, boxes2, options);

/** The IoU loss 1 − I/(U + eps) of each pair of corner boxes (…, 4), element by element (torchvision's giou loss without the enclosing-box term). */
export const boxIouLoss = (boxes1: Tensor, boxes2: Tensor, options: BoxLossOptions = {}): Tensor => boxLoss('boxIouLoss', false, boxes1, boxes2, options);

// ---- d2l's anchors: prior, offsets, matching ---------------------------------------------------

interface PriorAttrs {
  H: number;
  W: number;
  sizes: number[];
  ratios: number[];
  device?: Device;
}

/** Half extents per anchor shape in float32, in the order torch evaluates d2l's expressions. */
function priorHalves(H: number, W: number, sizes: readonly number[], ratios: readonly number[]): Float32Array {
  const f = Math.fround;
  const r0 = f(Math.sqrt(f(ratios[0])));
  const ws = [...sizes.map((s) => f(f(s) * r0)), ...ratios.slice(1).map((r) => f(f(sizes[0]) * f(Math.sqrt(f(r)))))].map((w) => f(f(w * H) / W));
  const hs = [...sizes.map((s) => f(f(s) / r0)), ...ratios.slice(1).map((r) => f(f(sizes[0]) / f(Math.sqrt(f(r)))))];
  return Float32Array.from(ws.flatMap((w, k) => [w / 2, hs[k] / 2]));
}

export const multiboxPriorOp = defineOp({
  name: 'multiboxPrior',
  inputs: {},
  dtypes: ['float32'],
  shape: (_, a: PriorAttrs) => ({ shape: [1, a.H * a.W * (a.sizes.length + a.ratios.length - 1), 4], dtype: 'float32' }),
  device: (a) => a.device ?? getDefaultDevice(),
  forward(_, a, [y]) {
    const K = a.sizes.length + a.ratios.length - 1;
    const hw = tensor(priorHalves(a.H, a.W, a.sizes, a.ratios), { shape: [K, 2], device: y.device });
    const k = priorKernel();
    y.device.run('multiboxPrior', k.key, k.source, [hw.binding, y.binding], grid(y.size, BOX_WG), {
      layout: priorLayout,
      values: { n: y.size, W: a.W, K, stepH: Math.fround(1 / a.H), stepW: Math.fround(1 / a.W) },
    });
    hw.dispose();
  },
  reference: (_, a) => refMultiboxPrior(a.H, a.W, a.sizes, a.ratios),
  noGrad: 'anchors are constants of the feature map size',
});
export { priorShapes };

const offsetBoxesOp = defineComposite({
  name: 'offsetBoxes',
  inputs: { anchors: 'tensor', assigned: 'tensor' },
  dtypes: ['float32'],
  shape: ({ anchors, assigned }) => ({ shape: assigned.shape.length >= anchors.shape.length ? assigned.shape : anchors.shape, dtype: 'float32' }),
  impl: ({ anchors, assigned }, { eps }: { eps: number }) => {
    const ca = boxCornerToCenter(anchors);
    const cb = boxCornerToCenter(assigned);
    const d = ca.ndim - 1;
    const e = cb.ndim - 1;
    const awh = narrow(ca, d, 2, 2);
    const xy = div(mul(sub(narrow(cb, e, 0, 2), narrow(ca, d, 0, 2)), 10), awh);
    const wh = mul(log(add(div(narrow(cb, e, 2, 2), awh), eps)), 5);
    return concat([xy, wh], Math.max(d, e));
  },
  reference: ({ anchors, assigned }, { eps }) => {
    const A = anchors.data.length / 4;
    const d = new Float64Array(assigned.data.length);
    for (let r = 0; r < assigned.data.length / 4; r++) {
      const a = r % A;
      d.set(offsetOf([...anchors.data.subarray(4 * a, 4 * a + 4)], [...assigned.data.subarray(4 * r, 4 * r + 4)], eps), 4 * r);
    }
    return { shape: [...assigned.shape], dtype: 'float32', data: d };
  },
});

const offsetInverseOp = defineComposite({
  name: 'offsetInverse',
  inputs: { anchors: 'tensor', offsets: 'tensor' },
  dtypes: ['float32'],
  shape: ({ anchors, offsets }) => ({ shape: offsets.shape.length >= anchors.shape.length ? offsets.shape : anchors.shape, dtype: 'float32' }),
  impl: ({ anchors, offsets }) => {
    const ca = boxCornerToCenter(anchors);
    const d = ca.ndim - 1;
    const e = offsets.ndim - 1;
    const awh = narrow(ca, d, 2, 2);
    const xy = add(div(mul(narrow(offsets, e, 0, 2), awh), 10), narrow(ca, d, 0, 2));
    const wh = mul(exp(div(narrow(offsets, e, 2, 2), 5)), awh);
    return boxCenterToCorner(concat([xy, wh], Math.max(d, e)));
  },
  reference: ({ anchors, offsets }) => {
    const A = anchors.data.length / 4;
    const d = new Float64Array(offsets.data.length);
    for (let r = 0; r < offsets.data.length / 4; r++) {
      const a = 4 * (r % A);
      const [x1, y1, x2, y2] = anchors.data.subarray(a, a + 4);
      const [ox, oy, ow, oh] = offsets.data.subarray(4 * r, 4 * r + 4);
      const w = x2 - x1;
      const h = y2 - y1;
      const cx = (ox * w) / 10 + (x1 + x2) / 2;
      const cy = (oy * h) / 10 + (y1 + y2) / 2;
      const pw = Math.exp(ow / 5) * w;
      const ph = Math.exp(oh / 5) * h;
      d.set([cx - pw / 2, cy - ph / 2, cx + pw / 2, cy + ph / 2], 4 * r);
    }
    return { shape: [...offsets.shape], dtype: 'float32', data: d };
  },
});

/** Checks a box set against anchors: (A, 4) or (B, A, 4) for anchors (A, 4) or (1, A, 4). */
function checkAgainstAnchors(fn: string, anchors: Tensor, arg: string, x: Tensor): void {
  checkBoxes(fn, 'anchors', anchors);
  checkBoxes(fn, arg, x);
  const A = anchors.shape[anchors.ndim - 2];
  const okAnchors = anchors.ndim === 2 || (anchors.ndim === 3 && anchors.shape[0] === 1);
  if (!okAnchors) throw new ArgumentError(fn, 'anchors', `has shape ${fmtShape(anchors.shape)}`, 'anchors of shape (A, 4) or (1, A, 4)');
  if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[x.ndim - 2] !== A)
    throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, `(${A}, 4) or (B, ${A}, 4), one row per anchor`);
}

/**
 * d2l's offset_boxes: the regression targets of boxes `assigned` (A, 4) or (B, A, 4) against their
 * anchors (A, 4): 10·(centre − anchor centre)/anchor size and 5·log(eps + size/anchor size).
 * Differentiable.
 */
export function offsetBoxes(anchors: Tensor, assigned: Tensor, eps = 1e-6): Tensor {
  checkAgainstAnchors('offsetBoxes', anchors, 'assigned', assigned);
  if (!Number.isFinite(eps) || eps < 0) throw new ArgumentError('offsetBoxes', 'eps', `is ${eps}`, 'a finite non-negative number');
  return offsetBoxesOp.call1([anchors, assigned], { eps });
}

/**
 * d2l's offset_inverse: corner boxes predicted from offsets (A, 4) or (B, A, 4) (flat (B, A·4) is
 * accepted too) and their anchors (A, 4) or (1, A, 4); the inverse of {@link offsetBoxes} (without its
 * eps). Differentiable in both inputs.
 */
export function offsetInverse(anchors: Tensor, offsetPreds: Tensor): Tensor {
  const A = anchors instanceof Tensor ? anchors.shape[anchors.ndim - 2] : 0;
  const flat = offsetPreds instanceof Tensor && offsetPreds.ndim === 2 && offsetPreds.shape[1] === 4 * A && A !== 1;
  const x = flat ? reshape(offsetPreds, [offsetPreds.shape[0], A, 4]) : offsetPreds;
  checkAgainstAnchors('offsetInverse', anchors, 'offsetPreds', x);
  return offsetInverseOp.call1([anchors, x], {});
}

interface MatchAttrs {
  iouThreshold: number;
  eps: number;
}

function runMatch(anchors: Tensor, targets: Tensor, B: number, G: number, stride: number, thr: number, eps: number, outs: Tensor[]): void {
  const A = anchors.size / 4;
  const flags = empty([B * (4 * A + G)], 'uint32', anchors.device);
  const k = matchKernel(outs.length === 3);
  const [cls, ...rest] = outs.length === 3 ? [outs[2], outs[0], outs[1]] : outs;
  const buffers = [anchors.binding, targets.binding, flags.binding, cls.binding, ...rest.map((t) => t.binding)];
  anchors.device.run('multiboxTarget', k.key, k.source, buffers, grid(B, 1), { layout: matchLayout, values: { B, A, G, stride, thr, eps } });
  // queued work runs in order, so the pool may hand the scratch buffer out again right away
  flags.dispose();
}

export const multiboxTargetOp = defineOp({
  name: 'multiboxTarget',
  inputs: { anchors: 'tensor', targets: 'tensor' },
  dtypes: ['float32'],
  shape: ({ anchors, targets }) => {
    const A = anchors.shape[anchors.shape.length - 2];
    const B = targets.shape[0];
    return [
      { shape: [B, 4 * A], dtype: 'float32' as const },
      { shape: [B, 4 * A], dtype: 'float32' as const },
      { shape: [B, A], dtype: 'int32' as const },
    ];
  },
  forward({ anchors, targets }, a: MatchAttrs, outs) {
    runMatch(anchors, targets, targets.shape[0], targets.shape[1], 5, a.iouThreshold, a.eps, outs);
  },
  reference: ({ anchors, targets }, a) => refMultiboxTarget(anchors, targets, a.iouThreshold, a.eps),
  noGrad: 'training targets: a discrete matching of anchors to ground truth',
});

export const assignAnchorToBboxOp = defineOp({
  name: 'assignAnchorToBbox',
  inputs: { gt: 'tensor', anchors: 'tensor' },
  dtypes: ['float32'],
  shape: ({ anchors }) => ({ shape: [anchors.shape[0]], dtype: 'int32' as const }),
  forward({ gt, anchors }, a: { iouThreshold: number }, [map]) {
    runMatch(anchors, gt, 1, gt.shape[0], 4, a.iouThreshold, 0, [map]);
  },
  reference: ({ gt, anchors }, a): RefTensor => refAssignAnchorToBbox(gt, anchors, a.iouThreshold),
  noGrad: 'a discrete matching of anchors to ground truth',
});
