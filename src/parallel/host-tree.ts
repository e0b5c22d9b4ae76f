/**
 * Trees of tensors as plain host data, keyed by path: what travels between the trainer and its replicas (structured
 * clone to worker threads) and what `load()` accepts, whatever device (or none) the values came from.
 */
import type { DType } from '../base/dtype';
import { Tensor } from '../tensor/tensor';
import { tensor } from '../tensor/ops/creation';
import * as tree from '../tensor/tree';
import type { Device } from '../kernels/webgpu/device';

/** One leaf in host memory: row-major values, shape and dtype. */
export interface HostLeaf {
  /** Row-major values. */
  data: Float32Array | Int32Array | Uint32Array;
  /** Size of each dimension. */
  shape: readonly number[];
  /** Element type of the tensor it came from / goes to. */
  dtype: DType;
}

/** Leaves by path (tree.flatten's paths). */
export type HostLeaves = Record<string, HostLeaf>;

/** Parameters, model state and optimizer state of a replica, as host leaves. */
export interface HostTrainingState {
  params: HostLeaves;
  state: HostLeaves;
  /** Optimizer slots by `<param path>.<slot>`, and the optimizer's update count. */
  optState?: { step: number; slots: HostLeaves };
  /** The trees' structures (for snapshots): see {@link skeleton}. */
  skeleton?: { params: unknown; state: unknown; slots: unknown };
}

const isHostLike = (v: unknown): v is { data: ArrayLike<number>; shape: readonly number[]; dtype?: string } =>
  typeof v === 'object' && v !== null && ArrayBuffer.isView((v as { data?: unknown }).data) && Array.isArray((v as { shape?: unknown }).shape);

/** Reads a tree whose leaves are Tensors or host tensors ({ data, shape, dtype? }) into host leaves. */
export async function toHostLeaves(t: unknown, what: string): Promise<HostLeaves> {
  const out: HostLeaves = {};
  const leaves = tree.flatten(t, { isLeaf: (x) => x instanceof Tensor || isHostLike(x) || typeof x !== 'object' });
  for (const { path, value } of leaves) {
    if (value instanceof Tensor) {
      const data = (await value.data()) as HostLeaf['data'];
      out[path] = { data: data.slice(), shape: value.shape.slice(), dtype: value.dtype };
    } else if (isHostLike(value)) {
      const dtype = (value.dtype ?? (value.data instanceof Int32Array ? 'int32' : 'float32')) as DType;
      const data = dtype === 'int32' ? Int32Array.from(value.data) : dtype === 'uint32' ? Uint32Array.from(value.data) : Float32Array.from(value.data);
      out[path] = { data, shape: value.shape.slice(), dtype };
    } else if (value !== null && value !== undefined) {
      throw new TypeError(`dataParallel.load: ${what}.${path} is ${typeof value}; expected a Tensor or a host tensor { data, shape }`);
    }
  }
  return out;
}

/** A tree shaped like `template` with each tensor leaf replaced by the host leaf of the same path, uploaded to `device`. */
export function fromHostLeaves<T>(template: T, leaves: HostLeaves, device: Device, what: string): T {
  return tree.map(template, (leaf: unknown, path: string) => {
    if (!(leaf instanceof Tensor)) return leaf;
    const h = leaves[path];
    if (!h) throw new Error(`dataParallel.load: ${what} has no entry '${path}' (the replica's init() makes one)`);
    if (h.shape.length !== leaf.shape.length || h.shape.some((d, i) => d !== leaf.shape[i]))
      throw new Error(`dataParallel.load: ${what}.${path} has shape [${h.shape.join(', ')}]; the replica expects [${leaf.shape.join(', ')}]`);
    return tensor(h.data, { shape: leaf.shape, dtype: leaf.dtype, device });
  });
}

const TENSOR = '\u0000tensor';

/** The tree's structure with every tensor leaf replaced by a marker (cloneable; rebuilt by {@link fromSkeleton}). */
export function skeleton(t: unknown): unknown {
  return tree.map(t, (leaf: unknown) => (leaf instanceof Tensor ? TENSOR : leaf));
}

/** Rebuilds a tree from its skeleton, each marker replaced by the host leaf of its path uploaded to `device`. */
export function fromSkeleton(sk: unknown, leaves: HostLeaves, device: Device): any {
  return tree.map(sk, (leaf: unknown, path: string) => {
    if (leaf !== TENSOR) return leaf;
    const h = leaves[path];
    if (!h) throw new Error(`dataParallel.snapshot: no values for '${path}'`);
    return tensor(h.data, { shape: h.shape, dtype: h.dtype, device });
  });
}
