/**
 * interpolate (torch.nn.functional.interpolate) for 4-d NCHW tensors, modes 'nearest' (PyTorch's
 * legacy nearest: src = ⌊dst·in/out⌋) and 'bilinear' (alignCorners false by default), for 3-d NCL
 * tensors, modes 'nearest' and 'linear' (run as 2-d planes of height 1), and
 * upsampleLike (U²-Net's _upsample_like). With `scaleFactor`, the output size is ⌊in·scaleFactor⌋
 * and the index scale is 1/scaleFactor (PyTorch's recompute_scale_factor=None behaviour).
 */
import { bilinear2xWorkgroups, isBilinear2x, resizePlan, RESIZE_WG } from '../../kernels/wgsl/resize';
import { grid } from '../../kernels/webgpu/device';
import { refInterpolate, refInterpolate1d, refInterpolateBackward, type RefResize1dParams, type RefResizeParams } from './ref/resize';
import { ArgumentError, fmtShape } from '../../base/shape';
import { Tensor } from '../tensor';
import { defineComposite, defineOp, type Op, type OutputMeta, type TensorMeta } from './define';
import { reshape } from './shape-ops';

export type ResizeAttrs = RefResizeParams;

/** The index scale PyTorch uses along one axis (computed in float32, as PyTorch does for float tensors). */
function axisScale(a: ResizeAttrs, axis: 0 | 1): number {
  const inS = a.inputSize[axis],
    outS = a.outputSize[axis],
    sf = a.scaleFactor[axis];
  if (a.mode === 'bilinear' && a.alignCorners) return outS > 1 ? Math.fround((inS - 1) / (outS - 1)) : 0;
  return sf !== null && sf > 0 ? Math.fround(1 / sf) : Math.fround(inS / outS);
}

function runResize(a: ResizeAttrs, backward: boolean, src: Tensor, out: Tensor): void {
  const [H, W] = a.inputSize,
    [OH, OW] = a.outputSize;
  const g = { H, W, OH, OW, scaleH: axisScale(a, 0), scaleW: axisScale(a, 1), alignCorners: a.alignCorners };
  const plan = resizePlan(a.mode, backward, { n: out.size, ...g }, out.dtype === 'float16' ? 'f16' : 'f32');
  const fast = !backward && out.dtype === 'float32' && isBilinear2x(a.mode, g);
  src.device.run(
    backward ? 'interpolateBackward' : 'interpolate',
    plan.key,
    plan.source,
    [src.binding, out.binding],
    fast ? bilinear2xWorkgroups(g, out.size) : grid(out.size, RESIZE_WG),
    {
      layout: plan.layout,
      values: plan.values,
    },
  );
}

/** The resized planes keep the leading dims; float16 (forward only, inference) stays float16, computed in f32. */
const resized =
  (backward: boolean) =>
  ({ x }: { x: TensorMeta }, a: ResizeAttrs): OutputMeta => ({
    shape: [...x.shape.slice(0, -2), ...(backward ? a.inputSize : a.outputSize)],
    dtype: x.dtype === 'float16' ? 'float16' : 'float32',
  });

const interpolateOp: Op<ResizeAttrs> = defineOp({
  name: 'interpolate',
  inputs: { x: 'tensor' },
  dtypes: ['float32', 'float16'],
  shape: resized(false),
  forward: ({ x }, a, [y]) => runResize(a, false, x, y),
  split: ({ x }) => (x.ndim >= 3 ? { kind: 'batch', batched: ['x'] } : null),
  reference: ({ x }, a) => refInterpolate(x, a),
  vjp: ({ dy, attrs }) => [interpolateBackwardOp.call1([dy], attrs)],
});

/** Gradient of interpolate with respect to its input: a gather over the outputs that sample each pixel. */
const interpolateBackwardOp: Op<ResizeAttrs> = defineOp({
  name: 'interpolateBackward',
  inputs: { x: 'tensor' },
  shape: resized(true),
  forward: ({ x }, a, [y]) => runResize(a, true, x, y),
  split: ({ x }) => (x.ndim >= 3 ? { kind: 'batch', batched: ['x'] } : null),
  reference: ({ x }, a) => refInterpolateBackward(x, a),
  // linear in dy; its transpose is the forward resize
  vjp: ({ dy, attrs }) => [interpolateOp.call1([dy], attrs)],
});

