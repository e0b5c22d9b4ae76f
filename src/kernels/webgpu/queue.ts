/**
 * Batched command recording: dispatches accumulate in one encoder/compute pass and are
 * submitted every `flushEvery` dispatches or at read-back. Per-dispatch parameters go into one
 * uniform arena per batch (256-byte aligned slots), written with one writeBuffer before submit.
 *
 * Gates (`gate(fn)`) let host work (a collective's all-reduce) sit inside a stream of GPU work without
 * making the caller asynchronous: work recorded before the gate is submitted, `fn` runs, and work
 * recorded meanwhile (batches, with a copy of their uniform bytes, and buffer writes) is held in order
 * and replayed when `fn` resolves. Without a gate nothing is held and every path is the old one.
 */
import { BufferUsage } from './usage';
import type { UniformLayout, UniformValues } from './uniforms';
import type { Kernel } from './pipelines';

/**
 * What a storage binding names: a whole buffer, or a byte range of one (a view that splits an op whose
 * operands exceed the device's largest storage binding; the offset is a multiple of
 * minStorageBufferOffsetAlignment).
 */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

export interface Dispatch {
  /** Op name, reported in errors. */
  name: string;
  kernel: Kernel;
  uniforms?: { layout: UniformLayout; values: UniformValues };
  /** Storage bindings in order, from binding 1 (binding 0 is the uniform block) or 0 without uniforms. */
  buffers: Binding[];
  workgroups: readonly [number, number?, number?];
}

/** Work recorded while a gate is open, replayed in order when it closes. */
type Held =
  | { kind: 'submit'; commands: GPUCommandBuffer; uniforms: ArrayBuffer | null; ops: string[] }
  | { kind: 'write'; buffer: GPUBuffer; offset: number; data: Uint8Array<ArrayBuffer> }
  | { kind: 'gate'; fn: () => Promise<void>; name: string; onDrop?: () => void };

/** What a step capture (replay.ts) hears besides dispatches: copies, host writes and gates, in queue order. */
export interface CaptureHook {
  /** A dispatch, with a copy of its uniform values. */
  dispatch(d: Dispatch): void;
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void;
  write(buffer: GPUBuffer): void;
  gate(name: string): void;
}

