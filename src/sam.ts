/**
 * `@webgrad/core/sam`: Segment Anything (runtime-neutral): the model as facebookresearch/segment-anything builds it
 * (ViT image encoder in the vit_b, vit_l and vit_h configurations, prompt encoder, mask decoder; parameter paths equal
 * the official state_dict keys), its pre- and post-processing, the predictor (`setImage` once, then `predict` with
 * points, boxes or a mask), the automatic mask generator, and fine-tuning with a frozen encoder. Loading the official
 * `.pth` checkpoints from disk and the embedding cache are in `@webgrad/core/node`.
 *
 * @module
 */
// the model (from @webgrad/core/models)
export {
  SAM_CONFIGS,
  samConfig,
  checkSamConfig,
  sam,
  samParamShapes,
  type SamConfig,
  type SamEncoderConfig,
  type SamDecoderConfig,
  type SamName,
  type SamConfigOverrides,
  type SamModel,
  type SamParams,
  type SamState,
  type SamPrompts,
  type SamDecoderInput,
  type PointLabels,
} from './models';
// owner: predictor — ResizeLongestSide, the predictor, the automatic mask generator and its utilities
export {
  getPreprocessShape,
  applyCoords,
  applyBoxes,
  applyCoordsTensor,
  applyBoxesTensor,
  resizeImageU8,
  resizeLongestSide,
  resizeLongestSideTensor,
  antialiasWeights,
  imageChannels,
  type ImageBytes,
  type ResizeFilter,
} from './sam/transforms';
export {
  SamPredictor,
  type SamPredictOptions,
  type SamPrediction,
  type SamPredictTorchOptions,
  type SamTorchPrediction,
} from './sam/predictor';
export { SamAutomaticMaskGenerator, type SamAutomaticMaskGeneratorOptions, type SamMaskRecord } from './sam/amg';
export {
  buildPointGrid,
  buildAllLayerPointGrids,
  generateCropBoxes,
  calculateStabilityScore,
  stabilityScoreHost,
  maskToBox,
  boxXyxyToXywh,
  uncropBox,
  uncropPoint,
  uncropMask,
  isBoxNearCropEdge,
  maskToRle,
  rleToMask,
  areaFromRle,
  connectedComponents,
  removeSmallRegions,
  batchRanges,
  type Box,
  type Rle,
} from './sam/amg-utils';

// fine-tuning with a frozen image encoder (src/sam/finetune)
export {
  sigmoidFocalLoss,
  diceLoss,
  maskIou,
  samLoss,
  type LossReduction,
  type SigmoidFocalLossOptions,
  type DiceLossOptions,
  type SamLossOptions,
  type SamLossParts,
} from './sam/finetune/losses';
export {
  promptRng,
  maskBox,
  jitterBox,
  samplePrompt,
  promptToInputFrame,
  promptBatch,
  objectMasks,
  lowResTarget,
  type PromptBox,
  type MaskPrompt,
  type PromptSamplingOptions,
  type PromptKind,
  type PromptBatch,
  type ObjectMask,
} from './sam/finetune/prompts';
export { semanticHead, upsampleFromGrid, type SemanticHead, type SemanticHeadConfig, type SemanticHeadOutput } from './sam/finetune/semantic-head';
export {
  finetuneSam,
  type FinetuneSample,
  type FinetuneTask,
  type SamFinetuneOptions,
  type EpochReport,
  type PanelRow,
  type TrainedPart,
  type FinetuneResult,
} from './sam/finetune/trainer';
