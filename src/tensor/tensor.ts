/** The Tensor handle: shape, dtype, device and a ref-counted GPU storage. Always contiguous. */
import type { Device } from '../kernels/webgpu/device';
import type { Binding } from '../kernels/webgpu/queue';
import { type AnyTypedArray, type DType, byteSize, hasFloat16, typedArrayFor } from '../base/dtype';
import { type Shape, sizeOf } from '../base/shape';
import { registerTensor, unregisterTensor } from './scope';
import { formatTensor } from './format';

/** A GPU buffer shared by tensors that view the same data (e.g. after reshape). */
export class Storage {
  refs = 1;
  constructor(
    readonly device: Device,
    readonly buffer: GPUBuffer,
    readonly byteSize: number,
  ) {}

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.device.pool.release(this.buffer);
  }
}

let nextId = 1;

/**
 * An n-dimensional array on a WebGPU device, like torch.Tensor: a shape, a dtype and contiguous GPU memory. Ops
 * return new tensors and never modify their inputs; read values with `await data()` and free memory with
 * `dispose()` or {@link tidy}.
 */
export class Tensor {
  /** A number unique to this handle, for debugging. */
  readonly id = nextId++;
  /** Size of each dimension. */
  readonly shape: readonly number[];
  /** Number of elements (the product of the shape). */
  readonly size: number;
  private _storage: Storage | null;
  /** Ids of the gradient traces following this tensor (see autograd.ts). */
  traces: readonly number[] = [];
  /**
   * Where the values start in the storage's buffer, in bytes: 0, except for a row view that an op splitting
   * its work past the device's largest storage binding made (a multiple of minStorageBufferOffsetAlignment).
   */
  readonly byteOffset: number;

  /**
   * Wraps a GPU buffer; user code makes tensors with {@link tensor}, {@link zeros} and the other creation
   * functions.
   */
  constructor(
    shape: Shape,
    /** Element type. */
    readonly dtype: DType,
    storage: Storage,
    byteOffset = 0,
  ) {
    this.shape = Object.freeze(shape.slice());
    this.size = sizeOf(shape);
    this._storage = storage;
    this.byteOffset = byteOffset;
    registerTensor(this);
  }

  /** Number of dimensions (torch.Tensor.dim()). */
  get ndim(): number {
    return this.shape.length;
  }
  /** The device whose memory holds the values. */
  get device(): Device {
    return this.storage.device;
  }
  /** True once the tensor's memory was released; using it then throws. */
  get isDisposed(): boolean {
    return this._storage === null;
  }

  /** The storage; throws if the tensor was disposed. */
  get storage(): Storage {
    if (!this._storage) throw new Error(`Tensor#${this.id} (shape [${this.shape.join(', ')}], ${this.dtype}) was disposed and cannot be used`);
    return this._storage;
  }

  /** Bytes the values take (element count × dtype size). */
  get byteLength(): number {
    return this.size * byteSize(this.dtype);
  }

  /**
   * The GPU buffer holding the values (shared by views of one storage). Throws for a row view that starts
   * inside the buffer (byteOffset ≠ 0), so no code silently reads the wrong rows: use {@link binding}.
   */
  get buffer(): GPUBuffer {
    if (this.byteOffset !== 0) {
      throw new Error(
        `Tensor#${this.id} (shape [${this.shape.join(', ')}]) is a view at byte ${this.byteOffset} of its buffer: bind it with .binding, not .buffer`,
      );
    }
    return this.storage.buffer;
  }

  /**
   * What a kernel binds to read or write this tensor's values: the whole buffer when it starts at 0 and fits
   * the device's binding cap, else the byte range of the values. Ops pass `binding` (never `buffer`) to
   * `device.run`; `device.run` refuses a range past the cap.
   */
  get binding(): Binding {
    const s = this.storage;
    const bytes = this.byteLength;
    if (this.byteOffset === 0 && (s.buffer.size <= s.device.maxBindingSize || bytes === 0)) return s.buffer;
    return { buffer: s.buffer, offset: this.byteOffset, size: Math.ceil(bytes / 4) * 4 };
  }

  /** Frees the GPU memory (returns it to the pool once no other view shares it). Idempotent. */
  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    unregisterTensor(this);
  }

  /** Disposes the tensor at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Reads the values back as a typed array (bool as Uint32Array of 0/1, float16 decoded to a Float32Array). */
  async data(): Promise<AnyTypedArray> {
    const bytes = await this.device.download(this.storage.buffer, this.byteLength, this.byteOffset);
    return typedArrayFor(this.dtype, bytes, 0, this.size);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements (shape [${this.shape.join(', ')}]); expected exactly one`);
    return (await this.data())[0];
  }

  /** Nested arrays (a number for a 0-d tensor); bools as true/false. */
  async toArray(): Promise<unknown> {
    const flat = await this.data();
    const conv = this.dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
    const build = (dim: number, off: number): unknown => {
      if (dim === this.shape.length) return conv(flat[off]);
      const inner = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * inner));
    };
    return build(0, 0);
  }

  /** Printable text with values, like `tensor([[1, 2], [3, 4]])`. */
  async format(): Promise<string> {
    return formatTensor(this.shape, this.dtype, await this.data());
  }

  /** A short description: dtype, shape and device (no values: reading them needs `await data()`). */
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}${this.isDisposed ? ', disposed' : ''})`;
  }
}

/** Allocates an uninitialised tensor on `device`. */
export function empty(shape: Shape, dtype: DType, device: Device): Tensor {
  if (dtype === 'float16' && !hasFloat16(device)) {
    throw new Error(`float16 tensors need the WebGPU feature 'shader-f16', which device ${device.label} lacks; use float32 (check with hasFloat16(device))`);
  }
  const bytes = sizeOf(shape) * byteSize(dtype);
  return new Tensor(shape, dtype, new Storage(device, device.pool.acquire(bytes), bytes));
}

/** A new handle on the same storage with another shape of equal size. */
export function view(t: Tensor, shape: Shape): Tensor {
  return new Tensor(shape, t.dtype, t.storage.retain(), t.byteOffset);
}

/**
 * Rows [start, start + count) of `t` along dim 0 as a handle on the same storage (it retains the storage:
 * dispose it like any tensor). The rows must start at a multiple of the device's
 * minStorageBufferOffsetAlignment, as a kernel binds them at that offset.
 */
export function rowView(t: Tensor, start: number, count: number): Tensor {
  const rowBytes = t.shape[0] === 0 ? 0 : t.byteLength / t.shape[0];
  const offset = t.byteOffset + start * rowBytes;
  const align = t.device.limits.minStorageBufferOffsetAlignment;
  if (offset % align !== 0)
    throw new Error(`rowView: rows from ${start} start at byte ${offset}, not a multiple of ${align} (minStorageBufferOffsetAlignment)`);
  if (start < 0 || count < 0 || start + count > t.shape[0]) throw new Error(`rowView: rows [${start}, ${start + count}) outside [0, ${t.shape[0]})`);
  return new Tensor([count, ...t.shape.slice(1)], t.dtype, t.storage.retain(), offset);
}
