/**
 * Adapter and device discovery on every runtime (Node via a registered provider, Deno and
 * browsers via navigator.gpu), and the per-device runtime: buffer pool, pipeline cache,
 * batched queue, and GPU errors surfaced as JS errors that name the op.
 */
import { BufferPool, STORAGE_USAGE } from './pool';
import { PipelineCache, type Shader } from './pipelines';
import { CommandQueue, type Binding, type Dispatch } from './queue';
import { BufferUsage, MapMode } from './usage';
import type { UniformLayout, UniformValues } from './uniforms';

/**
 * An error the GPU reported: a lost device, out of memory, a failed kernel compile or a validation error. It
 * names the batch of ops that was running.
 */
export class GPUOpError extends Error {
  /** Wraps a GPU error message. */
  constructor(message: string) {
    super(message);
    this.name = 'GPUOpError';
  }
}

let gpuProvider: (() => GPU | undefined) | null = null;

/** Lets a runtime entry point (e.g. `@webgrad/core/node`) supply `navigator.gpu`'s equivalent. */
export function registerGPUProvider(provider: () => GPU | undefined): void {
  gpuProvider = provider;
}

const NO_GPU_HELP = [
  'webgrad: no WebGPU implementation found.',
  '- Node: import "@webgrad/core/node" (it uses the "webgpu" package, Dawn).',
  '- Deno 2 and Chromium provide navigator.gpu (Chromium: enable WebGPU, e.g. --enable-unsafe-webgpu).',
].join('\n');

export const NO_ADAPTER_HELP = [
  'webgrad: WebGPU found no adapter.',
  "- Linux without a GPU: install Mesa's lavapipe Vulkan driver (Debian 12 needs the backports version):",
  "    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list",
  '    apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1',
  '  and run with XDG_RUNTIME_DIR set (e.g. XDG_RUNTIME_DIR=/tmp).',
  '- With a GPU: install its Vulkan (Linux), Metal (macOS) or D3D12 (Windows) driver.',
  '- `npm run setup-gpu` in the webgrad repository does the Linux step for you.',
].join('\n');

/** In a web page the fix is a browser setting, not a driver package: say which one. */
const BROWSER_SETTINGS = [
  '- Chrome, Edge: on by default on Windows, macOS, ChromeOS and Android; on Linux turn on chrome://flags/#enable-unsafe-webgpu',
  '  (edge://flags in Edge, or start the browser with --enable-unsafe-webgpu) and keep "Use graphics acceleration" on in its settings.',
  '- Firefox: set dom.webgpu.enabled to true in about:config (on by default on Windows since Firefox 141).',
  '- Safari: on by default from Safari 26; earlier, Develop > Feature Flags > WebGPU.',
  '- WebGPU is only offered to secure pages (https:// or http://localhost).',
];
export const BROWSER_NO_GPU_HELP = ['webgrad: this browser offers no WebGPU (navigator.gpu is missing). Turn it on:', ...BROWSER_SETTINGS].join('\n');
export const BROWSER_NO_ADAPTER_HELP = [
  'webgrad: this browser has WebGPU but gave no adapter (WebGPU is turned off, or the GPU or its driver is blocklisted):',
  ...BROWSER_SETTINGS,
  '- chrome://gpu (Chrome, Edge) or about:support (Firefox) says whether WebGPU is available and why not.',
].join('\n');

/** A web page or a web worker (Node never defines `document`; Deno's workers are excluded by name). */
export function inBrowser(): boolean {
  const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown; Deno?: unknown };
  return g.Deno === undefined && (g.document !== undefined || g.WorkerGlobalScope !== undefined);
}

export function findGPU(): GPU {
  const gpu = gpuProvider?.() ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new GPUOpError(inBrowser() ? BROWSER_NO_GPU_HELP : NO_GPU_HELP);
  return gpu;
}

export async function requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter> {
  const adapter = await findGPU().requestAdapter(options);
  if (!adapter) throw new GPUOpError(inBrowser() ? BROWSER_NO_ADAPTER_HELP : NO_ADAPTER_HELP);
  return adapter;
}

