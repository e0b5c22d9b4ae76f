/**
 * SAM's ViT image encoder (ImageEncoderViT, adapted by SAM from ViTDet): patch embedding, absolute position
 * embedding, `depth` pre-norm transformer blocks (windowed attention with zero padding, global attention in
 * `globalAttnIndexes`, decomposed relative positions in every block), and a convolutional neck down to `outChans`.
 * Parameter paths equal the official state_dict keys under `image_encoder.`; the shapes come from one list of leaves,
 * so {@link imageEncoderParamShapes} gives vit_h's without allocating anything.
 */
import { split, type Key } from '../../base/random';
import { ArgumentError, fmtShape } from '../../base/shape';
import type { Device } from '../../kernels/webgpu/device';
import { disposeUnlessTraced } from '../../nn/dispose';
import { defaultBias, defaultWeight } from '../../nn/init';
import type { Params } from '../../nn/module';
import { scaledDotProductAttention } from '../../tensor/ops/attention';
import { conv2d } from '../../tensor/ops/conv';
import { full } from '../../tensor/ops/creation';
import { add } from '../../tensor/ops/elementwise';
import { permute, split as splitAlong } from '../../tensor/ops/layout';
import { linear } from '../../tensor/ops/matmul';
import { layerNorm } from '../../tensor/ops/norm';
import { reshape } from '../../tensor/ops/shape-ops';
import { windowPartition, windowUnpartition } from '../../tensor/ops/window';
import { tidy } from '../../tensor/scope';
import { isRecording } from '../../tensor/tape';
import { Tensor } from '../../tensor/tensor';
import { applyLayerNorm2d, applyMlpBlock, type LayerNorm2dParams, type LinearWeights, type MlpBlockParams } from './common';
import type { SamEncoderConfig } from './config';
import { decomposedRelPos } from './rel-pos';

/** The encoder blocks' LayerNorm eps (build_sam passes nn.LayerNorm with eps 1e-6). */
const NORM_EPS = 1e-6;

/** One transformer block's parameters, by the official names. */
export type EncoderBlockParams = {
  norm1: LayerNorm2dParams;
  attn: { rel_pos_h: Tensor; rel_pos_w: Tensor; qkv: LinearWeights; proj: LinearWeights };
  norm2: LayerNorm2dParams;
  mlp: MlpBlockParams;
};
/** The image encoder's parameters (official state_dict keys without the `image_encoder.` prefix). */
export type ImageEncoderParams = {
  pos_embed: Tensor;
  patch_embed: { proj: LinearWeights };
  blocks: { [index: string]: EncoderBlockParams };
  neck: { '0': { weight: Tensor }; '1': LayerNorm2dParams; '2': { weight: Tensor }; '3': LayerNorm2dParams };
};

type LeafInit = 'weight' | 'bias' | 'ones' | 'zeros';
/** One parameter: its path, shape, how PyTorch initialises it, and (biases) the shape of its layer's weight. */
interface Leaf {
  path: string;
  shape: number[];
  init: LeafInit;
  fanShape?: number[];
}

/** The side of the patch grid, imgSize/patchSize (64 for the published models). */
export const embedSize = (cfg: SamEncoderConfig): number => cfg.imgSize / cfg.patchSize;

/** Block i attends in windows of this size, or globally (0). */
export const blockWindowSize = (cfg: SamEncoderConfig, i: number): number => (cfg.globalAttnIndexes.includes(i) ? 0 : cfg.windowSize);

/** Throws an ArgumentError for an encoder configuration the architecture cannot build. */
function checkEncoderConfig(fn: string, cfg: SamEncoderConfig): void {
  if (typeof cfg !== 'object' || cfg === null) throw new ArgumentError(fn, 'cfg', `is ${cfg === null ? 'null' : typeof cfg}`, 'a SamEncoderConfig');
  for (const k of ['imgSize', 'patchSize', 'embedDim', 'depth', 'numHeads', 'mlpRatio', 'outChans', 'windowSize'] as const) {
    const v = cfg[k];
    if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) throw new ArgumentError(fn, `cfg.${k}`, `is ${String(v)}`, 'a positive integer');
  }
  if (cfg.imgSize % cfg.patchSize) throw new ArgumentError(fn, 'cfg.imgSize', `is ${cfg.imgSize} with patchSize ${cfg.patchSize}`, 'a multiple of patchSize');
  if (cfg.embedDim % cfg.numHeads) throw new ArgumentError(fn, 'cfg.embedDim', `is ${cfg.embedDim} with numHeads ${cfg.numHeads}`, 'a multiple of numHeads');
  const g = cfg.globalAttnIndexes;
  if (!Array.isArray(g) || !g.every((i) => Number.isInteger(i) && i >= 0 && i < cfg.depth))
    throw new ArgumentError(fn, 'cfg.globalAttnIndexes', `is ${JSON.stringify(g)}`, `block indexes in 0..${cfg.depth - 1}`);
}