/**
 * 1-d resize of [N, C, L] tensors: each row is a plane of height 1 for the 2-d kernels ('linear' is 'bilinear' with
 * one row), so the forward and its gradient are interpolate's.
 */
const interpolate1dOp = defineComposite({
  name: 'interpolate1d',
  inputs: { x: 'tensor' },
  dtypes: ['float32'],
  shape: ({ x }: { x: TensorMeta }, a: RefResize1dParams): OutputMeta => ({ shape: [...x.shape.slice(0, -1), a.outputSize], dtype: 'float32' }),
  impl({ x }, a) {
    const lead = x.shape.slice(0, -1);
    const planes = reshape(x, [...lead, 1, a.inputSize]);
    const y = interpolateOp.call1([planes], {
      mode: a.mode === 'linear' ? 'bilinear' : 'nearest',
      alignCorners: a.alignCorners,
      inputSize: [1, a.inputSize],
      outputSize: [1, a.outputSize],
      scaleFactor: [null, a.scaleFactor],
    });
    return reshape(y, [...lead, a.outputSize]);
  },
  reference: ({ x }, a) => refInterpolate1d(x, a),
});

export interface InterpolateOptions {
  /** Output H×W (one number for both), or L for 3-d input. Give exactly one of size and scaleFactor. */
  size?: number | readonly [number, number] | readonly [number];
  /** Multiplier of H and W (or of L for 3-d input); the output is ⌊in·scaleFactor⌋. */
  scaleFactor?: number | readonly [number, number] | readonly [number];
  /** Default 'nearest', as PyTorch; 'bilinear' takes 4-d input, 'linear' 3-d. */
  mode?: 'nearest' | 'bilinear' | 'linear';
  /** Bilinear and linear only (PyTorch rejects it for nearest); default false. */
  alignCorners?: boolean | null;
}

const pair = (v: number | readonly number[]): number[] => (typeof v === 'number' ? [v, v] : [...v]);

