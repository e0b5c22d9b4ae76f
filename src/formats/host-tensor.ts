/**
 * Host-side tensors read from checkpoint files: raw element data in a typed array, no GPU involved.
 * `toTensors` is the only place that touches the device.
 */
import type { Device } from '../kernels/webgpu/device';
import type { DType } from '../base/dtype';
import { tensor } from '../tensor/ops/creation';
import { Tensor } from '../tensor/tensor';
import { flatten } from '../tensor/tree';

/** Element types a checkpoint can hold (a superset of webgrad's tensor dtypes). */
export type HostDType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'uint32' | 'bool';

/**
 * Storage of each host dtype: float16/bfloat16 keep their raw bits in a Uint16Array, int64 is a
 * BigInt64Array, bool is a Uint8Array of 0/1.
 */
export type HostArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint32Array | Int16Array | Int8Array | Uint8Array;

export const ITEM_SIZE: Readonly<Record<HostDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  uint32: 4,
  bool: 1,
};

/** A tensor held in host memory: dtype, shape and row-major data. */
export class HostTensor {
  /** Number of elements. */
  readonly size: number;
  /** Wraps row-major `data` of the given dtype and shape (no copy). */
  constructor(
    /** Element type. */
    readonly dtype: HostDType,
    /** Size of each dimension. */
    readonly shape: readonly number[],
    /** The values, row-major, in a typed array of the dtype. */
    readonly data: HostArray,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== this.size) throw new Error(`HostTensor: data has ${data.length} elements; shape [${shape.join(', ')}] needs ${this.size}`);
  }
}

/** True for HostTensor instances and structurally equal plain objects `{ dtype, shape, data }`. */
export function isHostTensor(x: unknown): x is HostTensor {
  if (x instanceof HostTensor) return true;
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return typeof o.dtype === 'string' && o.dtype in ITEM_SIZE && Array.isArray(o.shape) && ArrayBuffer.isView(o.data);
}

/**
 * A typed array of `dtype` over `bytes` (little-endian). By default over a copy, so alignment never
 * matters; `copy = false` views `bytes` when it starts at offset 0 of its own ArrayBuffer.
 */