function leaves(cfg: SamEncoderConfig): Leaf[] {
  const D = cfg.embedDim,
    E = embedSize(cfg),
    p = cfg.patchSize,
    C = cfg.outChans;
  const hidden = Math.trunc(D * cfg.mlpRatio);
  const headDim = D / cfg.numHeads;
  const lin = (path: string, inF: number, outF: number): Leaf[] => [
    { path: `${path}.weight`, shape: [outF, inF], init: 'weight' },
    { path: `${path}.bias`, shape: [outF], init: 'bias', fanShape: [outF, inF] },
  ];
  const norm = (path: string, n: number): Leaf[] => [
    { path: `${path}.weight`, shape: [n], init: 'ones' },
    { path: `${path}.bias`, shape: [n], init: 'zeros' },
  ];
  const out: Leaf[] = [
    // pos_embed is ImageEncoderViT's own parameter, so it precedes the children in the state_dict
    { path: 'pos_embed', shape: [1, E, E, D], init: 'zeros' },
    { path: 'patch_embed.proj.weight', shape: [D, 3, p, p], init: 'weight' },
    { path: 'patch_embed.proj.bias', shape: [D], init: 'bias', fanShape: [D, 3, p, p] },
  ];
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    // the rel-pos tables span the attended grid: a window, or the whole embedding for global blocks
    const span = blockWindowSize(cfg, i) || E;
    out.push(
      ...norm(`${b}.norm1`, D),
      { path: `${b}.attn.rel_pos_h`, shape: [2 * span - 1, headDim], init: 'zeros' },
      { path: `${b}.attn.rel_pos_w`, shape: [2 * span - 1, headDim], init: 'zeros' },
      ...lin(`${b}.attn.qkv`, D, 3 * D),
      ...lin(`${b}.attn.proj`, D, D),
      ...norm(`${b}.norm2`, D),
      ...lin(`${b}.mlp.lin1`, D, hidden),
      ...lin(`${b}.mlp.lin2`, hidden, D),
    );
  }
  out.push(
    { path: 'neck.0.weight', shape: [C, D, 1, 1], init: 'weight' },
    ...norm('neck.1', C),
    { path: 'neck.2.weight', shape: [C, C, 3, 3], init: 'weight' },
    ...norm('neck.3', C),
  );
  return out;
}

/**
 * The image encoder's state_dict keys (without the `image_encoder.` prefix) and shapes, in the official order, for a
 * configuration; allocates nothing.
 */
export function imageEncoderParamShapes(cfg: SamEncoderConfig): [name: string, shape: number[]][] {
  checkEncoderConfig('imageEncoderParamShapes', cfg);
  return leaves(cfg).map((l) => [l.path, [...l.shape]]);
}

/**
 * New image-encoder parameters, initialised as PyTorch does: Linear and Conv2d weights kaiming-uniform (a = √5) and
 * biases U(±1/√fanIn), LayerNorm weights ones and biases zeros, `pos_embed` and the rel-pos tables zeros.
 */
export function initImageEncoder(cfg: SamEncoderConfig, key: Key, options: { device?: Device } = {}): ImageEncoderParams {
  checkEncoderConfig('initImageEncoder', cfg);
  const all = leaves(cfg);
  const keys = split(key, all.length);
  const root: Params = {};
  all.forEach((leaf, i) => {
    const parts = leaf.path.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Params;
    const o = { device: options.device };
    node[parts[parts.length - 1]] =
      leaf.init === 'weight'
        ? defaultWeight(keys[i], leaf.shape, o)
        : leaf.init === 'bias'
          ? defaultBias(keys[i], leaf.fanShape!, leaf.shape[0], o)
          : full(leaf.shape, leaf.init === 'ones' ? 1 : 0, o);
  });
  return root as unknown as ImageEncoderParams;
}

