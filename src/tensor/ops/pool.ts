/**
 * Pooling over the last two dims of (C, H, W) or (N, C, H, W) tensors, with PyTorch's semantics:
 * maxPool2d, avgPool2d, adaptiveAvgPool2d, adaptiveMaxPool2d and the global pools.
 * Backward passes have kernels of their own (gathers, no atomics); each is an op whose VJP is
 * the forward's transpose again, so higher-order gradients work.
 */
import { isMax2x2, max2x2Workgroups, poolPlan, POOL_WG, type PoolGeometry, type PoolKind } from '../../kernels/wgsl/pool';
import { grid } from '../../kernels/webgpu/device';
import { refAvgPool, refAvgPoolBackward, refMaxPool, refMaxPoolBackward, refPoolGather, type RefPoolParams } from './ref/pool';
import { ArgumentError, fmtShape } from '../../base/shape';
import { Tensor } from '../tensor';
import { defineOp, type Op, type TensorMeta } from './define';
import type { SplitPlan } from './split';

/** Pooling works plane by plane: rows of a tensor with leading dims split (a lone [H, W] plane does not). */
const planes =
  (...names: string[]) =>
  (ins: Record<string, TensorMeta>): SplitPlan<PoolAttrs> | null =>
    ins[names[0]].shape.length >= 3 ? { kind: 'batch', batched: names } : null;

export type PoolAttrs = RefPoolParams;
type Pair = number | readonly [number, number];

/** PyTorch's pooling output size, with ceil mode's rule that the last window must start inside the input or the left padding. */
export function poolOutputSize(size: number, kernel: number, stride: number, padding: number, dilation: number, ceilMode: boolean): number {
  const effective = dilation * (kernel - 1) + 1;
  const num = size + 2 * padding - effective + (ceilMode ? stride - 1 : 0);
  let out = Math.floor(num / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + padding) out--;
  return out;
}

function geometry(a: PoolAttrs, H: number, W: number): PoolGeometry {
  const OH = a.adaptive ? a.outputSize[0] : poolOutputSize(H, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0], a.ceilMode);
  const OW = a.adaptive ? a.outputSize[1] : poolOutputSize(W, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1], a.ceilMode);
  return {
    H,
    W,
    OH,
    OW,
    adaptive: a.adaptive,
    kH: a.kernel[0],
    kW: a.kernel[1],
    sH: a.stride[0],
    sW: a.stride[1],
    pH: a.padding[0],
    pW: a.padding[1],
    dH: a.dilation[0],
    dW: a.dilation[1],
    countIncludePad: a.countIncludePad,
    divisorOverride: a.divisorOverride ?? 0,
  };
}

const lead = (x: TensorMeta) => x.shape.slice(0, -2);
const planeOf = (x: TensorMeta): [number, number] => [x.shape[x.shape.length - 2], x.shape[x.shape.length - 1]];

/** Runs one pool kernel; `threads` is the output (forward) or input (backward) element count. */
function run(kind: PoolKind, g: PoolGeometry, ins: Tensor[], outs: Tensor[]): void {
  const n = outs[0].size;
  const plan = poolPlan(kind, g, n, outs[0].dtype === 'float16' ? 'f16' : 'f32');
  outs[0].device.run(
    kind === 'max' || kind === 'avg' ? `${kind}Pool2d` : `pool:${kind}`,
    plan.key,
    plan.source,
    [...ins, ...outs].map((t) => t.binding),
    kind === 'max' && outs[0].dtype === 'float32' && isMax2x2(g) ? max2x2Workgroups(g, n) : grid(n, POOL_WG),
    { layout: plan.layout, values: plan.values },
  );
}

/** Pooled planes: [..., OH, OW]. */
const pooled = (x: TensorMeta, a: PoolAttrs) => {
  const g = geometry(a, ...planeOf(x));
  return [...lead(x), g.OH, g.OW];
};
/** A backward's planes: the forward's input size. */
const unpooled = (dy: TensorMeta, a: PoolAttrs) => [...lead(dy), ...a.inputSize];

const maxPoolOp: Op<PoolAttrs> = defineOp({
  name: 'maxPool2d',
  inputs: { x: 'tensor' },
  dtypes: ['float32', 'float16'],
  shape: ({ x }, a: PoolAttrs) => {
    const shape = pooled(x, a);
    return [
      { shape, dtype: x.dtype === 'float16' ? 'float16' : 'float32' },
      { shape, dtype: 'int32' },
    ];
  },
  forward: ({ x }, a, [y, idx]) => run('max', geometry(a, ...planeOf(x)), [x], [y, idx]),
  split: planes('x'),
  reference: ({ x }, a) => refMaxPool(x, a),
  vjp: ({ dy, outputs: [, idx], attrs }) => [maxPoolBackwardOp.call1([dy, idx], attrs)],
});

