/**
 * U²-Net inference in fp16 (mixed precision) or fp32, with BatchNorm folded into the convolutions.
 *
 * The standard safe recipe, which is what this file does:
 *   - BatchNorm (eval mode) is folded into the preceding conv in float32, on the GPU, BEFORE anything
 *     is cast:  s = γ/√(var + eps),  w' = w·s (per output channel),  b' = (b − mean)·s + β.
 *   - Weights, biases and activations are then STORED as float16 (half the memory traffic), but every
 *     multiply-accumulate runs in f32: the kernels convert each f16 load to f32 and round to f16 only
 *     when they store a result (conv2d, maxPool2d, interpolate, concat, add; each lists float16 in its accepted dtypes).
 *   - The input is cast to float16 on the GPU and the mask (sigmoid of the fused logits) comes back
 *     as float32.
 * Why this matters (a naive `.half()` of everything gives all-black masks): f16's largest finite value
 * is 65504 and its smallest normal 6.1e-5, with 11 significant bits. Folding BN in f16 computes
 * var + eps with eps = 1e-5 below the normal range and 1/√(var + eps) for near-zero running variances,
 * so scales lose their precision or overflow to Infinity; accumulating a 3×3 conv over up to 1152
 * products in f16 loses ~10 bits to rounding and lets partial sums overflow. One Infinity becomes NaN
 * at the next Inf − Inf or 0·Inf, spreads through every later conv, and sigmoid(NaN) is not a mask.
 * Folding in f32 and accumulating in f32 keeps the only f16 error to the storage rounding of each
 * tensor (relative 2^-11). That is small except where folding made a conv ill-conditioned: a channel
 * with a near-zero running variance gets a huge scale, so its output is the small difference of two
 * large terms (Σ w'x and the folded bias) and their f16 rounding dominates it. Such convs (folded
 * |bias| > `float32BiasAbove`, default 64) stay in f32: 3 of the 119 in the pretrained U²-NetP. With
 * them, the fp16 mask is within 1.2e-3 mean |Δ| of fp32 on chelsea.png (all-f16: 3.4e-3, max 0.16);
 * see test/models/u2net-half.test.ts.
 *
 * The forward interprets the same layout as `u2net().apply` (graph.ts) with each conv + BN + ReLU as
 * one conv with fused bias and ReLU; the tests check the folded fp32 forward against `apply`. The
 * folding here is the only one: the ONNX export (src/sod/onnx-export.ts) reads these folded weights.
 */
import type { Tensor } from '../../tensor/tensor';
import type { Device } from '../../kernels/webgpu/device';
import { hasFloat16 } from '../../base/dtype';
import { add, cast, mul, rsqrt, sigmoid, sub } from '../../tensor/ops/elementwise';
import { concat } from '../../tensor/ops/layout';
import { maxPool2d } from '../../tensor/ops/pool';
import { upsampleLike } from '../../tensor/ops/resize';
import { conv2d, type Conv2dOptions } from '../../tensor/ops/conv';
import { conv2dFusedOp } from '../../tensor/ops/conv-fused';
import { reshape } from '../../tensor/ops/shape-ops';
import { full } from '../../tensor/ops/creation';
import { tidy } from '../../tensor/scope';
import * as tree from '../../tensor/tree';
import type { Params, State } from '../../nn/module';
import { disposeUnlessTraced } from '../../nn/dispose';
import { u2netGraph, runU2NetGraph, type RebnconvNode, type U2NetNode } from './graph';
import type { U2NetModel } from './model';

/** Inference precision: float16, float32, or 'auto' (float16 where the device supports shader-f16). */
export type U2NetPrecision = 'fp16' | 'fp32' | 'auto';

/** One folded conv: weight and bias in the inference dtype. */
export interface FoldedConv {
  weight: Tensor;
  bias: Tensor;
}
/** A REBNCONV after folding: its 3×3 conv (+ BN) as one conv, or a depthwise conv then a folded pointwise one. */
export type FoldedRebnconv = { conv: FoldedConv } | { depthwise: FoldedConv; pointwise: FoldedConv };

