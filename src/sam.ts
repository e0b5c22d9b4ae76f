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
