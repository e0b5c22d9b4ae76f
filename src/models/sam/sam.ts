/**
 * Segment Anything as one model object (segment_anything/modeling/sam.py and build_sam.py): the ViT image encoder,
 * the prompt encoder and the mask decoder as pure functions of their parameter trees, whose flattened paths are the
 * official state_dict keys (`image_encoder.blocks.0.attn.qkv.weight`, `mask_decoder.iou_token.weight`, …), plus
 * Sam.preprocess and Sam.postprocess_masks.
 */
import { split, type Key } from '../../base/random';
import { ArgumentError, fmtShape } from '../../base/shape';
import type { Device } from '../../kernels/webgpu/device';
import type { Params } from '../../nn/module';
import { tensor } from '../../tensor/ops/creation';
import { div, sub } from '../../tensor/ops/elementwise';
import { pad, sliceAxes } from '../../tensor/ops/layout';
import { interpolate } from '../../tensor/ops/resize';
import { Tensor } from '../../tensor/tensor';
import { SAM_CONFIGS, checkSamConfig, type SamConfig, type SamName } from './config';
import { applyMaskDecoder, maskDecoderLeaves } from './mask-decoder';
import { initLeaves } from './param-spec';
import { PE_MATRIX_KEY, applyPromptEncoder, denseImagePe, promptEncoderLeaves, promptEncoderStateLeaves, scoped, type PointLabels } from './prompt-encoder';
import { applyImageEncoder, imageEncoderParamShapes, initImageEncoder } from './image-encoder';

/** The trained parameters, one tree per part (paths under each are the official keys without the part's prefix). */
export interface SamParams {
  /** ImageEncoderViT's parameters. */
  image_encoder: Params;
  /** PromptEncoder's parameters (point/box/mask embeddings, mask downscaling). */
  prompt_encoder: Params;
  /** MaskDecoder's parameters (two-way transformer, tokens, upscaling, hypernetworks, IoU head). */
  mask_decoder: Params;
}

/** The buffers: the prompt encoder's random Fourier projection [2, C/2]. */
export interface SamState {
  /** PromptEncoder's buffer. */
  prompt_encoder: { pe_layer: { positional_encoding_gaussian_matrix: Tensor } };
}

/** Prompts for one image (or one per batch row), in the model's input frame. */
export interface SamPrompts {
  /** coords [B, N, 2] (x, y) in the model's input frame (pixels of the resized image); labels [B, N]: 1 fg, 0 bg, -1 padding (a tensor, or nested numbers, whose values are then checked). */
  points?: { coords: Tensor; labels: PointLabels };
  /** [B, 4] x1, y1, x2, y2 in the input frame. */
  boxes?: Tensor;
  /** Low-res mask logits [B, 1, 4·E, 4·E] (E = imgSize/patchSize; 256 for the published models). */
  masks?: Tensor;
}

/** What {@link SamModel.maskDecoder} takes. */
export interface SamDecoderInput {
  /** [1 or B, C, E, E]; one embedding is repeated for every prompt. */
  imageEmbeddings: Tensor;
  /** [1, C, E, E], from {@link SamModel.denseImagePe}. */
  imagePe: Tensor;
  /** [B, N, C] from the prompt encoder. */
  sparse: Tensor;
  /** [B, C, E, E] from the prompt encoder. */
  dense: Tensor;
  /** numMultimaskOutputs masks (true) or the single-mask output (false). */
  multimaskOutput: boolean;
}

