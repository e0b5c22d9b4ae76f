/**
 * Batch augmentation ops on the GPU (data ops, no gradient except normalize's): affineResample (one
 * resampling kernel driven by a per-sample 2×3 matrix), colorJitterWith (torchvision's ColorJitter
 * and random grayscale in one kernel, with explicit per-sample parameters) and normalize. The random
 * sampling of their parameters lives in src/train/data/augment.ts.
 */
import { grid } from '../../kernels/webgpu/device';
import { affineLayout, affineKernel, jitterLayout, jitterKernel, normalizeLayout, normalizeKernel, AUGMENT_WG } from '../../kernels/wgsl/augment';
import { refAffineResample, refColorJitter, refNormalize, type RefAffineParams } from './ref/augment';
import { defineOp, isRecording, type Op, type TensorMeta } from './define';
import { ArgumentError, fmtShape } from '../../base/shape';
import { Tensor } from '../tensor';
import { tensor } from './creation';
import { div } from './elementwise';
import { reshape } from './shape-ops';

// ---- ops -----------------------------------------------------------------------------------------

export type AffineAttrs = RefAffineParams;

const affineResampleOp: Op<AffineAttrs> = defineOp({
  name: 'affineResample',
  inputs: { x: 'tensor', theta: 'tensor' },
  shape: ({ x }, a: AffineAttrs) => ({ shape: [x.shape[0], x.shape[1], a.outSize[0], a.outSize[1]], dtype: 'float32' }),
  forward({ x, theta }, a, [y]) {
    const [, C, H, W] = x.shape;
    const k = affineKernel(a.mode);
    x.device.run('affineResample', k.key, k.source, [x.binding, theta.binding, y.binding], grid(y.size, AUGMENT_WG), {
      layout: affineLayout,
      values: { n: y.size, C, H, W, OH: a.outSize[0], OW: a.outSize[1], fill: a.fill },
    });
  },
  reference: ({ x, theta }, a) => refAffineResample(x, theta, a),
  noGrad: 'data augmentation: runs on input batches, outside any gradient trace',
});

const sameAsX = ({ x }: { x: TensorMeta }) => ({ shape: x.shape, dtype: 'float32' as const });

const colorJitterOp = defineOp({
  name: 'colorJitter',
  inputs: { x: 'tensor', params: 'tensor' },
  shape: sameAsX,
  forward({ x, params }, _, [y]) {
    const [N, , H, W] = x.shape;
    const k = jitterKernel();
    x.device.run('colorJitter', k.key, k.source, [x.binding, params.binding, y.binding], grid(N, 1), { layout: jitterLayout, values: { HW: H * W, N } });
  },
  reference: ({ x, params }) => refColorJitter(x, params),
  noGrad: 'data augmentation: runs on input batches, outside any gradient trace',
});

/** Per-channel (x − mean) / std; differentiable in x (dx = dy / std), as inputs are sometimes traced. */
const normalizeOp = defineOp({
  name: 'normalizeChannels',
  inputs: { x: 'tensor', mean: 'tensor', std: 'tensor' },
  shape: sameAsX,
  forward({ x, mean, std }, _, [y]) {
    const k = normalizeKernel();
    x.device.run('normalizeChannels', k.key, k.source, [x.binding, mean.binding, std.binding, y.binding], grid(y.size, AUGMENT_WG), {
      layout: normalizeLayout,
      values: { n: y.size, C: x.shape[1], HW: x.shape[2] * x.shape[3] },
    });
  },
  reference: ({ x, mean, std }) => refNormalize(x, mean, std),
  vjp: ({ dy, inputs: { std } }) => [div(dy, reshape(std, [1, std.size, 1, 1])), null, null],
});

export function checkBatch(fn: string, arg: string, x: unknown, channels?: number): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${typeof x}`, 'a Tensor');
  if (x.ndim !== 4) throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, 'a 4-d (N, C, H, W) batch');
  if (x.dtype !== 'float32') throw new ArgumentError(fn, arg, `has dtype ${x.dtype}`, 'float32');
  if (channels !== undefined && x.shape[1] !== channels)
    throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)}`, `${channels} channels (N, ${channels}, H, W)`);
  if (x.shape[2] === 0 || x.shape[3] === 0) throw new ArgumentError(fn, arg, `has shape ${fmtShape(x.shape)} with an empty plane`, 'non-zero H and W');
  return x;
}

export const size2 = (fn: string, arg: string, s: unknown): [number, number] => {
  const v = typeof s === 'number' ? [s, s] : s;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 1))
    throw new ArgumentError(fn, arg, `is ${JSON.stringify(s)}`, 'a positive integer or an [H, W] pair of them');
  return [v[0], v[1]];
};

