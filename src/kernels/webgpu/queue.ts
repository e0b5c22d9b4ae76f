/**
 * Batched command recording: dispatches accumulate in one encoder/compute pass and are
 * submitted every `flushEvery` dispatches or at read-back. Per-dispatch parameters go into one
 * uniform arena per batch (256-byte aligned slots), written with one writeBuffer before submit.
 */
import { BufferUsage } from './usage';
import type { UniformLayout, UniformValues } from './uniforms';
import type { Kernel } from './pipelines';

export interface Dispatch {
  /** Op name, reported in errors. */
  name: string;
  kernel: Kernel;
  uniforms?: { layout: UniformLayout; values: UniformValues };
  /** Storage bindings in order, from binding 1 (binding 0 is the uniform block) or 0 without uniforms. */
  buffers: GPUBuffer[];
  workgroups: readonly [number, number?, number?];
}

const SLOT = 256;
/** Bind groups kept for reuse (training loops revisit the same pooled buffers every step). */
const BIND_GROUP_CACHE = 4096;

export class CommandQueue {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private names: string[] = [];
  private arenaBytes: ArrayBuffer;
  private arenaView: DataView;
  private arena: GPUBuffer;
  private slots = 0;
  dispatchCount = 0;
  submitCount = 0;
  /** When set, every dispatch is also appended here (with a copy of its uniform values), for profiling. */
  recording: Dispatch[] | null = null;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly flushEvery = 16,
    private readonly onSubmitError: (ops: string[], e: GPUError) => void,
  ) {
    this.arenaBytes = new ArrayBuffer(SLOT * flushEvery);
    this.arenaView = new DataView(this.arenaBytes);
    this.arena = this.newArena();
  }

  private newArena(): GPUBuffer {
    return this.device.createBuffer({ size: this.arenaBytes.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: 'uniform-arena' });
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  dispatch(d: Dispatch): void {
    const [x, y = 1, z = 1] = d.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const pass = this.ensurePass();
    const bindGroup = this.bindGroupFor(d);
    pass.setPipeline(d.kernel.pipeline);
    if (d.uniforms) {
      const { layout, values } = d.uniforms;
      if (layout.byteSize > SLOT) throw new Error(`${d.name}: uniform block of ${layout.byteSize} bytes exceeds ${SLOT}`);
      const offset = this.slots++ * SLOT;
      layout.pack(values, this.arenaView, offset);
      pass.setBindGroup(0, bindGroup, [offset]);
    } else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.recording) this.recording.push(d.uniforms ? { ...d, uniforms: { layout: d.uniforms.layout, values: { ...d.uniforms.values } } } : d);
    this.names.push(d.name);
    this.dispatchCount++;
    if (this.slots >= this.flushEvery || this.names.length >= this.flushEvery) this.flush();
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  private bindGroupFor(d: Dispatch): GPUBindGroup {
    let key = `${d.kernel.id}${d.uniforms ? `u${d.uniforms.layout.byteSize}` : ''}`;
    for (const b of d.buffers) key += `,${this.bufferId(b)}`;
    let bg = this.bindGroups.get(key);
    if (bg) {
      // refresh recency (Map keeps insertion order: the first key is the least recently used)
      this.bindGroups.delete(key);
    } else {
      const entries: GPUBindGroupEntry[] = [];
      if (d.uniforms) entries.push({ binding: 0, resource: { buffer: this.arena, offset: 0, size: d.uniforms.layout.byteSize } });
      const first = d.uniforms ? 1 : 0;
      d.buffers.forEach((buffer, i) => entries.push({ binding: first + i, resource: { buffer } }));
      bg = this.device.createBindGroup({ layout: d.kernel.layout, entries });
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    this.bindGroups.set(key, bg);
    return bg;
  }

  /** Forgets cached bind groups (call before destroying buffers they reference). */
  clearBindGroups(): void {
    this.bindGroups.clear();
  }

  /** Records a buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.names.push('copy');
  }

  get pending(): boolean {
    return this.encoder !== null;
  }

  flush(): void {
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    const ops = this.names;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    if (this.slots > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaBytes, 0, this.slots * SLOT);
    this.device.queue.submit([this.encoder.finish()]);
    const report = (e: GPUError | null) => {
      if (e) this.onSubmitError(ops, e);
    };
    this.device.popErrorScope().then(report, () => {});
    this.device.popErrorScope().then(report, () => {});
    this.encoder = null;
    this.names = [];
    this.slots = 0;
    this.submitCount++;
  }

  destroy(): void {
    this.arena.destroy();
  }
}