/** U²-Net with every BatchNorm folded into its conv, ready for fast inference. */
export interface FoldedU2Net {
  /** The configuration of the model it was folded from. */
  config: U2NetModel['config'];
  /** Dtype of the activations (and of every conv's weights except those in `float32Convs`). */
  dtype: 'float32' | 'float16';
  /** Convs kept in float32 in a float16 model (ill-conditioned after folding: see FoldOptions.float32BiasAbove). */
  float32Convs: string[];
  /** stageName → rebnconvName → folded conv; plus side1..side6 and outconv. */
  params: { [stage: string]: { [block: string]: FoldedRebnconv } | FoldedConv };
}

/** Options of {@link foldU2NetForInference}. */
export interface FoldOptions {
  /** Storage dtype of the folded weights and of the activations in the forward (default float32). */
  dtype?: 'float32' | 'float16';
  /** BatchNorm eps (U²-Net's BatchNorm2d default, 1e-5). */
  eps?: number;
  /**
   * In a float16 model, a conv whose folded |bias| exceeds this stays float32 (weights, bias, and its
   * input and output in f32). Default 64. A large folded bias b' = β − mean·γ/√(var + eps) comes from a
   * channel with a near-zero running variance: its output is the small difference of Σ w'x and b',
   * both large, so the f16 rounding of w', x and b' (relative 2^-11 of the large terms) becomes a
   * large error in the output. Measured on the pretrained U²-NetP: the two convs with |b'| of 228 and
   * 1361 (stage2d.rebnconv2d, rebnconv1d) alone moved the mask by 2.6e-3 and 2.3e-3 mean; every other
   * conv by < 1.5e-4. Infinity keeps every conv in f16.
   */
  float32BiasAbove?: number;
}

/**
 * Whether a forward at `precision` runs in fp16 on `device`: 'auto' picks fp16 where the device has
 * 'shader-f16', else fp32; 'fp16' without it throws (name the fallback).
 */
export function resolvePrecision(device: Device, precision: U2NetPrecision = 'auto', fn = 'u2netPredict'): 'fp16' | 'fp32' {
  if (precision !== 'fp16' && precision !== 'fp32' && precision !== 'auto') {
    throw new Error(`${fn}: precision must be 'fp16', 'fp32' or 'auto'; got ${JSON.stringify(precision)}`);
  }
  if (precision === 'auto') return hasFloat16(device) ? 'fp16' : 'fp32';
  if (precision === 'fp16' && !hasFloat16(device)) {
    throw new Error(
      `${fn}: precision 'fp16' needs the WebGPU feature 'shader-f16', which device ${device.label} lacks; use precision 'auto' (falls back to fp32) or 'fp32'`,
    );
  }
  return precision;
}

const leaf = (p: Params | undefined, k: string): Tensor | undefined => p?.[k] as Tensor | undefined;

/**
 * The conv's weight and bias with the eval-mode BatchNorm after it folded in, in f32 (bias zeros when
 * the conv has none): s = γ/√(var + eps), w' = w·s per output channel, b' = (b − mean)·s + β.
 */
export function foldConvBatchNorm(conv: Params, bn: Params | undefined, st: State | undefined, eps: number, where: string): FoldedConv {
  const w = conv.weight as Tensor;
  const C = w.shape[0];
  const o = { device: w.device };
  const b = leaf(conv, 'bias') ?? full([C], 0, o);
  const mean = leaf(st, 'running_mean'),
    variance = leaf(st, 'running_var');
  if (!mean || !variance)
    throw new Error(`foldU2NetForInference: ${where} has no running statistics (state.${where}.bn_s1.running_mean/running_var); inference needs them`);
  const gamma = leaf(bn, 'weight') ?? full([C], 1, o),
    beta = leaf(bn, 'bias') ?? full([C], 0, o);
  const s = mul(gamma, rsqrt(add(variance, eps)));
  return { weight: mul(w, reshape(s, [C, 1, 1, 1])), bias: add(mul(sub(b, mean), s), beta) };
}

function plainConv(conv: Params, where: string): FoldedConv {
  const w = conv.weight as Tensor;
  if (!w) throw new Error(`foldU2NetForInference: params.${where} has no weight`);
  return { weight: w, bias: leaf(conv, 'bias') ?? full([w.shape[0]], 0, { device: w.device }) };
}

/**
 * Every BatchNorm of a U²-Net folded into its conv, in float32 (synchronous: no read-back). The conv
 * weights without a BatchNorm (side outputs, depthwise halves) are the model's own tensors.
 */