/** Frees a stage's intermediates as soon as it returns, unless a gradient trace needs them for the backward. */
const stage = (fn: () => Tensor): Tensor => (isRecording() ? fn() : tidy(fn));

/**
 * PatchEmbed: the stride-p, p×p convolution of `x` `[B, 3, S, S]`, returned channels-last `[B, E, E, D]` (before
 * `pos_embed`). Run as a matmul over the non-overlapping patches, which is the same sum in the same layout.
 */
export function applyPatchEmbed(cfg: SamEncoderConfig, params: ImageEncoderParams | Params, x: Tensor): Tensor {
  const p = params as ImageEncoderParams;
  const [B, Cin] = x.shape;
  const E = embedSize(cfg),
    ps = cfg.patchSize,
    D = cfg.embedDim;
  return stage(() => {
    const patches = reshape(permute(reshape(x, [B, Cin, E, ps, E, ps]), [0, 2, 4, 1, 3, 5]), [B, E, E, Cin * ps * ps]);
    return linear(patches, reshape(p.patch_embed.proj.weight, [D, Cin * ps * ps]), p.patch_embed.proj.bias);
  });
}

/**
 * Multi-head attention with decomposed relative positions over a `[B, H, W, D]` grid of tokens (SAM's Attention).
 * In inference each intermediate (and the views sharing its buffer) is freed as soon as the next one exists, which
 * keeps vit_b's windowed blocks (25 windows × 196 tokens × 2304 qkv channels, 45 MB a copy) to about two copies.
 */
function attention(p: EncoderBlockParams['attn'], x: Tensor, numHeads: number): Tensor {
  const [B, H, W, D] = x.shape;
  const hd = D / numHeads,
    N = H * W;
  const qkv = linear(x, p.qkv.weight, p.qkv.bias);
  const qkv5 = reshape(qkv, [B, N, 3, numHeads, hd]);
  // [B, N, 3, heads, hd] → [3, B·heads, N, hd]: q, k and v of every head as one batch
  const heads = permute(qkv5, [2, 0, 3, 1, 4]);
  disposeUnlessTraced(qkv, qkv5);
  const heads4 = reshape(heads, [3, B * numHeads, N, hd]);
  const parts = splitAlong(heads4, 1, 0);
  disposeUnlessTraced(heads, heads4);
  const [q, k, v] = parts.map((t) => reshape(t, [B * numHeads, N, hd]));
  disposeUnlessTraced(...parts);
  const relPos = decomposedRelPos(q, p.rel_pos_h, p.rel_pos_w, [H, W], [H, W]);
  const o = scaledDotProductAttention(q, k, v, { relPos, scale: hd ** -0.5 });
  disposeUnlessTraced(q, k, v, relPos.h, relPos.w);
  const o5 = reshape(o, [B, numHeads, H, W, hd]);
  const merged = permute(o5, [0, 2, 3, 1, 4]);
  disposeUnlessTraced(o, o5);
  const tokens = reshape(merged, [B, H, W, D]);
  const y = linear(tokens, p.proj.weight, p.proj.bias);
  disposeUnlessTraced(merged, tokens);
  return y;
}

/**
 * Transformer block `index` of the encoder on `x` `[B, E, E, D]`: `x + attn(norm1(x))` (in windows unless the block
 * is global; the windows' zero padding is cropped again), then `+ mlp(norm2(·))`.
 */
export function applyEncoderBlock(cfg: SamEncoderConfig, index: number, block: EncoderBlockParams | Params, x: Tensor): Tensor {
  const p = block as EncoderBlockParams;
  const D = cfg.embedDim;
  const ws = blockWindowSize(cfg, index);
  // the outer stage frees the attention branch and the first residual sum, the inner ones each branch's activations
  return stage(() => {
    const attended = stage(() => {
      const h = layerNorm(x, D, p.norm1.weight, p.norm1.bias, NORM_EPS);
      if (ws === 0) return attention(p.attn, h, cfg.numHeads);
      const { windows, padHw } = windowPartition(h, ws);
      return windowUnpartition(attention(p.attn, windows, cfg.numHeads), ws, padHw, [x.shape[1], x.shape[2]]);
    });
    const y = add(x, attended);
    return add(
      y,
      stage(() => applyMlpBlock(p.mlp, layerNorm(y, D, p.norm2.weight, p.norm2.bias, NORM_EPS), 'gelu')),
    );
  });
}

