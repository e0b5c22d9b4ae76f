/**
 * `@webgrad/core/formats`: reading and writing model files in memory (runtime-neutral). Node's
 * file-level helpers (saveSafetensors, loadPth, …) are in `@webgrad/core/node`.
 *
 * @module
 */
export { HostTensor, isHostTensor, toTensor, toTensors, hostValues, type HostDType, type HostArray } from './formats/host-tensor';
export { parseSafetensors, serializeSafetensors, SafetensorsError } from './formats/safetensors';
export { readPth, flattenStateDict, PthError } from './formats/pth';
// streaming .pth reading over a random-access source (owner: ckpt)
export {
  openPth,
  readPthStreaming,
  type PthReader,
  type PthTensorInfo,
  type OpenPthOptions,
  type ReadPthStreamingOptions,
} from './formats/pth-stream';
export { bytesSource, type ByteSource } from './formats/zip';
export { serializePth, stateDict, PthWriteError, type PthView, type SerializePthOptions } from './formats/pth-write';
export { UnpicklingError } from './formats/pickle';
export { loadStateDict, type LoadStateDictOptions, type LoadStateDictResult } from './formats/load-state';
export { readOnnx, OnnxError, type OnnxModel, type OnnxGraph, type OnnxNode, type OnnxAttributeValue, type OnnxValueInfo } from './formats/onnx';
export {
  writeOnnx,
  onnxFloat,
  onnxFloats,
  type OnnxWriteModel,
  type OnnxWriteGraph,
  type OnnxWriteNode,
  type OnnxWriteValueInfo,
  type OnnxWriteAttribute,
} from './formats/onnx-write';
export {
  parseTfjsLayersModel,
  readTfjsLayersWeights,
  TfjsLayersError,
  type TfjsLayersModel,
  type TfjsLayer,
  type TfjsWeightGroup,
  type TfjsWeightSpec,
} from './formats/tfjs-layers';
export { kerasResNet50StateDict, kerasResNet50Config, kerasResNetKey, KerasResNetError, type KerasResNetLayout } from './formats/keras-resnet';
