/**
 * Segment Anything's configurations, as facebookresearch/segment-anything's build_sam.py builds them: the three
 * published image encoders (vit_b, vit_l, vit_h) share the prompt encoder and mask decoder; `samConfig` derives
 * smaller ones (tests, fine-tuning on this machine) by overriding fields.
 */
import { ArgumentError } from '../../base/shape';

/** The ViT image encoder (ImageEncoderViT's arguments). */
export interface SamEncoderConfig {
  /** Input size in pixels (square); 1024 in the published models. */
  imgSize: number;
  /** Patch size; 16. The image embedding is imgSize/patchSize on a side. */
  patchSize: number;
  /** Width of the transformer. */
  embedDim: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads per block. */
  numHeads: number;
  /** MLP hidden width over embedDim; 4. */
  mlpRatio: number;
  /** Channels of the neck's output (the prompt embedding width); 256. */
  outChans: number;
  /** Window size of the windowed blocks; 14. */
  windowSize: number;
  /** The blocks that attend globally (no windows). */
  globalAttnIndexes: readonly number[];
}

/** The two-way transformer and the mask decoder (MaskDecoder's and TwoWayTransformer's arguments). */
export interface SamDecoderConfig {
  /** Blocks of the two-way transformer; 2. */
  depth: number;
  /** Hidden width of its MLPs; 2048. */
  mlpDim: number;
  /** Attention heads; 8. */
  numHeads: number;
  /** Masks predicted in multimask mode; 3 (plus the single-mask token). */
  numMultimaskOutputs: number;
  /** Layers of the IoU head MLP; 3. */
  iouHeadDepth: number;
  /** Hidden width of the IoU head; 256. */
  iouHeadHiddenDim: number;
}

/** A whole SAM model. */
export interface SamConfig {
  /** Image encoder. */
  encoder: SamEncoderConfig;
  /** Prompt embedding width (= encoder.outChans = the decoder's transformer width); 256. */
  promptEmbedDim: number;
  /** Channels of the mask-input downscaling; 16. */
  maskInChans: number;
  /** Mask decoder. */
  decoder: SamDecoderConfig;
  /** Per-channel mean subtracted from 0–255 RGB input. */
  pixelMean: readonly [number, number, number];
  /** Per-channel standard deviation dividing 0–255 RGB input. */
  pixelStd: readonly [number, number, number];
  /** Logit threshold turning mask logits into masks; 0. */
  maskThreshold: number;
}

const shared = {
  promptEmbedDim: 256,
  maskInChans: 16,
  decoder: { depth: 2, mlpDim: 2048, numHeads: 8, numMultimaskOutputs: 3, iouHeadDepth: 3, iouHeadHiddenDim: 256 },
  pixelMean: [123.675, 116.28, 103.53] as const,
  pixelStd: [58.395, 57.12, 57.375] as const,
  maskThreshold: 0,
};
const encoder = (embedDim: number, depth: number, numHeads: number, globalAttnIndexes: number[]): SamEncoderConfig => ({
  imgSize: 1024,
  patchSize: 16,
  embedDim,
  depth,
  numHeads,
  mlpRatio: 4,
  outChans: 256,
  windowSize: 14,
  globalAttnIndexes,
});

/** The published configurations (build_sam.py): vit_b (sam_vit_b_01ec64.pth), vit_l, vit_h. */
export const SAM_CONFIGS: Readonly<Record<SamName, SamConfig>> = {
  vit_b: { ...shared, encoder: encoder(768, 12, 12, [2, 5, 8, 11]) },
  vit_l: { ...shared, encoder: encoder(1024, 24, 16, [5, 11, 17, 23]) },
  vit_h: { ...shared, encoder: encoder(1280, 32, 16, [7, 15, 23, 31]) },
};

/** Names of the published configurations. */
export type SamName = 'vit_b' | 'vit_l' | 'vit_h';

