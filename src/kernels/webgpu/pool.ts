/**
 * GPU buffers recycled by size class. A size class is the requested size rounded up to
 * 2^k·{1, 1.25, 1.5, 1.75}, so waste stays under 25% while reuse stays likely.
 */
import { BufferUsage } from './usage';

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 1024) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

export interface PoolStats {
  liveBytes: number;
  peakBytes: number;
  pooledBytes: number;
  liveBuffers: number;
}

/** A hold on a buffer (src/kernels/webgpu/replay.ts): while held, releasing it does not return it to the free lists. */
interface Hold {
  count: number;
  /** Released by its last tensor while held: goes to the free lists when the last hold is dropped. */
  released: boolean;
  onRelease: ((buf: GPUBuffer) => void)[];
}

/** Sees every buffer `acquire` hands out while a step is captured, and may offer one of its own first. */
export interface AcquireHook {
  take(sizeClass: number): GPUBuffer | undefined;
  took(buf: GPUBuffer): void;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private stats: PoolStats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, liveBuffers: 0 };
  private readonly holds = new Map<GPUBuffer, Hold>();
  /** Set while a step is captured (replay.ts). */
  acquireHook: AcquireHook | null = null;

  constructor(private readonly create: (size: number) => GPUBuffer) {}

  acquire(bytes: number): GPUBuffer {
    const cls = sizeClass(bytes);
    let buf = this.acquireHook?.take(cls);
    if (buf) this.holds.get(buf)!.released = false;
    else {
      const reused = this.free.get(cls)?.pop();
      if (reused) this.stats.pooledBytes -= cls;
      buf = reused ?? this.create(cls);
    }
    this.stats.liveBytes += cls;
    this.stats.liveBuffers++;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    this.acquireHook?.took(buf);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const cls = buf.size;
    this.stats.liveBytes -= cls;
    this.stats.liveBuffers--;
    const hold = this.holds.get(buf);
    if (hold) {
      hold.released = true;
      for (const f of hold.onRelease) f(buf);
      return;
    }
    this.recycle(buf);
  }

  /** Keeps `buf` out of the free lists until {@link unhold} (`onRelease` hears when its last tensor lets go). */
  hold(buf: GPUBuffer, onRelease?: (buf: GPUBuffer) => void): void {
    let h = this.holds.get(buf);
    if (!h) this.holds.set(buf, (h = { count: 0, released: false, onRelease: [] }));
    h.count++;
    if (onRelease) h.onRelease.push(onRelease);
  }

  /** Drops a hold; a buffer released meanwhile goes to the free lists once no hold is left. */
  unhold(buf: GPUBuffer, onRelease?: (buf: GPUBuffer) => void): void {
    const h = this.holds.get(buf);
    if (!h) return;
    if (onRelease) h.onRelease = h.onRelease.filter((f) => f !== onRelease);
    if (--h.count > 0) return;
    this.holds.delete(buf);
    if (h.released) this.recycle(buf);
  }

  /** True when `buf` is held and no tensor uses it any more. */
  isReleased(buf: GPUBuffer): boolean {
    return this.holds.get(buf)?.released ?? false;
  }

  private recycle(buf: GPUBuffer): void {
    const cls = buf.size;
    this.stats.pooledBytes += cls;
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    list.push(buf);
  }

  /** Visits every pooled (unused) buffer: tests poison them to catch kernels that skip outputs. */
  forEachFree(fn: (buf: GPUBuffer) => void): void {
    for (const list of this.free.values()) list.forEach(fn);
  }

  /** Destroys every pooled (unused) buffer. */
  emptyCache(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes;
  }

  get snapshot(): PoolStats {
    return { ...this.stats };
  }
}