/** How {@link Device.create} picks and sets up a WebGPU device. */
export interface DeviceOptions {
  /** Use this adapter instead of requesting one. */
  adapter?: GPUAdapter;
  /** Passed to requestAdapter: 'high-performance' or 'low-power'. */
  powerPreference?: GPUPowerPreference;
  /** Dispatches per submit. */
  flushEvery?: number;
  /** Submit and check errors after every op, so an error names the exact op (slow). */
  debug?: boolean;
  /**
   * Sleep through most of the expected GPU time before awaiting read-backs (Dawn's Node binding
   * busy-polls while waiting, taking a core from CPU adapters such as lavapipe). Helps long steady
   * loops (training); hurts short irregular waits.
   */
  sleepWhileWaiting?: boolean;
  /** A name for errors and logs (default webgpu:N). */
  label?: string;
  /**
   * The largest storage binding webgrad uses, in bytes (default, and at most, the device's
   * maxStorageBufferBindingSize). Ops whose operands pass it split their work (by batch rows, or flat for
   * elementwise ops); tests lower it to make small tensors split.
   */
  maxBindingSize?: number;
}

let nextDeviceId = 0;

/**
 * One WebGPU device with its buffer pool, pipeline cache and command queue. Most programs use the default device
 * (`init()`, {@link getDefaultDevice}); create more with {@link createDevice}.
 */
export class Device {
  /** A number unique to this device in the process. */
  readonly id = nextDeviceId++;
  /** The buffer pool that recycles GPU memory. */
  readonly pool: BufferPool;
  /** Compiled compute pipelines by kernel key. */
  readonly pipelines: PipelineCache;
  /** The batched command queue. */
  readonly queue: CommandQueue;
  /** WebGPU features the device was created with (e.g. shader-f16). */
  readonly features: ReadonlySet<string>;
  /** The device's WebGPU limits. */
  readonly limits: GPUSupportedLimits;
  /** The name used in errors. */
  readonly label: string;
  private bindingCap = 0;
  /** Submit and check errors after every op (slow; set from DeviceOptions.debug). */
  debug: boolean;
  /** See DeviceOptions.sleepWhileWaiting. */
  sleepWhileWaiting: boolean;
  /** Set when the device is lost or a GPU error was reported; thrown at the next op or read-back. */
  private failure: GPUOpError | null = null;
  private lost = false;

