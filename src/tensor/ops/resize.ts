/**
 * interpolate (torch.nn.functional.interpolate) for 4-d NCHW tensors, modes 'nearest' (PyTorch's
 * legacy nearest: src = ⌊dst·in/out⌋) and 'bilinear' (alignCorners false by default), and
 * upsampleLike (U²-Net's _upsample_like). With `scaleFactor`, the output size is ⌊in·scaleFactor⌋
 * and the index scale is 1/scaleFactor (PyTorch's recompute_scale_factor=None behaviour).
 */
import { resizePlan, RESIZE_WG } from '../../kernels/wgsl/resize';
import { grid } from '../../kernels/webgpu/device';
import { refInterpolate, refInterpolateBackward, type RefResizeParams } from './ref/resize';
import { ArgumentError, fmtShape } from '../../base/shape';
import { Tensor } from '../tensor';
import { defineOp, type Op, type OutputMeta, type TensorMeta } from './define';

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
  const plan = resizePlan(
    a.mode,
    backward,
    { n: out.size, H, W, OH, OW, scaleH: axisScale(a, 0), scaleW: axisScale(a, 1), alignCorners: a.alignCorners },
    out.dtype === 'float16' ? 'f16' : 'f32',
  );
  src.device.run(backward ? 'interpolateBackward' : 'interpolate', plan.key, plan.source, [src.buffer, out.buffer], grid(out.size, RESIZE_WG), {
    layout: plan.layout,
    values: plan.values,
  });
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
  reference: ({ x }, a) => refInterpolate(x, a),
  vjp: ({ dy, attrs }) => [interpolateBackwardOp.call1([dy], attrs)],
});

/** Gradient of interpolate with respect to its input: a gather over the outputs that sample each pixel. */
const interpolateBackwardOp: Op<ResizeAttrs> = defineOp({
  name: 'interpolateBackward',
  inputs: { x: 'tensor' },
  shape: resized(true),
  forward: ({ x }, a, [y]) => runResize(a, true, x, y),
  reference: ({ x }, a) => refInterpolateBackward(x, a),
  // linear in dy; its transpose is the forward resize
  vjp: ({ dy, attrs }) => [interpolateOp.call1([dy], attrs)],
});

export interface InterpolateOptions {
  /** Output H×W (one number for both). Give exactly one of size and scaleFactor. */
  size?: number | readonly [number, number];
  /** Multiplier of H and W; the output is ⌊in·scaleFactor⌋. */
  scaleFactor?: number | readonly [number, number];
  /** Default 'nearest', as PyTorch. */
  mode?: 'nearest' | 'bilinear';
  /** Bilinear only (PyTorch rejects it for nearest); default false. */
  alignCorners?: boolean | null;
}

const pair = (v: number | readonly number[]): number[] => (typeof v === 'number' ? [v, v] : [...v]);

/**
 * Resizes the H and W dims of an (N, C, H, W) tensor, like torch.nn.functional.interpolate.
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
  if (x.ndim !== 4) throw new ArgumentError(fn, 'input', `has shape ${fmtShape(x.shape)}`, 'a 4-d (N, C, H, W) tensor');
  const o = options ?? {};
  const mode = o.mode ?? 'nearest';
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