/** Overrides of {@link samConfig}: any field of the encoder or decoder, and the top-level sizes. */
export interface SamConfigOverrides {
  /** Encoder fields to change. */
  encoder?: Partial<SamEncoderConfig>;
  /** Decoder fields to change. */
  decoder?: Partial<SamDecoderConfig>;
  /** Prompt embedding width (also the encoder's outChans unless that is given). */
  promptEmbedDim?: number;
  /** Mask-input downscaling channels. */
  maskInChans?: number;
}

/**
 * A configuration: a published one by name, optionally with fields overridden (e.g. a small encoder for tests and
 * fine-tuning on a CPU adapter).
 *
 * @example
 * ```ts
 * import { samConfig } from '@webgrad/core/sam';
 * const small = samConfig('vit_b', { encoder: { imgSize: 256, embedDim: 64, depth: 2, numHeads: 2, globalAttnIndexes: [1] } });
 * console.log(small.encoder.imgSize / small.encoder.patchSize); // 16
 * ```
 */
export function samConfig(name: SamName, overrides: SamConfigOverrides = {}): SamConfig {
  const base = SAM_CONFIGS[name];
  if (!base) throw new ArgumentError('samConfig', 'name', `is ${JSON.stringify(name)}`, "'vit_b', 'vit_l' or 'vit_h'");
  const promptEmbedDim = overrides.promptEmbedDim ?? base.promptEmbedDim;
  const cfg: SamConfig = {
    ...base,
    promptEmbedDim,
    maskInChans: overrides.maskInChans ?? base.maskInChans,
    encoder: { ...base.encoder, outChans: promptEmbedDim, ...overrides.encoder },
    decoder: { ...base.decoder, ...overrides.decoder },
  };
  checkSamConfig(cfg);
  return cfg;
}

/** Throws an ArgumentError for a configuration the architecture cannot build. */
export function checkSamConfig(cfg: SamConfig): void {
  const fn = 'samConfig';
  const e = cfg.encoder;
  const posInt = (what: string, v: unknown) => {
    if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) throw new ArgumentError(fn, what, `is ${String(v)}`, 'a positive integer');
  };
  for (const k of ['imgSize', 'patchSize', 'embedDim', 'depth', 'numHeads', 'mlpRatio', 'outChans', 'windowSize'] as const) posInt(`encoder.${k}`, e[k]);
  for (const k of ['depth', 'mlpDim', 'numHeads', 'numMultimaskOutputs', 'iouHeadDepth', 'iouHeadHiddenDim'] as const) posInt(`decoder.${k}`, cfg.decoder[k]);
  posInt('promptEmbedDim', cfg.promptEmbedDim);
  posInt('maskInChans', cfg.maskInChans);
  if (e.imgSize % e.patchSize) throw new ArgumentError(fn, 'encoder.imgSize', `is ${e.imgSize} with patchSize ${e.patchSize}`, 'a multiple of patchSize');
  if (e.embedDim % e.numHeads) throw new ArgumentError(fn, 'encoder.embedDim', `is ${e.embedDim} with numHeads ${e.numHeads}`, 'a multiple of numHeads');
  if (e.outChans !== cfg.promptEmbedDim)
    throw new ArgumentError(fn, 'encoder.outChans', `is ${e.outChans} with promptEmbedDim ${cfg.promptEmbedDim}`, 'equal to promptEmbedDim');
  if (!e.globalAttnIndexes.every((i) => Number.isInteger(i) && i >= 0 && i < e.depth))
    throw new ArgumentError(fn, 'encoder.globalAttnIndexes', `is [${e.globalAttnIndexes.join(', ')}]`, `block indexes in 0..${e.depth - 1}`);
  // the decoder's cross-attention halves the width (attention_downsample_rate 2) and must still split into heads
  if ((cfg.promptEmbedDim / 2) % cfg.decoder.numHeads)
    throw new ArgumentError(fn, 'decoder.numHeads', `is ${cfg.decoder.numHeads} with promptEmbedDim ${cfg.promptEmbedDim}`, 'a divisor of promptEmbedDim/2');
  if (cfg.maskInChans % 4) throw new ArgumentError(fn, 'maskInChans', `is ${cfg.maskInChans}`, 'a multiple of 4');
}
