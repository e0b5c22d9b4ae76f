/**
 * Compute pipelines cached by kernel key; WGSL is generated only on a miss. Each pipeline gets an
 * explicit bind-group layout read off its WGSL declarations: the uniform block (binding 0) uses a
 * dynamic offset into the per-batch arena, so bind groups can be reused across dispatches, and
 * bindings the compiler finds unused stay in the layout (an 'auto' layout would drop them).
 */
export interface Kernel { id: number; pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; }

const DECL = /@group\(0\)\s*@binding\((\d+)\)\s*var\s*<\s*(uniform|storage\s*,\s*read_write|storage\s*,\s*read|storage)\s*>/g;

export function bindingTypes(code: string): Map<number, GPUBufferBindingType> {
  const m = new Map<number, GPUBufferBindingType>();
  for (const [, b, kind] of code.matchAll(DECL)) {
    const k = kind.replace(/\s/g, '');
    m.set(Number(b), k === 'uniform' ? 'uniform' : k === 'storage,read' ? 'read-only-storage' : 'storage');
  }
  return m;
}

export class PipelineCache {
  private readonly cache = new Map<string, Kernel>();
  private nextId = 0;

  constructor(private readonly device: GPUDevice, private readonly onCompileError: (key: string, err: GPUError, source: string) => void) {}

  get(key: string, source: () => string): Kernel {
    let k = this.cache.get(key);
    if (!k) {
      const code = source();
      this.device.pushErrorScope('validation');
      const entries: GPUBindGroupLayoutEntry[] = [...bindingTypes(code)].map(([binding, type]) => ({
        binding, visibility: 4 /* GPUShaderStage.COMPUTE */, buffer: { type, hasDynamicOffset: type === 'uniform' },
      }));
      const layout = this.device.createBindGroupLayout({ entries, label: key });
      const module = this.device.createShaderModule({ code, label: key });
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' }, label: key,
      });
      this.device.popErrorScope().then((e) => { if (e) this.onCompileError(key, e, code); });
      k = { id: this.nextId++, pipeline, layout };
      this.cache.set(key, k);
    }
    return k;
  }

  get size(): number { return this.cache.size; }
}
