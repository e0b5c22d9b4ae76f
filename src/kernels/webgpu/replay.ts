/**
 * Record once, replay many (as CUDA graphs and onnxruntime's WebGPU graph capture do): `DispatchGraph.record`
 * runs a body eagerly while recording every dispatch and copy it makes; `replay` re-encodes them from prebuilt
 * objects (pipelines, bind groups, one uniform buffer packed at record time) in one submit, skipping the per-op
 * host work (shape rules, allocation, uniform packing, bind-group lookup).
 *
 * Buffer ownership is what keeps a replay from writing over someone else's tensor: every buffer acquired
 * while recording belongs to the graph (the pool holds it back from its free lists while the graph lives,
 * and the graph reuses the ones released during recording, so the replay's aliasing is the recording's);
 * every other buffer the body binds (a tensor it closed over) is pinned, and a replay after such a tensor
 * was disposed throws instead of reading freed memory. Host uploads, read-backs and gates cannot be replayed:
 * recording one fails.
 */
import type { Device } from './device';
import type { AcquireHook } from './pool';
import { SLOT, type Binding, type CaptureHook, type Dispatch } from './queue';
import { BufferUsage } from './usage';

/** A buffer copy encoded before the recorded work (a replay's inputs). */
export interface Copy {
  src: GPUBuffer;
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  size: number;
}

type Step = { dispatch: Dispatch } | { copy: Copy };

/** A recorded dispatch ready to encode. */
interface Encoded {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  offsets: number[] | null;
  x: number;
  y: number;
  z: number;
}

const bufferOf = (b: Binding): GPUBuffer => ('buffer' in b ? b.buffer : b);

export class DispatchGraph {
  /** Buffers acquired while recording (held back from the pool while the graph lives). */
  readonly owned = new Set<GPUBuffer>();
  /** Buffers bound while recording that the graph did not acquire (pinned). */
  readonly external = new Set<GPUBuffer>();
  private readonly steps: Step[] = [];
  private readonly freeByClass = new Map<number, GPUBuffer[]>();
  private recording = true;
  /** Why the recording cannot be replayed (the first reason), or null. */
  private refusal: string | null = null;
  private encoded: (Encoded | Copy)[] = [];
  private uniforms: GPUBuffer | null = null;
  private opNames: string[] = [];
  /** An external buffer whose tensor was disposed after recording. */
  private orphaned = false;
  private disposed = false;
  /** Dispatches per replay. */
  dispatches = 0;
  /** Copies per replay, besides the input copies. */
  copies = 0;
  /** Dispatches per command buffer a replay submits (Infinity: one submit). */
  dispatchesPerSubmit = Infinity;

  private constructor(
    readonly device: Device,
    /** Named in errors (e.g. 'captureStep'). */
    readonly label: string,
  ) {}

  /** Makes `buf` (acquired from the pool outside the recording, e.g. a static input) the graph's. */
  adopt(buf: GPUBuffer): void {
    if (this.owned.has(buf)) return;
    this.owned.add(buf);
    this.device.pool.hold(buf, this.onOwnedRelease);
  }

  private readonly onOwnedRelease = (buf: GPUBuffer) => {
    if (!this.recording) return;
    let list = this.freeByClass.get(buf.size);
    if (!list) this.freeByClass.set(buf.size, (list = []));
    list.push(buf);
  };

  private readonly onExternalRelease = () => {
    if (this.recording) this.refuse('it disposed a tensor it did not create and did not receive as an argument');
    else this.orphaned = true;
  };

  private refuse(why: string): void {
    this.refusal ??= why;
  }

  private bind(buf: GPUBuffer): void {
    if (this.owned.has(buf) || this.external.has(buf)) return;
    this.external.add(buf);
    this.device.pool.hold(buf, this.onExternalRelease);
  }

  /**
   * Runs `body` eagerly (its results are real) while recording its GPU work into a new graph. Throws (and
   * frees the graph) if the body fails or did something a replay cannot repeat.
   */
  static record<T>(
    device: Device,
    label: string,
    body: (graph: DispatchGraph) => T,
    /** Frees the body's result when the recording is refused after the body returned. */
    discard: (result: T) => void = () => {},
  ): { graph: DispatchGraph; result: T } {
    const g = new DispatchGraph(device, label);
    const { queue, pool } = device;
    if (queue.capture || pool.acquireHook) throw new Error(`${label}: cannot capture inside another capture`);
    queue.flush();
    const acquireHook: AcquireHook = {
      take: (cls) => g.freeByClass.get(cls)?.pop(),
      took: (buf) => {
        if (g.external.has(buf)) g.refuse('it disposed a tensor it did not create and did not receive as an argument');
        else g.adopt(buf);
      },
    };
    const captureHook: CaptureHook = {
      dispatch: (d) => {
        for (const b of d.buffers) g.bind(bufferOf(b));
        g.steps.push({ dispatch: d });
      },
      copy: (src, srcOffset, dst, dstOffset, size) => {
        if (dst.usage & BufferUsage.MAP_READ) {
          g.refuse('it reads values back to the host (data(), item(), toArray()), which a replay cannot repeat');
          throw new Error(`${label}: a captured step cannot read values back to the host`);
        }
        g.bind(src);
        g.bind(dst);
        g.steps.push({ copy: { src, srcOffset, dst, dstOffset, size } });
      },
      write: () => {
        g.refuse('it uploads host data (tensor(...) from an array, or a host write), which a replay would not repeat; pass that data in as a tensor argument');
      },
      gate: (name) => {
        g.refuse(`it runs host work between GPU work (${name}), which a replay cannot repeat`);
        throw new Error(`${label}: a captured step cannot contain ${name} (a gate)`);
      },
    };
    queue.capture = captureHook;
    pool.acquireHook = acquireHook;
    let result: T;
    try {
      result = body(g);
      queue.flush();
    } catch (e) {
      g.recording = false;
      g.dispose();
      throw e;
    } finally {
      queue.capture = null;
      pool.acquireHook = null;
    }
    g.recording = false;
    g.freeByClass.clear();
    if (g.refusal) {
      discard(result);
      g.dispose();
      throw new Error(`${label}: the step cannot be captured: ${g.refusal}`);
    }
    g.build();
    return { graph: g, result };
  }