/** SAM as pure functions of its parameters; see {@link sam}. */
export interface SamModel {
  /** The configuration it was built from. */
  readonly config: SamConfig;
  /** New parameters (PyTorch's default initialisation, embeddings N(0, 1)) and the Fourier buffer, drawn from `key`. */
  init(key: Key, options?: { device?: Device }): { params: SamParams; state: SamState };
  /** [B, 3, S, S] normalised and padded (S = imgSize) → [B, promptEmbedDim, E, E]. */
  imageEncoder(p: SamParams['image_encoder'], x: Tensor): Tensor;
  /** → sparse [B, N', C] (N' = N + 1 padding point when there is no box, + 2 per box), dense [B, C, E, E]. `batch` sets B when no prompt is given (default 1). */
  promptEncoder(p: SamParams['prompt_encoder'], s: SamState['prompt_encoder'], prompts: SamPrompts, batch?: number): { sparse: Tensor; dense: Tensor };
  /** The positional encoding of the E×E grid, [1, C, E, E] (get_dense_pe). */
  denseImagePe(s: SamState['prompt_encoder']): Tensor;
  /** Image embeddings and prompt embeddings → low-res mask logits [B, M, 4E, 4E] and IoU predictions [B, M]; M = 1 or numMultimaskOutputs. */
  maskDecoder(p: SamParams['mask_decoder'], input: SamDecoderInput): { masks: Tensor; iouPred: Tensor };
  /** 0–255 RGB [B, 3, h, w] (h, w ≤ imgSize) → normalised, zero-padded at the bottom and right to [B, 3, S, S] (Sam.preprocess). */
  preprocess(x: Tensor): Tensor;
  /** Low-res logits [B, M, 4E, 4E] → [B, M, H, W] logits: upscaled to S, cropped to inputSize (h, w), resized to originalSize (H, W); bilinear, align_corners false. */
  postprocessMasks(masks: Tensor, inputSize: readonly [number, number], originalSize: readonly [number, number]): Tensor;
}

function resolve(fn: string, config: SamConfig | SamName): SamConfig {
  if (typeof config === 'string') {
    const c = (SAM_CONFIGS as Record<string, SamConfig>)[config];
    if (!c) throw new ArgumentError(fn, 'config', `is ${JSON.stringify(config)}`, "'vit_b', 'vit_l', 'vit_h' or a SamConfig");
    return c;
  }
  if (typeof config !== 'object' || config === null)
    throw new ArgumentError(fn, 'config', `is ${config === null ? 'null' : typeof config}`, "a SamConfig or 'vit_b', 'vit_l', 'vit_h'");
  checkSamConfig(config);
  return config;
}

/**
 * The state_dict keys and shapes a configuration builds, in the official order (image encoder, prompt encoder with
 * its buffer first, mask decoder), without allocating anything: vit_h's 2.5 GB of shapes cost nothing.
 *
 * @example
 * ```ts
 * import { samParamShapes } from '@webgrad/core/sam';
 * const keys = samParamShapes('vit_b');
 * console.log(keys.length, keys.find(([k]) => k === 'mask_decoder.iou_token.weight')); // 314 ['mask_decoder.iou_token.weight', [1, 256]]
 * ```
 */
export function samParamShapes(config: SamConfig | SamName): [name: string, shape: number[]][] {
  const cfg = resolve('samParamShapes', config);
  const pre = (prefix: string, leaves: { path: string; shape: number[] }[]) => leaves.map((l): [string, number[]] => [prefix + l.path, [...l.shape]]);
  return [
    ...imageEncoderParamShapes(cfg.encoder).map(([k, s]): [string, number[]] => [`image_encoder.${k}`, [...s]]),
    ...pre('prompt_encoder.', [...promptEncoderStateLeaves(cfg), ...promptEncoderLeaves(cfg)]),
    ...pre('mask_decoder.', maskDecoderLeaves(cfg)),
  ];
}

