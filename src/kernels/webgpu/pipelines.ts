/**
 * Compute pipelines cached by kernel key; WGSL is generated only on a miss. Each pipeline gets an
 * explicit bind-group layout built from the binding types the shader builder lists: the uniform
 * block (binding 0) uses a dynamic offset into the per-batch arena, so bind groups can be reused
 * across dispatches, and bindings the compiler finds unused stay in the layout (an 'auto' layout
 * would drop them).
 */
export interface Kernel {
  id: number;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** A WGSL module and the type of each of its bindings, binding i at index i (src/kernels/wgsl/builder.ts makes these). */
export interface Shader {
  code: string;
  bindings: readonly GPUBufferBindingType[];
}

export class PipelineCache {
  private readonly cache = new Map<string, Kernel>();
  private nextId = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly onCompileError: (key: string, err: GPUError, source: string) => void,
  ) {}

  get(key: string, source: () => Shader): Kernel {
    let k = this.cache.get(key);
    if (!k) {
      const { code, bindings } = source();
      this.device.pushErrorScope('validation');
      const entries: GPUBindGroupLayoutEntry[] = bindings.map((type, binding) => ({
        binding,
        visibility: 4 /* GPUShaderStage.COMPUTE */,
        buffer: { type, hasDynamicOffset: type === 'uniform' },
      }));
      const layout = this.device.createBindGroupLayout({ entries, label: key });
      const module = this.device.createShaderModule({ code, label: key });
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
        label: key,
      });
      this.device.popErrorScope().then((e) => {
        if (e) this.onCompileError(key, e, code);
      });
      k = { id: this.nextId++, pipeline, layout };
      this.cache.set(key, k);
    }
    return k;
  }

  get size(): number {
    return this.cache.size;
  }
}
