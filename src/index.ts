/**
 * `@webgrad/core`: tensors, ops, autograd, layers and optimizers. Runtime-neutral (no `node:` module).
 * Every name is listed on purpose; internals stay behind their files. File formats, models and the
 * Node runtime have entry points of their own: `@webgrad/core/formats`, `/models`, `/sod`, `/node`.
 *
 * @module
 */
// Tensors, dtypes, errors, memory
export { Tensor } from './tensor/tensor';
export type { DType } from './base/dtype';
export { hasFloat16 } from './base/dtype';
export { ArgumentError } from './base/shape';
export { tidy, keep, memory, type MemoryInfo } from './tensor/scope';
export { tree } from './api/tree';
export type { Tree, FlattenOptions } from './tensor/tree';

// Devices
export { init, createDevice, getDefaultDevice, setDefaultDevice } from './kernels/webgpu/devices';
export { Device, GPUOpError, registerGPUProvider, type DeviceOptions } from './kernels/webgpu/device';
export type { Binding } from './kernels/webgpu/queue';
export { configureMatmul, type MatmulConfig } from './kernels/wgsl/matmul-autotune';
export { captureStep, type CapturedStep, type CaptureOptions, type CaptureStats } from './tensor/capture-step';

// Autograd
export { grad, valueAndGrad, vjp, stopGradient, noGrad, type GradOptions } from './tensor/autograd';
export {
  customOp,
  customVjp,
  type CustomOpSpec,
  type CustomOpFn,
  type CustomVjpContext,
  type InputDecl,
  type InputKind,
  type Inputs,
  type OpSpec,
  type OutputMeta,
  type TensorMeta,
  type VjpContext,
} from './tensor/custom';
export type { RefTensor } from './base/ref-tensor';
export type { SplitPlan, SplitKind } from './tensor/ops/split';

// Creation and random numbers (keys: random.key / split / foldIn, as in JAX)
export { tensor, zeros, ones, full, arange, linspace, eye, zerosLike, onesLike, fullLike } from './tensor/ops/creation';
export { rand, randn, randint, uniform, normal, bernoulli, randperm } from './tensor/ops/random';
export { random } from './api/random';
export type { Key } from './base/random';

// Elementwise
export {
  abs,
  add,
  cast,
  clamp,
  cos,
  div,
  elu,
  eq,
  erfFn as erf,
  exp,
  expm1,
  ge,
  gelu,
  gt,
  isnan,
  le,
  leakyRelu,
  log,
  log1p,
  logicalAnd,
  logicalNot,
  logicalOr,
  logicalXor,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  reciprocal,
  relu,
  rsqrt,
  sigmoid,
  sign,
  sin,
  softplus,
  sqrt,
  square,
  sub,
  tanh,
  where,
} from './tensor/ops/elementwise';

// Reductions and statistics
export { sum, prod, max, min, argmax, argmin } from './tensor/ops/reduce';
export { mean, variance, std, logsumexp, all, any } from './tensor/ops/stats';
export { softmax, logSoftmax } from './tensor/ops/softmax';

// Layout and indexing
export { reshape, broadcastTo } from './tensor/ops/shape-ops';
export {
  cat,
  chunk,
  concat,
  expand,
  flatten,
  flip,
  narrow,
  pad,
  permute,
  repeat,
  repeatInterleave,
  roll,
  slice,
  sliceAxes,
  split,
  squeeze,
  stack,
  t,
  tile,
  transpose,
  unsqueeze,
  index,
} from './tensor/ops/layout';
export { gather, indexAdd, indexSelect, oneHot, scatterAdd } from './tensor/ops/indexing';

// Linear algebra, convolution, pooling, resizing, normalisation
export { matmul, linear } from './tensor/ops/matmul';
export { scaledDotProductAttention, type AttentionOptions } from './tensor/ops/attention';
export { conv2d, conv1d, convTranspose2d, type Conv2dOptions, type Conv1dOptions, type ConvTranspose2dOptions, type Padding } from './tensor/ops/conv';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, adaptiveMaxPool2d, globalAvgPool2d, globalMaxPool2d } from './tensor/ops/pool';
export { interpolate, upsampleLike } from './tensor/ops/resize';
export { batchNorm, batchNormAct, layerNorm, groupNorm } from './tensor/ops/norm';
// SAM's ViT image encoder: window layout and channel LayerNorm
export { windowPartition, windowUnpartition } from './tensor/ops/window';
export { layerNorm2d } from './tensor/ops/layer-norm-2d';
export { dropout } from './nn/dropout';

// Losses
export { binaryCrossEntropy, binaryCrossEntropyWithLogits, crossEntropy, nllLoss, mseLoss, l1Loss, smoothL1Loss } from './tensor/ops/losses';

// Neural style transfer: Gram matrices and the content, style and total variation losses (d2l's definitions)
export { gramMatrix, contentLoss, styleLoss, totalVariationLoss } from './tensor/ops/style';

// Image augmentation on the GPU
export { affineResample, normalize, IMAGENET_MEAN, IMAGENET_STD } from './tensor/ops/augment';
export {
  augmentGeometry,
  colorJitter,
  sampleColorJitter,
  sampleGeometry,
  sampleResizedCrop,
  type GeometryOptions,
  type ColorJitterOptions,
} from './train/data/augment';

// Layers, optimizers, schedules, data
/** Layers as { init, apply } values and initialisers: nn.linear, nn.conv2d, nn.batchNorm2d, nn.sequential, nn.init.* */
export * as nn from './nn/index';
export type { Module, Ctx, Params, State } from './nn/module';
/** Optimizers as pure functions (optim.sgd, optim.adam, optim.adamw, optim.rmsprop) and gradient clipping. */
export * as optim from './train/optim/index';
/** Learning-rate schedules: functions from the update count to a rate, to pass as an optimizer's `lr`. */
export * as schedules from './train/schedules';
export { arrayDataset, subset, type Dataset, type Sample, type HostImage } from './train/data/datasets';
export { loader, uploadBatch, type Loader, type LoaderOptions, type Batch, type SkippedSample } from './train/data/loader';
export { Progress } from './train/progress';