export const SLOT = 256;
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
  /** Set while a step is captured (replay.ts): hears copies, writes and gates (dispatches go to `recording`). */
  capture: CaptureHook | null = null;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  /** True while a gate's function runs: submits and writes go to `held` instead of the GPU queue. */
  private gateOpen = false;
  private held: Held[] = [];
  private idleWaiters: ((dropped: string | null) => void)[] = [];
  /** Bumped when held work is dropped, so a gate opened before cannot release what came after. */
  private epoch = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly flushEvery = 16,
    private readonly onSubmitError: (ops: string[], e: GPUError) => void,
    /** Called with '<gate> failed: <reason>' when a gate's function rejects (its held work is dropped). */
    private readonly onGateError: (message: string) => void = () => {},
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
    if (this.recording || this.capture) {
      const kept = d.uniforms ? { ...d, uniforms: { layout: d.uniforms.layout, values: { ...d.uniforms.values } } } : d;
      this.recording?.push(kept);
      this.capture?.dispatch(kept);
    }
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
    for (const b of d.buffers) key += 'buffer' in b ? `,${this.bufferId(b.buffer)}@${b.offset}+${b.size}` : `,${this.bufferId(b)}`;
    let bg = this.bindGroups.get(key);
    if (bg) {
      // refresh recency (Map keeps insertion order: the first key is the least recently used)
      this.bindGroups.delete(key);
    } else {
      const entries: GPUBindGroupEntry[] = [];
      if (d.uniforms) entries.push({ binding: 0, resource: { buffer: this.arena, offset: 0, size: d.uniforms.layout.byteSize } });
      const first = d.uniforms ? 1 : 0;
      d.buffers.forEach((b, i) => entries.push({ binding: first + i, resource: 'buffer' in b ? b : { buffer: b } }));
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
    this.capture?.copy(src, srcOffset, dst, dstOffset, size);
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
    if (this.gateOpen) {
      this.holdBatch();
      return;
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

  /**
   * Submits commands encoded elsewhere (a replayed step) after what was recorded here, in queue order:
   * held behind an open gate like a batch.
   */
  submitCommands(commands: GPUCommandBuffer, ops: string[], dispatches: number): void {
    this.flush();
    if (this.gateOpen) this.held.push({ kind: 'submit', commands, uniforms: null, ops });
    else this.submitHeld({ kind: 'submit', commands, uniforms: null, ops });
    this.dispatchCount += dispatches;
  }

  /** True while a gate holds work back (read-backs must wait for {@link whenIdle} before mapping). */
  get holding(): boolean {
    return this.gateOpen;
  }

  /**
   * Submits what was recorded (or holds it, behind an open gate), then runs `fn` once everything recorded
   * before this call is submitted; what is recorded afterwards is held until `fn` resolves. `fn` must not
   * record work on this queue itself (it would wait behind its own gate): it talks to the GPUDevice directly.
   */
  gate(fn: () => Promise<void>, name: string, onDrop?: () => void): void {
    this.capture?.gate(name);
    this.flush();
    if (this.gateOpen) this.held.push({ kind: 'gate', fn, name, onDrop });
    else this.openGate(fn, name);
  }

  /** A buffer write in queue order: immediate without a gate, else held (with a copy of `data`). */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.capture?.write(buffer);
    if (!this.gateOpen) {
      this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
      return;
    }
    this.held.push({ kind: 'write', buffer, offset, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() as Uint8Array<ArrayBuffer> });
  }

  /**
   * Resolves when no gate holds work any more (at once without gates): with null once the held work is
   * submitted, or with the failed gate's message when it was dropped.
   */
  whenIdle(): Promise<string | null> {
    return this.gateOpen ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve(null);
  }

  private openGate(fn: () => Promise<void>, name: string): void {
    this.gateOpen = true;
    const epoch = this.epoch;
    Promise.resolve()
      .then(fn)
      .then(
        () => epoch === this.epoch && this.release(),
        (e) => epoch === this.epoch && this.abandon(name, e),
      );
  }

  /** Replays the held work in order up to the next gate (which then opens), or all of it. */
  private release(): void {
    let i = 0;
    for (; i < this.held.length; i++) {
      const h = this.held[i];
      if (h.kind === 'gate') {
        this.held = this.held.slice(i + 1);
        this.openGate(h.fn, h.name);
        return;
      }
      if (h.kind === 'write') this.device.queue.writeBuffer(h.buffer, h.offset, h.data);
      else this.submitHeld(h);
    }
    this.held = [];
    this.closeGate();
  }

  /** A gate failed: its held work (and later gates) are dropped, waiters wake to see the device's error. */
  private abandon(name: string, e: unknown): void {
    this.dropGates();
    const message = `${name} failed: ${e instanceof Error ? e.message : String(e)}`;
    this.onGateError(message);
    this.closeGate(message);
  }

  /** Forgets the held work; gates that never ran free what they hold. */
  private dropGates(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) if (h.kind === 'gate') h.onDrop?.();
  }

  private closeGate(dropped: string | null = null): void {
    this.gateOpen = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w(dropped);
  }

  /** flush() behind an open gate: finishes the batch now (errors scoped as at submit) and keeps its uniform bytes. */
  private holdBatch(): void {
    const ops = this.names;
    const commands = this.scoped(ops, () => this.encoder!.finish());
    this.held.push({ kind: 'submit', commands, uniforms: this.slots > 0 ? this.arenaBytes.slice(0, this.slots * SLOT) : null, ops });
    this.encoder = null;
    this.names = [];
    this.slots = 0;
  }

  private submitHeld(h: Extract<Held, { kind: 'submit' }>): void {
    this.scoped(h.ops, () => {
      if (h.uniforms) this.device.queue.writeBuffer(this.arena, 0, h.uniforms);
      this.device.queue.submit([h.commands]);
    });
    this.submitCount++;
  }

  /** Runs `body` inside validation and out-of-memory error scopes that report against `ops`. */
  private scoped<T>(ops: string[], body: () => T): T {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      return body();
    } finally {
      const report = (e: GPUError | null) => {
        if (e) this.onSubmitError(ops, e);
      };
      this.device.popErrorScope().then(report, () => {});
      this.device.popErrorScope().then(report, () => {});
    }
  }

  /** Drops held work without running it (the device is being destroyed). */
  dropHeld(): void {
    this.epoch++;
    this.dropGates();
    this.closeGate('the device was destroyed');
  }

  destroy(): void {
    this.arena.destroy();
  }
}
