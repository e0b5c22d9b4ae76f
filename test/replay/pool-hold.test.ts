/** BufferPool holds (what a captured step uses to own its buffers): a held buffer stays out of the free lists until unheld. */
import { expect, it } from 'vitest';
import fc from 'fast-check';
import { BufferPool } from '../../src/kernels/webgpu/pool';

const fakePool = () => new BufferPool((size) => ({ size, destroy: () => {} }) as unknown as GPUBuffer);

it('a held buffer released by its tensor is not handed out again until the last hold is dropped', () => {
  const pool = fakePool();
  const a = pool.acquire(1000);
  const heard: GPUBuffer[] = [];
  const listen = (b: GPUBuffer) => heard.push(b);
  pool.hold(a, listen);
  pool.hold(a);
  pool.release(a);
  expect(heard).toEqual([a]);
  expect(pool.isReleased(a)).toBe(true);
  expect(pool.snapshot.pooledBytes).toBe(0);
  expect(pool.acquire(1000)).not.toBe(a);
  pool.unhold(a, listen);
  expect(pool.snapshot.pooledBytes).toBe(0); // one hold left
  pool.unhold(a);
  expect(pool.snapshot.pooledBytes).toBe(a.size);
  expect(pool.acquire(1000)).toBe(a);
});

it('a held buffer still in use goes back to the ordinary path when unheld; the acquire hook is asked first', () => {
  const pool = fakePool();
  const a = pool.acquire(64);
  pool.hold(a);
  pool.unhold(a);
  pool.release(a);
  expect(pool.acquire(64)).toBe(a);
  const b = pool.acquire(64);
  pool.hold(b);
  pool.release(b);
  const took: GPUBuffer[] = [];
  pool.acquireHook = { take: () => b, took: (x) => took.push(x) };
  expect(pool.acquire(64)).toBe(b);
  expect(pool.isReleased(b)).toBe(false);
  expect(took).toEqual([b]);
  pool.acquireHook = null;
});

it('live and pooled bytes balance over random acquire/hold/release/unhold sequences', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 7 })), { maxLength: 60 }), (ops) => {
      let created = 0;
      const pool = new BufferPool((size) => {
        created += size;
        return { size, destroy: () => {} } as unknown as GPUBuffer;
      });
      const live: GPUBuffer[] = [];
      const held = new Map<GPUBuffer, number>();
      for (const [op, i] of ops) {
        if (op === 0) live.push(pool.acquire(256 * (1 + (i % 3))));
        else if (op === 1 && live.length) {
          const b = live[i % live.length];
          pool.hold(b);
          held.set(b, (held.get(b) ?? 0) + 1);
        } else if (op === 2 && live.length) pool.release(live.splice(i % live.length, 1)[0]);
        else if (op === 3 && held.size) {
          const b = [...held.keys()][i % held.size];
          pool.unhold(b);
          if (held.get(b) === 1) held.delete(b);
          else held.set(b, held.get(b)! - 1);
        }
      }
      for (const b of held.keys()) for (let k = held.get(b)!; k > 0; k--) pool.unhold(b);
      for (const b of live) pool.release(b);
      const s = pool.snapshot;
      expect(s.liveBytes).toBe(0);
      expect(s.liveBuffers).toBe(0);
      expect(s.pooledBytes).toBe(created); // every buffer made is back in the free lists
    }),
  );
});
