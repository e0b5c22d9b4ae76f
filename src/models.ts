/**
 * `@webgrad/core/models`: ResNet and U²-Net with PyTorch's parameter names (runtime-neutral).
 *
 * @module
 */
export {
  resnet,
  isResNetHead,
  RESNET_CONFIG,
  KERAS_RESNET50_CONFIG,
  type ResNetModel,
  type ResNetFeaturesOptions,
  type ResNetConfig,
  type ResNetName,
  type ResNetFeatures,
  type BlockKind,
} from './models/resnet';
export { preprocessKerasResNet, deprocessKerasResNet, KERAS_CAFFE_MEAN_BGR } from './models/keras-preprocess';
// Segment Anything's ViT image encoder (owner: encoder) and its shared layers
export {
  imageEncoderViT,
  initImageEncoder,
  applyImageEncoder,
  imageEncoderParamShapes,
  applyPatchEmbed,
  applyEncoderBlock,
  applyNeck,
  embedSize,
  blockWindowSize,
  type ImageEncoderViT,
  type ImageEncoderParams,
  type EncoderBlockParams,
} from './models/sam/image-encoder';
export { getRelPos, decomposedRelPos, relPosIndex } from './models/sam/rel-pos';
export {
  mlpBlock,
  layerNorm2dLayer,
  applyMlpBlock,
  applyLayerNorm2d,
  type MlpBlockConfig,
  type MlpBlockParams,
  type MlpActivation,
  type LayerNorm2dParams,
  type LinearWeights,
} from './models/sam/common';
export { u2net, u2netLoss, u2netMask, U2NET_CONFIG, type U2NetModel, type U2NetConfig, type U2NetName, type U2NetVariant } from './models/u2net/model';
export { u2netGraph, type U2NetGraph, type U2NetNode } from './models/u2net/graph';
export { convertU2netVariant } from './models/u2net/variants';
export {
  u2netPredict,
  u2netPredictor,
  foldU2NetForInference,
  disposeFolded,
  type U2NetPrecision,
  type U2NetPredictor,
  type U2NetPredictOptions,
  type FoldedU2Net,
  type FoldOptions,
} from './models/u2net/inference';
export { tinySsd, TINY_SSD_SIZES, TINY_SSD_RATIOS, type TinySsdModel, type TinySsdConfig, type TinySsdOutput } from './models/tiny-ssd';
// Segment Anything: configurations and the model (prompt encoder, mask decoder, image encoder)
export {
  SAM_CONFIGS,
  samConfig,
  checkSamConfig,
  type SamConfig,
  type SamEncoderConfig,
  type SamDecoderConfig,
  type SamName,
  type SamConfigOverrides,
} from './models/sam/config';
export { sam, samParamShapes, type SamModel, type SamParams, type SamState, type SamPrompts, type SamDecoderInput } from './models/sam/sam';
export type { PointLabels } from './models/sam/prompt-encoder';