  /** Wraps a GPUDevice that was already requested; {@link Device.create} does the requesting. */
  constructor(
    /** The underlying GPUDevice. */
    readonly gpu: GPUDevice,
    /** Vendor and architecture of the adapter, when the runtime reports them. */
    readonly adapterInfo: GPUAdapterInfo | undefined,
    options: DeviceOptions = {},
  ) {
    this.label = options.label ?? `webgpu:${this.id}`;
    this.debug = options.debug ?? false;
    this.sleepWhileWaiting = options.sleepWhileWaiting ?? false;
    this.features = new Set(gpu.features as unknown as Iterable<string>);
    this.limits = gpu.limits;
    this.maxBindingSize = options.maxBindingSize ?? gpu.limits.maxStorageBufferBindingSize;
    this.pool = new BufferPool((size) => this.createStorage(size));
    // a compile error is the root cause of the 'invalid pipeline' errors that follow it, so it wins
    this.pipelines = new PipelineCache(gpu, (key, e, src) => {
      this.failure = new GPUOpError(`${this.label}: kernel '${key}' failed to compile: ${e.message}\n${numbered(src)}`);
    });
    this.queue = new CommandQueue(
      gpu,
      options.flushEvery ?? 16,
      (ops, e) =>
        this.fail(`GPU ${e.constructor.name === 'GPUOutOfMemoryError' ? 'out of memory' : 'error'} in a batch running [${summarise(ops)}]: ${e.message}`),
      (message) => this.fail(message),
    );
    gpu.lost.then((info) => {
      this.lost = true;
      this.failure = new GPUOpError(`${this.label}: device lost (${info.reason}): ${info.message}`);
    });
    gpu.addEventListener?.('uncapturederror', (ev: Event) => {
      this.fail(`uncaptured GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
    });
  }

  /** Requests an adapter and a device (with the features webgrad can use, such as shader-f16) and wraps it. */
  static async create(options: DeviceOptions = {}): Promise<Device> {
    const adapter = options.adapter ?? (await requestAdapter({ powerPreference: options.powerPreference }));
    const wanted: GPUFeatureName[] = (['shader-f16', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    const l = adapter.limits;
    const gpu = await adapter.requestDevice({
      requiredFeatures: wanted,
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
      label: options.label,
    });
    return new Device(gpu, adapter.info, options);
  }

  private fail(message: string): void {
    if (!this.failure) this.failure = new GPUOpError(`${this.label}: ${message}`);
  }

  /** Throws the pending GPU failure, if any. Called before every op and read-back. */
  check(op?: string): void {
    if (this.failure) {
      const f = this.failure;
      if (!this.lost) this.failure = null;
      throw op ? new GPUOpError(`${op}: ${f.message}`) : f;
    }
  }

  /** True once the GPU device has been lost; every later op on it throws. */
  get isLost(): boolean {
    return this.lost;
  }

  private createStorage(size: number): GPUBuffer {
    if (size > this.limits.maxBufferSize) {
      throw new GPUOpError(`${this.label}: a tensor of ${size} bytes exceeds this device's largest buffer (${this.limits.maxBufferSize} bytes)`);
    }
    return this.gpu.createBuffer({ size, usage: STORAGE_USAGE });
  }

  /**
   * The largest storage binding a kernel may get, in bytes: the device's maxStorageBufferBindingSize or a lower
   * cap (DeviceOptions.maxBindingSize, or set here, e.g. by tests). Tensors may be larger (up to maxBufferSize):
   * ops then split their work. Setting a value above the device's limit keeps the limit.
   */
  get maxBindingSize(): number {
    return this.bindingCap;
  }
  /** Sets the cap (a multiple of 4 bytes, at least 16; kept at most the device's limit). */
  set maxBindingSize(bytes: number) {
    if (!(Number.isInteger(bytes) && bytes >= 16 && bytes % 4 === 0)) {
      throw new RangeError(`maxBindingSize: got ${bytes}; expected a multiple of 4 bytes, at least 16`);
    }
    this.bindingCap = Math.min(bytes, this.limits.maxStorageBufferBindingSize);
  }

  /** Throws, naming the op, when a binding passes {@link maxBindingSize} (the op should have split its work). */
  private checkBindings(name: string, buffers: readonly Binding[]): void {
    for (const b of buffers) {
      const size = b.size;
      if (size > this.maxBindingSize) {
        throw new GPUOpError(
          `${name}: operand of ${size} bytes exceeds this device's largest storage binding (${this.maxBindingSize} bytes) and this op does not split`,
        );
      }
    }
  }

  /** Runs one kernel. `source` is only called when `key` is not yet compiled. */
  run(
    name: string,
    key: string,
    source: () => Shader,
    buffers: Binding[],
    workgroups: Dispatch['workgroups'],
    uniforms?: { layout: UniformLayout; values: UniformValues },
  ): void {
    this.check(name);
    this.checkBindings(name, buffers);
    const kernel = this.pipelines.get(key, source);
    this.queue.dispatch({ name, kernel, buffers, workgroups, uniforms });
    if (this.debug) this.queue.flush();
  }

  /**
   * Runs host work in the middle of the GPU work without making the caller wait: everything recorded so far is
   * submitted (or, behind an earlier open gate, held), then `fn` runs; everything recorded after this call
   * (dispatches, copies, uploads) is held in order and submitted when `fn` resolves. Read-backs wait for the
   * held work. `fn` talks to the GPU directly (`device.gpu.queue`, `mapAsync` on its own buffers), never through
   * this device's ops. If `fn` rejects, the held work is dropped and the next op or read-back throws its error,
   * prefixed with `name`; `onDrop` runs instead of `fn` when this gate is dropped (an earlier gate failed, or the
   * device was destroyed), to free what `fn` would have freed.
   */
  gate(fn: () => Promise<void>, name = 'gate', onDrop?: () => void): void {
    this.check(name);
    this.queue.gate(fn, name, onDrop);
  }

  /** Copies host data into `buffer` (flushing first: queued work may still read the buffer's old contents). */
  upload(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.check('upload');
    if (this.queue.pending) this.queue.flush();
    if (data.byteLength === 0) return;
    const padded = data.byteLength % 4 === 0 ? data : padTo4(data);
    this.queue.write(buffer, offset, padded); // immediate without a gate; held (in order) behind one
  }

  /**
   * Node's Dawn binding polls for GPU completion on every event-loop turn while a promise is pending, which
   * keeps a core busy; on a CPU adapter (lavapipe) that core is taken from the kernels. So before awaiting,
   * sleep for most of the time the queued dispatches are expected to take (a running estimate of wait time
   * per dispatch, scaled down so that the poll still finishes the wait). Measured on lavapipe, 2 cores.
   */
  private msPerDispatch = 0;
  private settledAt = 0;

  private async settleThen<T>(wait: () => Promise<T>): Promise<T> {
    // opt-in: the estimate is one running average for all work, so after heavy kernels a wait for a
    // few tiny ops would oversleep (seen: 8.6 ms per 4-element add after the conv benchmarks)
    if (!this.sleepWhileWaiting) return wait();
    const mark = this.queue.dispatchCount;
    const pending = mark - this.settledAt;
    const guess = 0.75 * this.msPerDispatch * pending;
    const t0 = performance.now();
    if (guess >= 4) await new Promise((r) => setTimeout(r, Math.min(guess, 10_000)));
    const out = await wait();
    if (pending >= 16) {
      const sample = (performance.now() - t0) / pending;
      this.msPerDispatch = this.msPerDispatch === 0 ? sample : 0.5 * this.msPerDispatch + 0.5 * sample;
    }
    this.settledAt = Math.max(this.settledAt, mark);
    return out;
  }

  /** Reads `size` bytes of `buffer` back to the host. */
  async download(buffer: GPUBuffer, size: number, offset = 0): Promise<ArrayBuffer> {
    this.check('data');
    if (size === 0) return new ArrayBuffer(0);
    const aligned = Math.ceil(size / 4) * 4;
    const staging = this.gpu.createBuffer({ size: aligned, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.queue.copy(buffer, offset, staging, 0, aligned);
    this.queue.flush();
    if (this.queue.holding) {
      // the copy into staging waits behind a gate: map only once it is submitted
      const dropped = await this.queue.whenIdle();
      if (dropped !== null) {
        staging.destroy();
        this.check('data');
        throw new GPUOpError(`data: ${this.label}: ${dropped}`);
      }
    }
    try {
      await this.settleThen(() => staging.mapAsync(MapMode.READ));
    } catch (e) {
      this.check('data');
      throw new GPUOpError(`${this.label}: read-back failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange().slice(0, size);
    staging.unmap();
    staging.destroy();
    this.check('data');
    return out;
  }

  /** Waits until all submitted work has finished (and surfaces its errors). */
  async sync(): Promise<void> {
    this.queue.flush();
    const dropped = this.queue.holding ? await this.queue.whenIdle() : null;
    if (dropped !== null) {
      this.check();
      throw new GPUOpError(`${this.label}: ${dropped}`);
    }
    await this.settleThen(() => this.gpu.queue.onSubmittedWorkDone());
    this.check();
  }

  /** Destroys the pool's unused buffers (and the bind groups that name them). */
  emptyCache(): void {
    this.queue.flush();
    if (this.queue.holding) {
      // held batches may name pooled buffers: destroy them only once those are submitted
      this.queue.whenIdle().then(() => this.emptyCache());
      return;
    }
    this.queue.clearBindGroups();
    this.pool.emptyCache();
  }

  /** Frees the pooled buffers and destroys the GPU device; its tensors are unusable afterwards. */
  destroy(): void {
    this.queue.dropHeld();
    this.emptyCache();
    this.queue.destroy();
    this.gpu.destroy();
  }
}

function padTo4(data: ArrayBufferView): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out;
}

function summarise(ops: string[]): string {
  const unique = [...new Set(ops)];
  return unique.length <= 8 ? unique.join(', ') : `${unique.slice(0, 8).join(', ')}, …`;
}

function numbered(src: string): string {
  return src
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(4)}| ${l}`)
    .join('\n');
}

/** Workgroup grid for `n` threads in groups of `size`, folding into y past the 65535 limit. */
export function grid(n: number, size: number): [number, number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}
