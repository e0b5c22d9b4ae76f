/**
 * `@webgrad/core/sod`: salient-object detection around U²-Net (runtime-neutral): the official
 * pre- and post-processing, the metrics the literature reports, built-in synthetic data, and
 * ONNX export/import of U²-Net. Folders, panels and the pretrained weights are in `@webgrad/core/node`.
 *
 * @module
 */
export { u2netPreprocess, normalizeMask, maskToImageSize, U2NET_SIZE } from './sod/preprocess';
export { mae, fMeasure, sMeasure, eMeasure, iou, dice, sodScores, type SodScores, type OverlapOptions } from './sod/metrics';
export {
  SodEvaluator,
  evaluateSod,
  prepareSodPair,
  scoreSodImage,
  structureMeasure,
  SOD_THRESHOLDS,
  type SodEvaluation,
  type SodEvaluatorOptions,
  type SodImageScores,
  type SodInputRange,
  type PreparedSodPair,
} from './sod/evaluate';
export { weightedFmeasure } from './sod/weighted-fmeasure';
export { distanceTransformEdt, type FeatureTransform } from './sod/distance';
export { syntheticSample, syntheticBatch, type SodSample } from './sod/synthetic';
export { exportU2NetOnnx, type U2NetOnnxOptions } from './sod/onnx-export';
export { u2netStateDictFromOnnx } from './sod/onnx-import';
export { u2netMaskU8, U2NET_RESIZES, type U2NetResize, type U2NetPreprocessOptions } from './sod/preprocess';
export { resizeBilinearPIL } from './sod/pil-resize';
export { maskAgreement, type MaskAgreement } from './sod/mask-agreement';
