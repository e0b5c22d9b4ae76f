/**
 * `@webgrad/core/segmentation`: semantic segmentation on the GPU (runtime-neutral): the Cityscapes
 * label table, synthetic street scenes, joint image+mask augmentation, d2l's fully convolutional
 * network with its bilinear upsampling initialisation, and the stream metrics (confusion matrix,
 * accuracies, mean IoU). The Cityscapes folder loader and the result panels are in `@webgrad/core/node`.
 *
 * @module
 */
// cityscapes labels, synthetic scenes, augmentation (owner: seg-data)
export {
  CITYSCAPES_CLASSES,
  CITYSCAPES_COLORS,
  CITYSCAPES_LABELS,
  CITYSCAPES_LABEL_IDS,
  IGNORE_INDEX,
  LABEL_TO_TRAIN_ID,
  decodeTarget,
  encodeTarget,
  type CityscapesLabel,
} from './segmentation/cityscapes-labels';
export { syntheticStreetScene, type SyntheticStreetOptions, type SyntheticStreetScene } from './segmentation/synthetic';
export {
  segmentationBatch,
  segmentationSample,
  syntheticSegmentationDataset,
  type SegmentationBatch,
  type SegmentationBatchOptions,
  type SegmentationSample,
  type SyntheticSegmentationOptions,
  type SyntheticSegmentationDataset,
} from './segmentation/dataset';
export {
  augmentSegmentation,
  augmentSegmentationWith,
  sampleSegmentationCrops,
  segmentationCropsToAffine,
  type SegmentationAugmentOptions,
} from './segmentation/augment';
// fcn, bilinear kernel, metrics (owner: seg-fcn)
export { bilinearFilter, bilinearKernel } from './segmentation/bilinear-kernel';
export { confusionMatrix } from './segmentation/confusion-matrix';
export { fcn, type FcnConfig, type FcnInitOptions, type FcnModel } from './segmentation/fcn';
export { StreamSegMetrics, segmentationScores, type SegmentationScores, type StreamSegMetricsOptions } from './segmentation/metrics';
// style transfer losses (owner: style)
