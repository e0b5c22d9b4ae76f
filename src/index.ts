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
export { registeredOps } from './tensor/ops/define';
export * from './tensor/ops/stats';
export * from './tensor/ops/softmax';
export * from './nn/losses';