export function foldU2NetFloat32(model: U2NetModel, params: Params, state: State, eps = 1e-5): FoldedU2Net['params'] {
  const c = model.config;
  const graph = u2netGraph(c);
  return tidy(() => {
    const result: FoldedU2Net['params'] = {};
    for (const n of graph.nodes) {
      if (n.op === 'conv') result[n.name] = plainConv(params[n.name] as Params, n.name);
      if (n.op !== 'rebnconv') continue;
      const [stage, block] = n.name.split('.');
      const bp = (params[stage] as Params | undefined)?.[block] as Params | undefined,
        bs = (state[stage] as Params | undefined)?.[block] as Params | undefined;
      if (!bp || !bs) throw new Error(`foldU2NetForInference: params or state has no '${n.name}' (is this a ${c.model}?)`);
      const conv = bp.conv_s1 as Params;
      const blocks = (result[stage] ??= {}) as { [block: string]: FoldedRebnconv };
      blocks[block] =
        'depthwise' in conv
          ? {
              depthwise: plainConv(conv.depthwise as Params, `${n.name}.conv_s1.depthwise`),
              pointwise: foldConvBatchNorm(conv.pointwise as Params, bp.bn_s1 as Params, bs.bn_s1 as State, eps, n.name),
            }
          : { conv: foldConvBatchNorm(conv, bp.bn_s1 as Params, bs.bn_s1 as State, eps, n.name) };
    }
    return result;
  });
}

/**
 * Folds every BatchNorm of a U²-Net (standard, grouped or separable) into its conv, in float32, then
 * casts the result to `dtype`. The returned weights are new tensors (dispose them with
 * `disposeFolded`); `params` and `state` are left as they are.
 */
export async function foldU2NetForInference(model: U2NetModel, params: Params, state: State, options: FoldOptions = {}): Promise<FoldedU2Net> {
  const dtype = options.dtype ?? 'float32';
  const eps = options.eps ?? 1e-5;
  const threshold = options.float32BiasAbove ?? 64;
  if (dtype !== 'float32' && dtype !== 'float16') throw new Error(`foldU2NetForInference: dtype must be 'float32' or 'float16'; got ${JSON.stringify(dtype)}`);
  const c = model.config;
  const f32 = foldU2NetFloat32(model, params, state, eps);
  if (dtype === 'float32') return { config: c, dtype, float32Convs: [], params: f32 };
  // cast to f16 (keeping the ill-conditioned convs in f32), then free the f32 copies that were replaced
  const float32Convs: string[] = [];
  const own = new Set<Tensor>(tree.leaves(params) as Tensor[]);
  const half = async (f: FoldedConv, where: string): Promise<FoldedConv> => {
    const b = (await f.bias.data()) as Float32Array;
    if (b.some((v) => Math.abs(v) > threshold)) {
      float32Convs.push(where);
      return f;
    }
    const r = { weight: cast(f.weight, 'float16'), bias: cast(f.bias, 'float16') };
    for (const t of [f.weight, f.bias]) if (!own.has(t)) t.dispose();
    return r;
  };
  const out: FoldedU2Net['params'] = {};
  for (const [k, v] of Object.entries(f32)) {
    if ('weight' in v) {
      out[k] = await half(v as FoldedConv, k);
      continue;
    }
    const blocks: { [block: string]: FoldedRebnconv } = {};
    for (const [name, b] of Object.entries(v as { [block: string]: FoldedRebnconv })) {
      blocks[name] =
        'conv' in b
          ? { conv: await half(b.conv, `${k}.${name}`) }
          : { depthwise: await half(b.depthwise, `${k}.${name}.depthwise`), pointwise: await half(b.pointwise, `${k}.${name}.pointwise`) };
    }
    out[k] = blocks;
  }
  return { config: c, dtype, float32Convs, params: out };
}

/** Frees the folded weights (never the model's own params: float32 side convs are shared with them, and are skipped). */
export function disposeFolded(folded: FoldedU2Net, original?: Params): void {
  const own = new Set<Tensor>(original ? (tree.leaves(original) as Tensor[]) : []);
  for (const t of tree.leaves(folded.params) as Tensor[]) if (!own.has(t)) t.dispose();
}

// ---- the forward ---------------------------------------------------------------------------------

const pool = (x: Tensor) => maxPool2d(x, { kernelSize: 2, stride: 2, ceilMode: true });