const checkTensor = (fn: string, arg: string, x: unknown): Tensor => {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${x === null ? 'null' : typeof x}`, 'a Tensor');
  return x;
};

const checkSize = (fn: string, arg: string, v: unknown, max?: number): [number, number] => {
  const ok = Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n) && n >= 1 && (max === undefined || n <= max));
  if (!ok) throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, max === undefined ? '[h, w] of positive integers' : `[h, w] of integers in 1..${max}`);
  return v as [number, number];
};

/**
 * Segment Anything (facebookresearch/segment-anything) by configuration name or {@link SamConfig}: parameters whose
 * flattened paths are the official state_dict keys, the image encoder, prompt encoder and mask decoder as functions
 * of them, and the model's pre- and post-processing.
 *
 * @example
 * ```ts
 * import { init, random, tensor, zeros } from '@webgrad/core/node';
 * import { sam, samConfig } from '@webgrad/core/sam';
 * await init();
 * const model = sam(samConfig('vit_b', { encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, windowSize: 3, globalAttnIndexes: [1] } }));
 * const { params, state } = model.init(random.key(0));
 * const embeddings = zeros([1, 256, 8, 8]); // model.imageEncoder(params.image_encoder, model.preprocess(image))
 * const { sparse, dense } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, { points: { coords: tensor([[[20, 30]]]), labels: [[1]] } });
 * const out = model.maskDecoder(params.mask_decoder, { imageEmbeddings: embeddings, imagePe: model.denseImagePe(state.prompt_encoder), sparse, dense, multimaskOutput: true });
 * console.log(out.masks.shape, out.iouPred.shape); // [1, 3, 32, 32] [1, 3]
 * ```
 */
export function sam(config: SamConfig | SamName): SamModel {
  const cfg = resolve('sam', config);
  const S = cfg.encoder.imgSize,
    lowRes = (4 * S) / cfg.encoder.patchSize;
  const gaussianOf = (fn: string, s: SamState['prompt_encoder']): Tensor => {
    const g = s?.pe_layer?.positional_encoding_gaussian_matrix;
    if (!(g instanceof Tensor) || g.ndim !== 2 || g.shape[0] !== 2 || g.shape[1] * 2 !== cfg.promptEmbedDim)
      throw new ArgumentError(
        fn,
        `state.${PE_MATRIX_KEY}`,
        g instanceof Tensor ? `has shape ${fmtShape(g.shape)}` : 'is missing',
        `a [2, ${cfg.promptEmbedDim / 2}] tensor`,
      );
    return g;
  };
  return {
    config: cfg,
    init(key, options = {}) {
      const [ke, kp, km, kg] = split(key, 4);
      const device = options.device;
      const state = initLeaves(kg, promptEncoderStateLeaves(cfg), device) as unknown as SamState['prompt_encoder'];
      return {
        params: {
          image_encoder: initImageEncoder(cfg.encoder, ke, { device }),
          prompt_encoder: initLeaves(kp, promptEncoderLeaves(cfg), device),
          mask_decoder: initLeaves(km, maskDecoderLeaves(cfg), device),
        },
        state: { prompt_encoder: state },
      };
    },
    imageEncoder(p, x) {
      const fn = 'sam.imageEncoder';
      checkTensor(fn, 'x', x);
      if (x.ndim !== 4 || x.shape[1] !== 3 || x.shape[2] !== S || x.shape[3] !== S)
        throw new ArgumentError(fn, 'x', `has shape ${fmtShape(x.shape)}`, `[B, 3, ${S}, ${S}] (preprocess pads to imgSize)`);
      return applyImageEncoder(cfg.encoder, p, x);
    },
    promptEncoder: (p, s, prompts, batch) => applyPromptEncoder(cfg, p, gaussianOf('sam.promptEncoder', s), prompts, batch),
    denseImagePe: (s) => denseImagePe(cfg, gaussianOf('sam.denseImagePe', s)),
    maskDecoder: (p, input) => applyMaskDecoder(cfg, p, input),
    preprocess(x) {
      const fn = 'sam.preprocess';
      checkTensor(fn, 'x', x);
      if (x.ndim !== 4 || x.shape[1] !== 3 || x.shape[2] > S || x.shape[3] > S || x.dtype !== 'float32')
        throw new ArgumentError(fn, 'x', `has shape ${fmtShape(x.shape)} (${x.dtype})`, `a float32 [B, 3, h, w] image with h, w ≤ ${S}`);
      return scoped(() => {
        const stat = (v: readonly number[]) => tensor([...v], { shape: [1, 3, 1, 1], device: x.device });
        const y = div(sub(x, stat(cfg.pixelMean)), stat(cfg.pixelStd));
        return pad(y, [0, S - x.shape[3], 0, S - x.shape[2]]);
      });
    },
    postprocessMasks(masks, inputSize, originalSize) {
      const fn = 'sam.postprocessMasks';
      checkTensor(fn, 'masks', masks);
      if (masks.ndim !== 4 || masks.shape[2] !== lowRes || masks.shape[3] !== lowRes)
        throw new ArgumentError(fn, 'masks', `has shape ${fmtShape(masks.shape)}`, `[B, M, ${lowRes}, ${lowRes}] low-res logits`);
      const [h, w] = checkSize(fn, 'inputSize', inputSize, S);
      const size = checkSize(fn, 'originalSize', originalSize);
      return scoped(() => {
        const full = interpolate(masks, { size: [S, S], mode: 'bilinear', alignCorners: false });
        const cropped = sliceAxes(full, [null, null, [0, h], [0, w]]);
        return interpolate(cropped, { size, mode: 'bilinear', alignCorners: false });
      });
    },
  };
}