/**
 * Resamples each sample n of x [N, C, H, W] through its own 2×3 matrix theta[n] (output pixel
 * coordinates → input pixel coordinates, pixel centres at +0.5) into [N, C, size]. Points outside
 * the input take `fill` (default 0).
 */
export function affineResample(
  x: Tensor,
  theta: Tensor | Float32Array,
  options: { size: number | readonly [number, number]; mode?: 'bilinear' | 'nearest'; fill?: number },
): Tensor {
  const fn = 'affineResample';
  checkBatch(fn, 'input', x);
  const mode = options.mode ?? 'bilinear';
  if (mode !== 'bilinear' && mode !== 'nearest') throw new ArgumentError(fn, 'mode', `is ${JSON.stringify(mode)}`, "'bilinear' or 'nearest'");
  const outSize = size2(fn, 'size', options.size);
  const fill = options.fill ?? 0;
  if (!Number.isFinite(fill)) throw new ArgumentError(fn, 'fill', `is ${fill}`, 'a finite number');
  const N = x.shape[0];
  const own = !(theta instanceof Tensor);
  if (own && (!(theta instanceof Float32Array) || theta.length !== 6 * N)) {
    throw new ArgumentError(
      fn,
      'theta',
      theta instanceof Float32Array ? `has ${theta.length} values` : `is ${typeof theta}`,
      `a Tensor or Float32Array of [${N}, 6] (one 2×3 matrix per sample)`,
    );
  }
  const t = own ? tensor(theta as Float32Array, { shape: [((theta as Float32Array).length / 6) | 0, 6], device: x.device }) : (theta as Tensor);
  try {
    if (t.ndim !== 2 || t.shape[0] !== N || t.shape[1] !== 6 || t.dtype !== 'float32' || (own && (theta as Float32Array).length !== 6 * N)) {
      throw new ArgumentError(
        fn,
        'theta',
        own ? `has ${(theta as Float32Array).length} values` : `has shape ${fmtShape(t.shape)} (${t.dtype})`,
        `[${N}, 6] float32 (one 2×3 matrix per sample)`,
      );
    }
    return affineResampleOp.call1([x, t], { mode, outSize, fill });
  } finally {
    if (own) t.dispose();
  }
}

/** Colour jitter with explicit per-sample parameters ([N, 12], layout in src/kernels/wgsl/augment.ts). */
export function colorJitterWith(x: Tensor, params: Float32Array): Tensor {
  checkBatch('colorJitter', 'input', x, 3);
  if (params.length !== 12 * x.shape[0]) throw new ArgumentError('colorJitter', 'params', `has ${params.length} values`, `${12 * x.shape[0]} (12 per sample)`);
  const p = tensor(params, { shape: [x.shape[0], 12], device: x.device });
  try {
    return colorJitterOp.call1([x, p], {});
  } finally {
    p.dispose();
  }
}

// ---- per-sample randomness ----------------------------------------------------------------------

/** The per-channel RGB mean of ImageNet in [0, 1], as torchvision uses for normalisation. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
/** The per-channel RGB standard deviation of ImageNet in [0, 1], as torchvision uses for normalisation. */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** (x − mean[c]) / std[c] per channel of [N, C, H, W]; ImageNet statistics by default. */
export function normalize(x: Tensor, mean: readonly number[] = IMAGENET_MEAN, std: readonly number[] = IMAGENET_STD): Tensor {
  checkBatch('normalize', 'input', x);
  const C = x.shape[1];
  if (mean.length !== C) throw new ArgumentError('normalize', 'mean', `has ${mean.length} values`, `${C}, one per channel of ${fmtShape(x.shape)}`);
  if (std.length !== C) throw new ArgumentError('normalize', 'std', `has ${std.length} values`, `${C}, one per channel of ${fmtShape(x.shape)}`);
  if (!std.every((s) => s !== 0 && Number.isFinite(s))) throw new ArgumentError('normalize', 'std', `is ${JSON.stringify(std)}`, 'finite non-zero values');
  const m = tensor(Float32Array.from(mean), { shape: [C], device: x.device });
  const s = tensor(Float32Array.from(std), { shape: [C], device: x.device });
  // a traced call keeps mean/std alive for the backward pass; the trace's scope frees them
  try {
    return normalizeOp.call1([x, m, s], {});
  } finally {
    if (!isRecording()) {
      m.dispose();
      s.dispose();
    }
  }
}
