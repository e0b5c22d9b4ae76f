/** Compute pipelines cached by kernel key; WGSL is generated only on a miss. */
export class PipelineCache {
  private readonly cache = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice, private readonly onCompileError: (key: string, err: GPUError, source: string) => void) {}

  get(key: string, source: () => string): GPUComputePipeline {
    let p = this.cache.get(key);
    if (!p) {
      const code = source();
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.device.popErrorScope().then((e) => { if (e) this.onCompileError(key, e, code); });
      this.cache.set(key, p);
    }
    return p;
  }

  get size(): number { return this.cache.size; }
}