export function hostArrayFromBytes(dtype: HostDType, bytes: Uint8Array, copy = true): HostArray {
  const size = ITEM_SIZE[dtype];
  if (bytes.byteLength % size !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`);
  const own = !copy && bytes.byteOffset === 0 && bytes.buffer instanceof ArrayBuffer;
  const buf = own ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
  const n = bytes.byteLength / size;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf, 0, n);
    case 'float64':
      return new Float64Array(buf, 0, n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf, 0, n);
    case 'int64':
      return new BigInt64Array(buf, 0, n);
    case 'int32':
      return new Int32Array(buf, 0, n);
    case 'uint32':
      return new Uint32Array(buf, 0, n);
    case 'int16':
      return new Int16Array(buf, 0, n);
    case 'int8':
      return new Int8Array(buf, 0, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, 0, n);
  }
}

/** The raw little-endian bytes of a host array (a view, no copy). */
export function hostArrayBytes(a: HostArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** IEEE half-precision bits to a number. */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);
/** bfloat16 bits (the top half of a float32) to a number. */
export function bf16ToNumber(h: number): number {
  bf16Bits[0] = (h & 0xffff) << 16;
  return bf16Scratch[0];
}

/** Element values as plain numbers (int64 beyond 2^53 loses precision; bool as 0/1). */
export function hostValues(t: { dtype: HostDType; data: HostArray }): number[] {
  const d = t.data;
  if (t.dtype === 'float16') return Array.from(d as Uint16Array, f16ToNumber);
  if (t.dtype === 'bfloat16') return Array.from(d as Uint16Array, bf16ToNumber);
  if (t.dtype === 'int64') return Array.from(d as BigInt64Array, Number);
  return Array.from(d as ArrayLike<number>);
}

/** The webgrad dtype a host dtype loads as. */
export function deviceDTypeFor(d: HostDType): DType {
  switch (d) {
    case 'float32':
    case 'float16':
    case 'bfloat16':
    case 'float64':
      return 'float32';
    case 'int64':
    case 'int32':
    case 'int16':
    case 'int8':
    case 'uint8':
      return 'int32';
    case 'uint32':
      return 'uint32';
    case 'bool':
      return 'bool';
  }
}

/**
 * Host data converted to a webgrad typed array of `target` (default: `deviceDTypeFor`). int64 values
 * outside the int32 range are an error naming `name`.
 */
export function hostToDeviceArray(t: HostTensor, target: DType = deviceDTypeFor(t.dtype), name = 'tensor'): Float32Array | Int32Array | Uint32Array {
  const n = t.data.length;
  const out = target === 'float32' ? new Float32Array(n) : target === 'int32' ? new Int32Array(n) : new Uint32Array(n);
  if (t.dtype === 'int64') {
    const d = t.data as BigInt64Array;
    const lo = target === 'int32' ? -(2n ** 31n) : target === 'float32' ? -(2n ** 63n) : 0n;
    const hi = target === 'int32' ? 2n ** 31n - 1n : target === 'float32' ? 2n ** 63n : 2n ** 32n - 1n;
    for (let i = 0; i < n; i++) {
      const v = d[i];
      if (target === 'bool') {
        out[i] = v !== 0n ? 1 : 0;
        continue;
      }
      if (v < lo || v > hi) throw new RangeError(`${name}: int64 value ${v} at flat index ${i} does not fit in ${target}`);
      out[i] = Number(v);
    }
    return out;
  }
  const vals = t.dtype === 'float16' || t.dtype === 'bfloat16' ? hostValues(t) : (t.data as ArrayLike<number>);
  if (target === 'bool') for (let i = 0; i < n; i++) out[i] = vals[i] !== 0 ? 1 : 0;
  else if (target === 'float32') for (let i = 0; i < n; i++) out[i] = vals[i];
  else {
    const [lo, hi] = target === 'int32' ? [-(2 ** 31), 2 ** 31 - 1] : [0, 2 ** 32 - 1];
    for (let i = 0; i < n; i++) {
      const v = vals[i];
      if (!Number.isFinite(v) || v < lo || v > hi) throw new RangeError(`${name}: ${t.dtype} value ${v} at flat index ${i} does not fit in ${target}`);
      out[i] = Math.trunc(v);
    }
  }
  return out;
}

/** One host tensor on the GPU (float16/bfloat16/float64 → float32, int64/int16/int8/uint8 → int32). */
export function toTensor(t: HostTensor, device?: Device, dtype?: DType, name = 'tensor'): Tensor {
  const target = dtype ?? deviceDTypeFor(t.dtype);
  return tensor(hostToDeviceArray(t, target, name), { shape: t.shape, dtype: target, device });
}

/**
 * Uploads every HostTensor leaf of a tree (nested objects/arrays, e.g. a parsed state_dict) to the GPU,
 * keeping the structure and the other leaves.
 */
export function toTensors(host: unknown, device?: Device): any {
  const walk = (node: unknown, path: string): unknown => {
    if (isHostTensor(node)) return toTensor(node as HostTensor, device, undefined, path || 'tensor');
    if (node instanceof Tensor || node === null || typeof node !== 'object' || ArrayBuffer.isView(node)) return node;
    if (Array.isArray(node)) return node.map((c, i) => walk(c, path ? `${path}.${i}` : String(i)));
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(node)) {
      Object.defineProperty(o, k, {
        value: walk((node as Record<string, unknown>)[k], path ? `${path}.${k}` : k),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return o;
  };
  return walk(host, '');
}

/** Leaves of a nested state_dict that `isLeaf` accepts, with dotted keys (arrays by index; cycles and typed arrays skipped). */
export function leafEntries<T>(obj: unknown, isLeaf: (x: unknown) => boolean): [string, T][] {
  return flatten(obj, { isLeaf })
    .filter((l) => isLeaf(l.value))
    .map((l) => [l.path, l.value as T]);
}