/** The neck on the blocks' output `[B, E, E, D]`: 1×1 conv (no bias), LayerNorm2d, 3×3 conv (no bias), LayerNorm2d → `[B, C, E, E]`. */
export function applyNeck(cfg: SamEncoderConfig, params: ImageEncoderParams | Params, x: Tensor): Tensor {
  const n = (params as ImageEncoderParams).neck;
  const C = cfg.outChans;
  return stage(() => {
    // the 1×1 conv is a matmul on the channels-last tokens; permuting its narrower output is cheaper than the input
    const reduced = permute(linear(x, reshape(n['0'].weight, [C, cfg.embedDim])), [0, 3, 1, 2]);
    const y = applyLayerNorm2d(n['1'], reduced);
    return applyLayerNorm2d(n['3'], conv2d(y, n['2'].weight, { padding: 1 }));
  });
}

/**
 * The image encoder's forward (ImageEncoderViT.forward): `x` `[B, 3, S, S]` (normalised and padded, S = imgSize) →
 * image embeddings `[B, outChans, E, E]` (E = imgSize/patchSize). Differentiable; in inference each stage frees its
 * intermediates as it finishes.
 */
export function applyImageEncoder(cfg: SamEncoderConfig, params: ImageEncoderParams | Params, x: Tensor): Tensor {
  const fn = 'applyImageEncoder';
  const S = cfg.imgSize;
  if (!(x instanceof Tensor) || x.ndim !== 4 || x.shape[1] !== 3 || x.shape[2] !== S || x.shape[3] !== S)
    throw new ArgumentError(fn, 'x', x instanceof Tensor ? `has shape ${fmtShape(x.shape)}` : `is ${typeof x}`, `[B, 3, ${S}, ${S}] (imgSize ${S})`);
  const p = params as ImageEncoderParams;
  const embedded = applyPatchEmbed(cfg, p, x);
  let h = add(embedded, p.pos_embed);
  if (!isRecording()) embedded.dispose();
  for (let i = 0; i < cfg.depth; i++) {
    const next = applyEncoderBlock(cfg, i, p.blocks[i], h);
    if (!isRecording()) h.dispose();
    h = next;
  }
  const out = applyNeck(cfg, p, h);
  if (!isRecording()) h.dispose();
  return out;
}

/** The image encoder as a pair of functions on a configuration: `init(key, { device })` and `apply(params, x)`. */
export interface ImageEncoderViT {
  /** The encoder's configuration. */
  readonly config: SamEncoderConfig;
  /** New parameters, initialised as PyTorch does (see {@link initImageEncoder}). */
  init(key: Key, options?: { device?: Device }): ImageEncoderParams;
  /** `[B, 3, S, S]` → `[B, outChans, E, E]` (see {@link applyImageEncoder}). */
  apply(params: ImageEncoderParams | Params, x: Tensor): Tensor;
}

/**
 * SAM's ViT image encoder for a configuration (`SAM_CONFIGS.vit_b.encoder`, or a small one as here).
 *
 * @example
 * ```ts
 * import { init, random, randn } from '@webgrad/core/node';
 * import { imageEncoderViT } from '@webgrad/core/models';
 * await init();
 * const encoder = imageEncoderViT({
 *   imgSize: 64, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, mlpRatio: 4, outChans: 16, windowSize: 3, globalAttnIndexes: [1],
 * });
 * const params = encoder.init(random.key(0)); // params.blocks[0].attn.rel_pos_h [5, 16], params.neck['0'].weight [16, 32, 1, 1]
 * console.log(encoder.apply(params, randn(random.key(1), [1, 3, 64, 64])).shape); // [1, 16, 8, 8]
 * ```
 */
export function imageEncoderViT(cfg: SamEncoderConfig): ImageEncoderViT {
  checkEncoderConfig('imageEncoderViT', cfg);
  return { config: cfg, init: (key, options) => initImageEncoder(cfg, key, options), apply: (params, x) => applyImageEncoder(cfg, params, x) };
}
