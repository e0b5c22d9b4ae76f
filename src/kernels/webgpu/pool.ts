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

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private stats: PoolStats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, liveBuffers: 0 };

  constructor(private readonly create: (size: number) => GPUBuffer) {}

  acquire(bytes: number): GPUBuffer {
    const cls = sizeClass(bytes);
    const reused = this.free.get(cls)?.pop();
    if (reused) this.stats.pooledBytes -= cls;
    const buf = reused ?? this.create(cls);
    this.stats.liveBytes += cls;
    this.stats.liveBuffers++;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const cls = buf.size;
    this.stats.liveBytes -= cls;
    this.stats.liveBuffers--;
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