/** Routes dy to the saved argmax of each window (a gather over the windows covering each input pixel). */
const maxPoolBackwardOp: Op<PoolAttrs> = defineOp({
  name: 'maxPool2dBackward',
  inputs: { dy: 'tensor', idx: 'tensor' },
  shape: ({ dy }, a: PoolAttrs) => ({ shape: unpooled(dy, a), dtype: 'float32' }),
  forward: ({ dy, idx }, a, [dx]) => run('maxBack', geometry(a, ...a.inputSize), [dy, idx], [dx]),
  split: planes('dy', 'idx'),
  reference: ({ dy, idx }, a) => refMaxPoolBackward(dy, idx, a),
  vjp: ({ dy, inputs: { idx }, attrs }) => [poolGatherOp.call1([dy, idx], attrs), null],
});

/** y[o] = x[idx[o]] within each plane: the transpose of maxPool2dBackward. */
const poolGatherOp: Op<PoolAttrs> = defineOp({
  name: 'poolGather',
  inputs: { x: 'tensor', idx: 'tensor' },
  shape: ({ idx }) => ({ shape: idx.shape, dtype: 'float32' }),
  forward: ({ x, idx }, a: PoolAttrs, [y]) => run('gather', geometry(a, ...planeOf(x)), [x, idx], [y]),
  split: planes('x', 'idx'),
  reference: ({ x, idx }) => refPoolGather(x, idx),
  vjp: ({ dy, inputs: { idx }, attrs }) => [maxPoolBackwardOp.call1([dy, idx], attrs), null],
});

const avgPoolOp: Op<PoolAttrs> = defineOp({
  name: 'avgPool2d',
  inputs: { x: 'tensor' },
  shape: ({ x }, a: PoolAttrs) => ({ shape: pooled(x, a), dtype: 'float32' }),
  forward: ({ x }, a, [y]) => run('avg', geometry(a, ...planeOf(x)), [x], [y]),
  split: planes('x'),
  reference: ({ x }, a) => refAvgPool(x, a),
  vjp: ({ dy, attrs }) => [avgPoolBackwardOp.call1([dy], attrs)],
});

/** Spreads dy / divisor over each window (a gather over the windows covering each input pixel). */
const avgPoolBackwardOp: Op<PoolAttrs> = defineOp({
  name: 'avgPool2dBackward',
  inputs: { dy: 'tensor' },
  shape: ({ dy }, a: PoolAttrs) => ({ shape: unpooled(dy, a), dtype: 'float32' }),
  forward: ({ dy }, a, [dx]) => run('avgBack', geometry(a, ...a.inputSize), [dy], [dx]),
  split: planes('dy'),
  reference: ({ dy }, a) => refAvgPoolBackward(dy, a),
  // a linear map whose transpose is the forward pool
  vjp: ({ dy, attrs }) => [avgPoolOp.call1([dy], attrs)],
});

// ---- public API ------------------------------------------------------------------------------

export interface MaxPool2dOptions {
  kernelSize: Pair;
  /** Defaults to kernelSize. */
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
  returnIndices?: boolean;
}
export interface AvgPool2dOptions {
  kernelSize: Pair;
  stride?: Pair | null;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

function pair(fn: string, arg: string, v: Pair, min: number): [number, number] {
  const p: number[] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? [...v] : [];
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, `an integer ≥ ${min} or a pair of them`);
  }
  return p as [number, number];
}

function checkInput(fn: string, x: Tensor): void {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  if (x.ndim !== 3 && x.ndim !== 4) throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)}`, 'a 3-d (C, H, W) or 4-d (N, C, H, W) tensor');
  // maxPool2d's forward also takes float16 (inference); the other pools and every backward do not
  if (x.dtype !== 'float32' && !(x.dtype === 'float16' && fn === 'maxPool2d'))
    throw new ArgumentError(fn, 'input', `has dtype ${x.dtype}`, fn === 'maxPool2d' ? 'float32 or float16' : 'float32');
  if (x.shape.slice(0, -2).some((d) => d === 0)) return;
  if (x.shape[x.ndim - 2] === 0 || x.shape[x.ndim - 1] === 0)
    throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)} with an empty plane`, 'non-zero H and W');
}