/** A conv in its weights' dtype: an f32 conv inside an f16 model reads its input as f32 and stores f16. */
function conv(f: FoldedConv, x: Tensor, o: Conv2dOptions): Tensor {
  const dt = f.weight.dtype;
  if (x.dtype === dt) return conv2d(x, f.weight, { ...o, bias: f.bias });
  return cast(conv2d(cast(x, dt), f.weight, { ...o, bias: f.bias }), x.dtype);
}

/** conv3x3 + BN + ReLU as one conv with fused bias and ReLU (or depthwise, then pointwise + ReLU). */
function rebnconv(f: FoldedRebnconv, x: Tensor, dilation: number): Tensor {
  if ('depthwise' in f) {
    const h = conv(f.depthwise, x, { padding: dilation, dilation, groups: x.shape[1] });
    return conv(f.pointwise, h, { activation: 'relu' });
  }
  return conv(f.conv, x, { padding: dilation, dilation, groups: x.shape[1] / f.conv.weight.shape[1], activation: 'relu' });
}

/**
 * A float32 conv (one or two inputs, read in place: no concat) with bias, activation and an optional
 * residual fused into its store.
 */
function fusedConv(f: FoldedConv, xs: Tensor[], dilation: number, padding: number, act: 'none' | 'relu', r?: Tensor): Tensor {
  const groups = (xs[0].shape[1] + (xs[1]?.shape[1] ?? 0)) / f.weight.shape[1];
  return conv2dFusedOp.call1([xs[0], f.weight, f.bias, ...xs.slice(1), ...(r ? [r] : [])], {
    stride: [1, 1],
    padding: [padding, padding, padding, padding],
    dilation: [dilation, dilation],
    groups,
    two: xs.length === 2,
    act,
    res: r ? 'after' : 'none',
  });
}

/** Each RSU's residual add whose first operand is a REBNCONV read by nothing else: add → that REBNCONV's name. */
function fusableAdds(nodes: readonly U2NetNode[]): Map<string, string> {
  const readers = new Map<string, number>();
  for (const n of nodes)
    for (const x of n.op === 'add' ? [n.a, n.b] : n.op === 'upsample' ? [n.x, n.like] : n.op === 'maxpool' ? [n.x] : n.x)
      readers.set(x, (readers.get(x) ?? 0) + 1);
  const rebn = new Set(nodes.filter((n) => n.op === 'rebnconv').map((n) => (n as RebnconvNode).y));
  const out = new Map<string, string>();
  for (const n of nodes) if (n.op === 'add' && rebn.has(n.a) && readers.get(n.a) === 1 && n.a !== n.b) out.set(n.a, n.b);
  return out;
}

/**
 * The 7 logit maps [d0 (fused), d1, …, d6] of a folded U²-Net, in the folded dtype. `x` is float32
 * (cast here when the model is float16) or already of the folded dtype. Run it inside `tidy`;
 * intermediates are freed as soon as their last reader has run. In float32, each REBNCONV is one
 * conv2dFused dispatch: the decoder's two inputs read in place (no concat), bias and ReLU in the store,
 * and an RSU's residual add fused into its last conv.
 */
