/**
 * `@webgrad/core/detection`: object detection on the GPU (runtime-neutral): box operations and
 * losses, anchors and their matching to ground truth, non-maximum suppression, TinySSD with its
 * loss and inference, detection data and augmentation, and the mAP metrics of Pascal VOC and COCO.
 * Folder and file loaders and the panels are in `@webgrad/core/node`.
 *
 * @module
 */
export type { DetectionSample, DetectionBatch, ImageDetections, ImageGroundTruth } from './detection/types';
// boxes, anchors, matching (src/tensor/ops/boxes.ts, src/detection/anchors.ts, …)
export {
  boxConvert,
  boxCornerToCenter,
  boxCenterToCorner,
  boxArea,
  clipBoxesToImage,
  boxesToPixels,
  boxesToNormalized,
  removeSmallBoxes,
  boxIou,
  generalizedBoxIou,
  generalizedBoxIouLoss,
  boxIouLoss,
  type BoxFormat,
  type BoxLossOptions,
  type BoxLossReduction,
} from './tensor/ops/boxes';
export { multiboxPrior, multiboxPriorPyramid, clearAnchorCache } from './detection/anchors';
export { offsetBoxes, offsetInverse } from './tensor/ops/boxes';
export { assignAnchorToBbox, multiboxTarget, type MultiboxTargetOptions } from './detection/matching';
// non-maximum suppression and multibox detection (src/detection/nms.ts, …)
export { nms, nmsD2l, batchedNms, nmsPerImage, type NmsOptions } from './detection/nms';
export { multiboxDetection, type MultiboxDetectionOptions } from './detection/multibox-detection';
// data: synthetic set, batching, augmentation (src/detection/synthetic.ts, …)
export {
  SYNTHETIC_DETECTION_CLASSES,
  syntheticDetectionSample,
  syntheticDetectionDataset,
  type SyntheticDetectionOptions,
  type SyntheticDetectionDatasetOptions,
} from './detection/synthetic';
export {
  augmentDetection,
  detectionTargets,
  sampleDetectionWindows,
  windowsToAffine,
  type DetectionAugmentOptions,
} from './detection/augment';
export { detectionBatch, checkDetectionSample, type DetectionDataset, type DetectionBatchOptions } from './detection/batch';
export { detectionLoader, type DetectionLoader, type DetectionLoaderOptions, type IndexedDetectionBatch } from './detection/loader';
// metrics (src/detection/metrics.ts)
export {
  evaluateDetections,
  DetectionEvaluator,
  type DetectionEvaluationOptions,
  type DetectionMetrics,
  type ClassDetectionMetrics,
  type CrowdGroundTruth,
} from './detection/metrics';
export {
  averagePrecisionAllPoint,
  averagePrecision11Point,
  interpolatedPrecision101,
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_THRESHOLDS,
} from './detection/average-precision';
// TinySSD and its loss (src/models/tiny-ssd.ts, src/detection/ssd.ts)
export { ssdLoss, clsEval, bboxEval, tinySsdAnchors } from './detection/ssd';