  /** Packs every uniform block once into the graph's own buffer and creates the bind groups once. */
  private build(): void {
    const gpu = this.device.gpu;
    const withUniforms = this.steps.filter((s) => 'dispatch' in s && s.dispatch.uniforms).length;
    const bytes = new ArrayBuffer(Math.max(SLOT, withUniforms * SLOT));
    const view = new DataView(bytes);
    if (withUniforms > 0)
      this.uniforms = gpu.createBuffer({ size: bytes.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: `${this.label}-uniforms` });
    const groups = new Map<string, GPUBindGroup>();
    const ids = new Map<GPUBuffer, number>();
    const id = (b: GPUBuffer) => {
      let i = ids.get(b);
      if (i === undefined) ids.set(b, (i = ids.size));
      return i;
    };
    let slot = 0;
    const names = new Set<string>();
    for (const s of this.steps) {
      if ('copy' in s) {
        this.encoded.push(s.copy);
        this.copies++;
        continue;
      }
      const d = s.dispatch;
      names.add(d.name);
      let key = `${d.kernel.id}${d.uniforms ? `u${d.uniforms.layout.byteSize}` : ''}`;
      for (const b of d.buffers) key += 'buffer' in b ? `,${id(b.buffer)}@${b.offset}+${b.size}` : `,${id(b)}`;
      let bindGroup = groups.get(key);
      if (!bindGroup) {
        const entries: GPUBindGroupEntry[] = [];
        if (d.uniforms) entries.push({ binding: 0, resource: { buffer: this.uniforms!, offset: 0, size: d.uniforms.layout.byteSize } });
        const first = d.uniforms ? 1 : 0;
        d.buffers.forEach((b, i) => entries.push({ binding: first + i, resource: 'buffer' in b ? b : { buffer: b } }));
        bindGroup = gpu.createBindGroup({ layout: d.kernel.layout, entries });
        groups.set(key, bindGroup);
      }
      let offsets: number[] | null = null;
      if (d.uniforms) {
        d.uniforms.layout.pack(d.uniforms.values, view, slot * SLOT);
        offsets = [slot++ * SLOT];
      }
      const [x, y = 1, z = 1] = d.workgroups;
      this.encoded.push({ pipeline: d.kernel.pipeline, bindGroup, offsets, x, y, z });
      this.dispatches++;
    }
    this.steps.length = 0;
    this.opNames = [...names];
    if (this.uniforms) gpu.queue.writeBuffer(this.uniforms, 0, bytes);
  }

  /** Throws if the graph cannot be replayed (disposed, or a tensor it closed over was disposed). */
  check(): void {
    if (this.disposed) throw new Error(`${this.label}: the captured step was disposed`);
    if (this.orphaned)
      throw new Error(
        `${this.label}: a tensor the captured step reads but did not receive as an argument (it closed over it) was disposed; keep it alive while the step is used, or pass it as an argument`,
      );
  }

  /** Encodes `inputs` (copies) and the recorded work into one command buffer and submits it in queue order. */
  replay(inputs: readonly Copy[]): void {
    this.check();
    this.device.check(this.label);
    // an enclosing capture would not see this work, so its own replays would miss it
    if (this.device.queue.capture) throw new Error(`${this.label}: a captured step cannot run inside another capture`);
    let enc = this.device.gpu.createCommandEncoder();
    for (const c of inputs) enc.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
    let pass: GPUComputePassEncoder | null = null;
    let inBatch = 0;
    for (const e of this.encoded) {
      if ('pipeline' in e) {
        if (inBatch === this.dispatchesPerSubmit) {
          pass?.end();
          pass = null;
          this.device.queue.submitCommands(enc.finish(), this.opNames, inBatch);
          enc = this.device.gpu.createCommandEncoder();
          inBatch = 0;
        }
        inBatch++;
        pass ??= enc.beginComputePass();
        pass.setPipeline(e.pipeline);
        if (e.offsets) pass.setBindGroup(0, e.bindGroup, e.offsets);
        else pass.setBindGroup(0, e.bindGroup);
        pass.dispatchWorkgroups(e.x, e.y, e.z);
      } else {
        pass?.end();
        pass = null;
        enc.copyBufferToBuffer(e.src, e.srcOffset, e.dst, e.dstOffset, e.size);
      }
    }
    pass?.end();
    this.device.queue.submitCommands(enc.finish(), this.opNames, inBatch);
  }

  /** Bytes of GPU memory the graph holds (its buffers and its uniform block). */
  get bytes(): number {
    let n = this.uniforms?.size ?? 0;
    for (const b of this.owned) n += b.size;
    return n;
  }

  /** Gives the graph's buffers back to the pool (those still used by tensors go back when those are disposed). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const pool = this.device.pool;
    for (const b of this.owned) pool.unhold(b, this.onOwnedRelease);
    for (const b of this.external) pool.unhold(b, this.onExternalRelease);
    this.owned.clear();
    this.external.clear();
    this.encoded = [];
    this.uniforms?.destroy();
    this.uniforms = null;
  }
}