function windowAttrs(
  fn: string,
  x: Tensor,
  o: { kernelSize: Pair; stride?: Pair | null; padding?: Pair; dilation?: Pair; ceilMode?: boolean },
  extra: { countIncludePad: boolean; divisorOverride: number | null },
): PoolAttrs {
  checkInput(fn, x);
  if (!o || o.kernelSize === undefined) throw new ArgumentError(fn, 'kernelSize', 'is missing', 'an integer ≥ 1 or a pair of them');
  const kernel = pair(fn, 'kernelSize', o.kernelSize, 1);
  const stride = o.stride == null ? kernel : pair(fn, 'stride', o.stride, 1);
  const padding = pair(fn, 'padding', o.padding ?? 0, 0);
  const dilation = pair(fn, 'dilation', o.dilation ?? 1, 1);
  for (const d of [0, 1]) {
    if (padding[d] > Math.floor(kernel[d] / 2)) {
      throw new ArgumentError(
        fn,
        'padding',
        `is ${JSON.stringify(o.padding)} with kernelSize ${JSON.stringify(o.kernelSize)}`,
        "at most half the kernel size (PyTorch's rule)",
      );
    }
  }
  const H = x.shape[x.ndim - 2],
    W = x.shape[x.ndim - 1];
  const ceilMode = o.ceilMode ?? false;
  const OH = poolOutputSize(H, kernel[0], stride[0], padding[0], dilation[0], ceilMode);
  const OW = poolOutputSize(W, kernel[1], stride[1], padding[1], dilation[1], ceilMode);
  if (OH < 1 || OW < 1) {
    throw new ArgumentError(
      fn,
      'input',
      `of spatial size ${H}×${W} gives an output of ${OH}×${OW} with kernelSize ${kernel.join('×')}, stride ${stride.join('×')}, padding ${padding.join('×')}, dilation ${dilation.join('×')}`,
      'an input at least as large as the (dilated) kernel minus padding',
    );
  }
  return { adaptive: false, kernel, stride, padding, dilation, ceilMode, ...extra, outputSize: [OH, OW], inputSize: [H, W] };
}

/**
 * Max pooling (torch.nn.functional.max_pool2d). With `returnIndices`, also the flat h·W+w index of each maximum (int32).
 *
 * @example
 * ```ts
 * import { init, random, rand, maxPool2d } from '@webgrad/core/node';
 * await init();
 * const x = rand(random.key(0), [1, 2, 8, 8]);
 * console.log(maxPool2d(x, { kernelSize: 2 }).shape); // [1, 2, 4, 4]
 * const [y, indices] = maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, returnIndices: true });
 * console.log(y.shape, indices.dtype); // [1, 2, 4, 4] int32
 * ```
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor;
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor | [Tensor, Tensor] {
  const a = windowAttrs('maxPool2d', x, options, { countIncludePad: false, divisorOverride: null });
  return pick(maxPoolOp.callN([x], a), options.returnIndices ?? false);
}

/** Average pooling (torch.nn.functional.avg_pool2d): countIncludePad defaults to true; divisorOverride replaces the divisor. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const d = options?.divisorOverride ?? null;
  if (d !== null && (!Number.isInteger(d) || d === 0)) throw new ArgumentError('avgPool2d', 'divisorOverride', `is ${d}`, 'a non-zero integer or null');
  const a = windowAttrs('avgPool2d', x, { ...options, dilation: 1 }, { countIncludePad: options.countIncludePad ?? true, divisorOverride: d });
  return avgPoolOp.call1([x], a);
}

type AdaptiveSize = number | readonly [number | null, number | null];

function adaptiveAttrs(fn: string, x: Tensor, outputSize: AdaptiveSize): PoolAttrs {
  checkInput(fn, x);
  const H = x.shape[x.ndim - 2],
    W = x.shape[x.ndim - 1];
  const s =
    typeof outputSize === 'number'
      ? [outputSize, outputSize]
      : Array.isArray(outputSize) && outputSize.length === 2
        ? [outputSize[0] ?? H, outputSize[1] ?? W]
        : [];
  if (s.length !== 2 || !s.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(
      fn,
      'outputSize',
      `is ${JSON.stringify(outputSize)}`,
      'a positive integer or a pair of positive integers (or null to keep that dim)',
    );
  }
  return {
    adaptive: true,
    kernel: [1, 1],
    stride: [1, 1],
    padding: [0, 0],
    dilation: [1, 1],
    ceilMode: false,
    countIncludePad: false,
    divisorOverride: null,
    outputSize: s as [number, number],
    inputSize: [H, W],
  };
}

function pick(outs: Tensor[], withIndices: boolean): Tensor | [Tensor, Tensor] {
  if (withIndices) return [outs[0], outs[1]];
  // the tape keeps the indices for the backward pass; otherwise nothing needs them
  if (outs[0].traces.length === 0) outs[1].dispose();
  return outs[0];
}

/** Adaptive average pooling: output cell i averages rows ⌊i·H/out⌋ … ⌈(i+1)·H/out⌉−1 (likewise columns). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return avgPoolOp.call1([x], adaptiveAttrs('adaptiveAvgPool2d', x, outputSize));
}

/** Adaptive max pooling, with PyTorch's windows; `returnIndices` as maxPool2d. */
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize, options: { returnIndices: true }): [Tensor, Tensor];
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize, options?: { returnIndices?: boolean }): Tensor;
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize, options: { returnIndices?: boolean } = {}): Tensor | [Tensor, Tensor] {
  return pick(maxPoolOp.callN([x], adaptiveAttrs('adaptiveMaxPool2d', x, outputSize)), options.returnIndices ?? false);
}

/** Mean over H and W, keeping them as 1×1 (adaptiveAvgPool2d(x, 1)). */
export const globalAvgPool2d = (x: Tensor) => adaptiveAvgPool2d(x, 1);
/** Max over H and W, keeping them as 1×1 (adaptiveMaxPool2d(x, 1)). */
export const globalMaxPool2d = (x: Tensor) => adaptiveMaxPool2d(x, 1);
