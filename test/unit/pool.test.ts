/** BufferPool: size classes bound the waste and buffers are reused by class. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BufferPool, sizeClass } from '../../src/kernels/webgpu/pool';

function fakePool() {
  const created: number[] = [];
  let destroyed = 0;
  const pool = new BufferPool((size) => {
    created.push(size);
    return {
      size,
      destroy: () => {
        destroyed++;
      },
    } as unknown as GPUBuffer;
  });
  return { pool, created, destroyed: () => destroyed };
}

describe('sizeClass', () => {
  it('covers the request, is 16-byte aligned, wastes under 25% past 1 KiB, and is monotonic', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 2 ** 31 }), (a, b) => {
        const c = sizeClass(a);
        expect(c).toBeGreaterThanOrEqual(Math.max(a, 16));
        expect(c % 16).toBe(0);
        if (a > 1024) expect(c).toBeLessThan(a * 1.25 + 16);
        if (a <= b) expect(sizeClass(b)).toBeGreaterThanOrEqual(c);
        expect(sizeClass(c)).toBe(c); // a class is its own class
      }),
      { numRuns: 2000 },
    );
  });

  it('has the documented classes', () => {
    expect([0, 1, 16, 17, 256, 257, 1024].map(sizeClass)).toEqual([256, 256, 256, 256, 256, 512, 1024]);
    expect([1025, 1280, 1281, 1536, 1792, 1793, 4096, 4097].map(sizeClass)).toEqual([1280, 1280, 1536, 1536, 1792, 2048, 4096, 5120]);
  });
});

describe('BufferPool', () => {
  it('reuses a released buffer for any request of the same class, and tracks bytes', () => {
    const { pool, created } = fakePool();
    const a = pool.acquire(1100); // class 1280
    expect(pool.snapshot).toEqual({ liveBytes: 1280, peakBytes: 1280, pooledBytes: 0, liveBuffers: 1 });
    pool.release(a);
    expect(pool.snapshot).toMatchObject({ liveBytes: 0, pooledBytes: 1280, liveBuffers: 0 });
    const b = pool.acquire(1280);
    expect(b).toBe(a);
    expect(created).toEqual([1280]);
    const c = pool.acquire(1100); // a is taken: a new one
    expect(c).not.toBe(a);
    const d = pool.acquire(2000); // another class
    expect(created).toEqual([1280, 1280, 2048]);
    expect(pool.snapshot).toEqual({ liveBytes: 1280 * 2 + 2048, peakBytes: 1280 * 2 + 2048, pooledBytes: 0, liveBuffers: 3 });
    pool.release(b);
    pool.release(c);
    pool.release(d);
    pool.resetPeak();
    expect(pool.snapshot.peakBytes).toBe(0);
  });

  it('reuses last-released first and never hands one buffer out twice', () => {
    const { pool } = fakePool();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 5000 })), { maxLength: 60 }), (opsList) => {
        const held: GPUBuffer[] = [];
        for (const [acq, n] of opsList) {
          if (acq || held.length === 0) {
            const b = pool.acquire(n);
            expect(held).not.toContain(b);
            expect(b.size).toBe(sizeClass(n));
            held.push(b);
          } else pool.release(held.splice(n % held.length, 1)[0]);
        }
        expect(pool.snapshot.liveBytes).toBe(held.reduce((s, b) => s + b.size, 0));
        expect(pool.snapshot.liveBuffers).toBe(held.length);
        held.forEach((b) => pool.release(b));
      }),
    );
  });

  it('emptyCache destroys only pooled buffers', () => {
    const { pool, destroyed } = fakePool();
    const a = pool.acquire(100),
      b = pool.acquire(100);
    pool.release(a);
    let visited = 0;
    pool.forEachFree(() => visited++);
    expect(visited).toBe(1);
    pool.emptyCache();
    expect(destroyed()).toBe(1);
    expect(pool.snapshot).toMatchObject({ pooledBytes: 0, liveBytes: 256, liveBuffers: 1 });
    expect(pool.acquire(100)).not.toBe(a);
    pool.release(b);
  });
});