export function u2netFoldedApply(folded: FoldedU2Net, x: Tensor, { fusedPath = true }: { fusedPath?: boolean } = {}): Tensor[] {
  const c = folded.config;
  if (x.ndim !== 4 || x.shape[1] !== c.inChannels) {
    throw new Error(`u2netFoldedApply: input must have shape [N, ${c.inChannels}, H, W]; got [${x.shape.join(', ')}]`);
  }
  if (x.dtype !== 'float32' && x.dtype !== folded.dtype) throw new Error(`u2netFoldedApply: input has dtype ${x.dtype}; expected float32 or ${folded.dtype}`);
  const fp = folded.params;
  // run `f` on the channel concat of xs, freeing the concat (not the inputs: the interpreter frees those)
  const onCat = (xs: Tensor[], f: (t: Tensor) => Tensor) => {
    if (xs.length === 1) return f(xs[0]);
    const t = concat(xs, 1);
    const y = f(t);
    disposeUnlessTraced(t);
    return y;
  };
  const input = x.dtype === folded.dtype ? x : cast(x, folded.dtype);
  const graph = u2netGraph(c);
  const fuse = fusedPath && folded.dtype === 'float32';
  const residualOf = fuse ? fusableAdds(graph.nodes) : new Map<string, string>();
  const values = new Map<string, Tensor>();
  // a fused add returns its first operand, which the interpreter then frees as the add's input: skip that once
  const aliased = new Set<Tensor>();
  const fusedAdd = new Set<string>();
  return runU2NetGraph<Tensor>(graph, input, {
    rebnconv: (n, xs) => {
      const [stage, block] = n.name.split('.');
      const f = (fp[stage] as { [block: string]: FoldedRebnconv })[block];
      const r = values.get(residualOf.get(n.y) ?? '');
      let y: Tensor;
      if (!fuse || !('conv' in f) || xs.length > 2) y = onCat(xs, (t) => rebnconv(f, t, n.dilation));
      else {
        y = fusedConv(f.conv, xs, n.dilation, n.dilation, 'relu', r);
        if (r) fusedAdd.add(n.y);
      }
      values.set(n.y, y);
      return y;
    },
    conv: (n, xs) => {
      const f = fp[n.name] as FoldedConv;
      if (!fuse || xs.length > 2) return onCat(xs, (t) => conv(f, t, { padding: n.padding }));
      return fusedConv(f, xs, 1, n.padding, 'none');
    },
    maxpool: (_n, t) => pool(t),
    upsample: (_n, t, like) => upsampleLike(t, like),
    add: (n, a, b) => {
      if (!fusedAdd.has(n.a)) return add(a, b);
      aliased.add(a);
      return a;
    },
    free: (t) => {
      if (aliased.delete(t)) return;
      for (const [k, v] of values) if (v === t) values.delete(k);
      disposeUnlessTraced(t);
    },
  });
}

/** Options of {@link u2netPredict} and {@link u2netPredictor}. */
export interface U2NetPredictOptions {
  /** 'auto' (default): fp16 where the device has 'shader-f16', else fp32. */
  precision?: U2NetPrecision;
  /** BatchNorm eps used when folding (default 1e-5). */
  eps?: number;
  /** See FoldOptions.float32BiasAbove. */
  float32BiasAbove?: number;
}

/** A folded U²-Net ready to predict many batches; dispose it when done. */
export interface U2NetPredictor {
  /** The precision actually used. */
  precision: 'fp16' | 'fp32';
  /** The folded weights it runs. */
  folded: FoldedU2Net;
  /** Saliency probabilities sigmoid(d0), float32 [N, outChannels, H, W]. */
  predict(x: Tensor): Tensor;
  /** Frees the folded weights. */
  dispose(): void;
}

/**
 * Folds once, predicts many times: the inference path for repeated use (e.g. a folder of photos).
 * `params` and `state` stay owned by the caller.
 */
export async function u2netPredictor(model: U2NetModel, params: Params, state: Params, options: U2NetPredictOptions = {}): Promise<U2NetPredictor> {
  const first = tree.leaves(params)[0] as Tensor | undefined;
  if (!first) throw new Error('u2netPredictor: params has no tensors');
  const precision = resolvePrecision(first.device, options.precision, 'u2netPredictor');
  const folded = await foldU2NetForInference(model, params, state, {
    dtype: precision === 'fp16' ? 'float16' : 'float32',
    eps: options.eps,
    float32BiasAbove: options.float32BiasAbove,
  });
  return {
    precision,
    folded,
    predict: (x) => tidy(() => sigmoid(u2netFoldedApply(folded, x)[0])),
    dispose: () => disposeFolded(folded, params),
  };
}

/**
 * One-shot inference: sigmoid of the fused logits, float32, at `precision` ('auto': fp16 where the
 * device has 'shader-f16', else fp32). Folds the BatchNorms each call; use u2netPredictor to reuse them.
 *
 * @example
 * ```ts
 * import { init, random, rand } from '@webgrad/core/node';
 * import { u2net, u2netPredict } from '@webgrad/core/models';
 * await init();
 * const model = u2net({ model: 'u2netp' });
 * const { params, state } = model.init(random.key(0)); // or pretrainedU2netp() for trained weights
 * const mask = await u2netPredict(model, params, state, rand(random.key(1), [1, 3, 64, 64]));
 * console.log(mask.shape); // [1, 1, 64, 64], saliency in [0, 1]
 * ```
 */
export async function u2netPredict(model: U2NetModel, params: Params, state: Params, x: Tensor, options: U2NetPredictOptions = {}): Promise<Tensor> {
  const p = await u2netPredictor(model, params, state, options);
  try {
    return p.predict(x);
  } finally {
    p.dispose();
  }
}
