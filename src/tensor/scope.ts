/**
 * Explicit GPU memory management: `tidy` disposes every tensor created inside it except those
 * it returns or `keep`s; `memory()` reports live tensors and the pool's byte counts.
 * Garbage collection never frees GPU memory here.
 */
import type { Tensor } from './tensor';
import { tensors } from './tree';
import type { Device } from '../kernels/webgpu/device';
import { openDevices } from '../kernels/webgpu/devices';

const live = new Set<Tensor>();
const scopes: Set<Tensor>[] = [];
const kept = new WeakSet<Tensor>();

export function registerTensor(t: Tensor): void {
  live.add(t);
  scopes[scopes.length - 1]?.add(t);
}

export function unregisterTensor(t: Tensor): void {
  live.delete(t);
}

/** Protects `t` from the enclosing `tidy` scopes. Returns `t`. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

/** Opens a scope; `endScope` disposes what it tracked except `result`'s tensors, which move to the parent. */
export function startScope(): void {
  scopes.push(new Set());
}

export function endScope(result?: unknown): void {
  const scope = scopes.pop();
  if (!scope) throw new Error('endScope without startScope');
  const keepSet = new Set(tensors(result));
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (keepSet.has(t)) parent?.add(t);
    else if (!kept.has(t)) t.dispose();
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except the tensors in its (pytree) result and
 * those passed to `keep`. `fn` must be synchronous: an `await` inside would let tensors escape.
 *
 * @example
 * ```ts
 * import { init, tensor, tidy, add, mul, memory } from '@webgrad/core/node';
 * await init();
 * const x = tensor([1, 2, 3]);
 * const y = tidy(() => add(mul(x, 2), 1)); // the intermediate mul(x, 2) is freed here
 * console.log(await y.data(), memory().liveTensors); // Float32Array [3, 5, 7], 2 live tensors (x and y)
 * ```
 */
export function tidy<T>(fn: () => T): T;
export function tidy<T>(name: string, fn: () => T): T;
export function tidy<T>(a: string | (() => T), b?: () => T): T {
  const fn = typeof a === 'function' ? a : b!;
  startScope();
  let result: T | undefined;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy: the function returned a Promise; tidy needs a synchronous function (no await inside tidy)');
    return result;
  } finally {
    endScope(result);
  }
}

/** GPU memory in use, as reported by {@link memory}. */
export interface MemoryInfo {
  /** Tensor handles not yet disposed. */
  liveTensors: number;
  /** Bytes of GPU buffers held by live tensors (size-class rounded). */
  liveBytes: number;
  /** The largest liveBytes seen so far. */
  peakBytes: number;
  /** Bytes held by the pool for reuse. */
  pooledBytes: number;
  /** GPU buffers held by live tensors. */
  liveBuffers: number;
}

/**
 * Live tensors and pooled GPU bytes on a device (the default one when omitted), to find leaks in a loop.
 *
 * @example
 * ```ts
 * import { init, zeros, memory } from '@webgrad/core/node';
 * await init();
 * const before = memory().liveTensors;
 * const t = zeros([1024]);
 * t.dispose();
 * console.log(memory().liveTensors === before); // true: nothing leaked
 * ```
 */
export function memory(device?: Device): MemoryInfo {
  const devices = new Set<Device>(device ? [device] : openDevices());
  let liveTensors = 0;
  for (const t of live) if (!device || t.device === device) liveTensors++;
  const acc: MemoryInfo = { liveTensors, liveBytes: 0, peakBytes: 0, pooledBytes: 0, liveBuffers: 0 };
  for (const d of devices) {
    const s = d.pool.snapshot;
    acc.liveBytes += s.liveBytes;
    acc.peakBytes += s.peakBytes;
    acc.pooledBytes += s.pooledBytes;
    acc.liveBuffers += s.liveBuffers;
  }
  return acc;
}

/** Every live tensor (for leak reports in tests). */
export const liveTensors = (): Tensor[] => [...live];