/**
 * Resizes the H and W dims of an (N, C, H, W) tensor ('nearest' or 'bilinear'), or the L dim of an (N, C, L) tensor
 * ('nearest' or 'linear'), like torch.nn.functional.interpolate.
 *
 * @example
 * ```ts
 * import { init, random, rand, interpolate } from '@webgrad/core/node';
 * await init();
 * const x = rand(random.key(0), [1, 3, 10, 10]);
 * console.log(interpolate(x, { scaleFactor: 2, mode: 'bilinear' }).shape); // [1, 3, 20, 20]
 * console.log(interpolate(x, { size: [4, 6] }).shape); // nearest: [1, 3, 4, 6]
 * ```
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  const fn = 'interpolate';
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  if (x.ndim === 3) return interpolate1d(x, options);
  if (x.ndim !== 4) throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)}`, 'a 3-d (N, C, L) or 4-d (N, C, H, W) tensor');
  const o = options ?? {};
  const mode = o.mode ?? 'nearest';
  if (mode === 'linear')
    throw new ArgumentError(fn, 'mode', `is 'linear' with a 4-d input of shape ${fmtShape(x.shape)}`, "'bilinear' (linear takes 3-d input)");
  // float16 (forward only: inference) as well
  if (x.dtype !== 'float32' && x.dtype !== 'float16') throw new ArgumentError(fn, 'input', `has dtype ${x.dtype}`, 'float32 or float16');
  if (mode !== 'nearest' && mode !== 'bilinear') throw new ArgumentError(fn, 'mode', `is ${JSON.stringify(mode)}`, "'nearest' or 'bilinear'");
  if (mode === 'nearest' && o.alignCorners != null) {
    throw new ArgumentError(fn, 'alignCorners', `is ${o.alignCorners} with mode 'nearest'`, "it unset: it only applies to 'bilinear' (as in PyTorch)");
  }
  const [H, W] = [x.shape[2], x.shape[3]];
  if (H === 0 || W === 0) throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)} with an empty plane`, 'non-zero H and W');
  if ((o.size === undefined) === (o.scaleFactor === undefined)) {
    throw new ArgumentError(
      fn,
      'options',
      o.size === undefined ? 'give neither size nor scaleFactor' : 'give both size and scaleFactor',
      'exactly one of them',
    );
  }
  let outputSize: [number, number];
  let scaleFactor: [number | null, number | null] = [null, null];
  if (o.size !== undefined) {
    const s = pair(o.size);
    if (s.length !== 2 || !s.every((d) => Number.isInteger(d) && d >= 1))
      throw new ArgumentError(fn, 'size', `is ${JSON.stringify(o.size)}`, 'a positive integer or a pair of them');
    outputSize = s as [number, number];
  } else {
    const s = pair(o.scaleFactor!);
    if (s.length !== 2 || !s.every((d) => Number.isFinite(d) && d > 0))
      throw new ArgumentError(fn, 'scaleFactor', `is ${JSON.stringify(o.scaleFactor)}`, 'a positive number or a pair of them');
    outputSize = [Math.floor(H * s[0]), Math.floor(W * s[1])];
    if (outputSize[0] < 1 || outputSize[1] < 1) {
      throw new ArgumentError(
        fn,
        'scaleFactor',
        `is ${JSON.stringify(o.scaleFactor)}, which gives an empty ${outputSize.join('×')} output from ${H}×${W}`,
        'a factor giving at least 1×1',
      );
    }
    scaleFactor = s as [number, number];
  }
  return interpolateOp.call1([x], { mode, alignCorners: mode === 'bilinear' ? (o.alignCorners ?? false) : false, inputSize: [H, W], outputSize, scaleFactor });
}

/** interpolate on an (N, C, L) tensor: 'nearest' or 'linear', one size or scale factor. */
function interpolate1d(x: Tensor, options: InterpolateOptions): Tensor {
  const fn = 'interpolate';
  const o = options ?? {};
  const mode = o.mode ?? 'nearest';
  if (x.dtype !== 'float32') throw new ArgumentError(fn, 'input', `has dtype ${x.dtype} with a 3-d input`, 'float32');
  if (mode !== 'nearest' && mode !== 'linear')
    throw new ArgumentError(fn, 'mode', `is ${JSON.stringify(mode)} with a 3-d input of shape ${fmtShape(x.shape)}`, "'nearest' or 'linear'");
  if (mode === 'nearest' && o.alignCorners != null)
    throw new ArgumentError(fn, 'alignCorners', `is ${o.alignCorners} with mode 'nearest'`, "it unset: it only applies to 'linear' (as in PyTorch)");
  const L = x.shape[2];
  if (L === 0) throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)} with an empty length`, 'a non-zero L');
  if ((o.size === undefined) === (o.scaleFactor === undefined))
    throw new ArgumentError(
      fn,
      'options',
      o.size === undefined ? 'give neither size nor scaleFactor' : 'give both size and scaleFactor',
      'exactly one of them',
    );
  const one = (v: unknown): number | undefined => (typeof v === 'number' ? v : Array.isArray(v) && v.length === 1 ? v[0] : undefined);
  let outputSize: number;
  let scaleFactor: number | null = null;
  if (o.size !== undefined) {
    const s = one(o.size);
    if (s === undefined || !Number.isInteger(s) || s < 1)
      throw new ArgumentError(fn, 'size', `is ${JSON.stringify(o.size)} for a 3-d input`, 'a positive integer (or a list of one)');
    outputSize = s;
  } else {
    const s = one(o.scaleFactor);
    if (s === undefined || !Number.isFinite(s) || s <= 0)
      throw new ArgumentError(fn, 'scaleFactor', `is ${JSON.stringify(o.scaleFactor)} for a 3-d input`, 'a positive number (or a list of one)');
    outputSize = Math.floor(L * s);
    if (outputSize < 1) throw new ArgumentError(fn, 'scaleFactor', `is ${s}, which gives an empty output from length ${L}`, 'a factor giving at least 1');
    scaleFactor = s;
  }
  return interpolate1dOp.call1([x], { mode, alignCorners: mode === 'linear' ? (o.alignCorners ?? false) : false, inputSize: L, outputSize, scaleFactor });
}

/** Bilinear resize of `x` to `ref`'s H×W, alignCorners false (U²-Net's `_upsample_like`). */
export function upsampleLike(x: Tensor, ref: Tensor): Tensor {
  if (!(ref instanceof Tensor) || ref.ndim < 2)
    throw new ArgumentError(
      'upsampleLike',
      'ref',
      `is ${ref instanceof Tensor ? `of shape ${fmtShape(ref.shape)}` : typeof ref}`,
      'a tensor whose last two dims are H and W',
    );
  return interpolate(x, { size: [ref.shape[ref.ndim - 2], ref.shape[ref.ndim - 1]], mode: 'bilinear', alignCorners: false });
}
