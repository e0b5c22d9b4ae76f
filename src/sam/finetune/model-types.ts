/**
 * The parts of the SAM model object (src/models/sam/sam.ts, the shared contract's API) that fine-tuning uses,
 * written out until that file lands in main; then this file re-exports its types.
 */
import type { Params } from '../../nn/module';
import type { Tensor } from '../../tensor/tensor';
import type { SamConfig } from '../../models/sam/config';

/** The trained parameters, one tree per part. */
export interface SamParams {
  /** ImageEncoderViT's parameters. */
  image_encoder: Params;
  /** PromptEncoder's parameters. */
  prompt_encoder: Params;
  /** MaskDecoder's parameters. */
  mask_decoder: Params;
}
/** The prompt encoder's Fourier buffer. */
export interface SamState {
  /** PromptEncoder's buffer. */
  prompt_encoder: { pe_layer: { positional_encoding_gaussian_matrix: Tensor } };
}
/** Prompts in the model's input frame. */
export interface SamPrompts {
  /** coords [B, N, 2], labels [B, N]. */
  points?: { coords: Tensor; labels: Tensor };
  /** [B, 4]. */
  boxes?: Tensor;
  /** [B, 1, 4E, 4E]. */
  masks?: Tensor;
}
/** The model's functions fine-tuning calls. */
export interface SamModel {
  /** The configuration. */
  readonly config: SamConfig;
  /** [B, 3, S, S] → [B, C, E, E]. */
  imageEncoder(p: SamParams['image_encoder'], x: Tensor): Tensor;
  /** Sparse and dense prompt embeddings. */
  promptEncoder(p: SamParams['prompt_encoder'], s: SamState['prompt_encoder'], prompts: SamPrompts, batch?: number): { sparse: Tensor; dense: Tensor };
  /** [1, C, E, E]. */
  denseImagePe(s: SamState['prompt_encoder']): Tensor;
  /** Low-res masks [B, M, 4E, 4E] and IoU predictions [B, M]. */
  maskDecoder(
    p: SamParams['mask_decoder'],
    input: { imageEmbeddings: Tensor; imagePe: Tensor; sparse: Tensor; dense: Tensor; multimaskOutput: boolean },
  ): { masks: Tensor; iouPred: Tensor };
  /** 0–255 RGB → normalised, padded [B, 3, S, S]. */
  preprocess(x: Tensor): Tensor;
  /** Low-res logits → [B, M, H, W]. */
  postprocessMasks(masks: Tensor, inputSize: readonly [number, number], originalSize: readonly [number, number]): Tensor;
}
