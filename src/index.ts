/** webgrad's public API. Runtime-neutral: imports no `node:` module. */
export { Tensor } from './tensor/tensor';
export type { DType } from './tensor/dtype';
export { ArgumentError } from './tensor/shape';
export { tidy, keep, memory, type MemoryInfo } from './tensor/scope';
export * as tree from './tensor/tree';
export { grad, valueAndGrad, vjp, stopGradient, noGrad, type GradOptions } from './tensor/autograd';
export { init, createDevice, getDefaultDevice, setDefaultDevice } from './kernels/webgpu/devices';
export { Device, GPUOpError, registerGPUProvider, type DeviceOptions } from './kernels/webgpu/device';
export * from './tensor/ops/creation';
export * from './tensor/ops/elementwise';
export * from './tensor/ops/reduce';
export { reshape, broadcastTo } from './tensor/ops/shape-ops';
export * from './tensor/ops/layout';
export * from './tensor/ops/pool';
export * from './tensor/ops/resize';
export * from './tensor/ops/norm';
export { matmul, linear, type MatmulAttrs } from './tensor/ops/matmul';
export { configureMatmul, type MatmulConfig } from './kernels/webgpu/autotune';
export { registeredOps } from './tensor/ops/define';
export * as optim from './train/optim/index';
export * as schedules from './train/schedules';
/** Keys: `random.key(seed)`, `random.split(key, n)`, `random.foldIn(key, i)` (JAX's names; `split` alone is the tensor op). */
export * as random from './tensor/random';
export type { Key } from './tensor/random';
export * from './tensor/ops/random';
export { dropout } from './nn/dropout';
export { HostTensor, toTensor, toTensors, hostValues, type HostDType, type HostArray } from './train/checkpoint/host-tensor';
export { parseSafetensors, serializeSafetensors, SafetensorsError } from './train/checkpoint/safetensors';
export { readPth, flattenStateDict, PthError } from './train/checkpoint/pth';
export { UnpicklingError } from './train/checkpoint/pickle';
export { loadStateDict, type LoadStateDictOptions, type LoadStateDictResult } from './train/checkpoint/load-state';
export { conv2d, conv1d, convTranspose2d, type Conv2dOptions, type Conv1dOptions, type ConvTranspose2dOptions, type Padding } from './tensor/ops/conv';
export * from './tensor/ops/stats';
export * from './tensor/ops/softmax';
export * from './nn/losses';
/** Layers as { init, apply } values and initialisers: nn.linear, nn.conv2d, nn.batchNorm2d, nn.sequential, nn.init.* */
export * as nn from './nn/index';
export { Progress } from './train/progress';
/** Salient-object metrics: mae, fMeasure, sMeasure, eMeasure, iou, dice, sodScores. */
export * as metrics from './train/metrics/sod';
export { syntheticSample, syntheticBatch } from './train/data/synthetic-sod';
export * from './train/data/augment';
export * from './train/data/datasets';
export * from './train/data/loader';
export { readOnnx, OnnxError, type OnnxModel, type OnnxGraph, type OnnxNode, type OnnxAttributeValue, type OnnxValueInfo } from './train/checkpoint/onnx';
export { writeOnnx, onnxFloat, onnxFloats, ONNX_DATA_TYPE, type OnnxWriteModel, type OnnxWriteGraph, type OnnxWriteNode, type OnnxWriteValueInfo, type OnnxWriteAttribute } from './train/checkpoint/onnx-write';
export { exportU2NetOnnx, u2netInferenceGraph, u2netOnnxModel, type U2NetOnnxOptions, type U2NetInferenceGraph, type U2NetInferenceOp } from './models/u2net-onnx-export';
export { resnet, resnetBlocks, isResNetHead, RESNET_CONFIG, type ResNetModel, type ResNetConfig, type ResNetName, type ResNetFeatures, type BlockSpec, type BlockKind } from './models/resnet';
