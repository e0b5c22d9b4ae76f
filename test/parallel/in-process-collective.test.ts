import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { inProcessGroup } from '../../src/parallel/in-process-collective';

describe('inProcessGroup', () => {
  it('allReduce gives every rank the rank-ordered float32 sum', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 40 }), fc.integer(), async (k, n, seed) => {
        const group = inProcessGroup(k);
        const parts = group.map((_, r) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed + 7 * r + i) * 10 ** (r % 3))));
        const want = new Float32Array(n);
        for (const p of parts) for (let i = 0; i < n; i++) want[i] = Math.fround(want[i] + p[i]);
        await Promise.all(group.map((c, r) => c.allReduce(parts[r])));
        for (const p of parts) expect(Array.from(p)).toEqual(Array.from(want));
      }),
      { numRuns: 30 },
    );
  });

  it('broadcast copies the root, and mismatched calls are named', async () => {
    const [a, b, c] = inProcessGroup(3);
    const xs = [new Float32Array([1, 2]), new Float32Array([3, 4]), new Float32Array([5, 6])];
    await Promise.all([a.broadcast(xs[0], 1), b.broadcast(xs[1], 1), c.broadcast(xs[2], 1)]);
    expect(xs.map((x) => Array.from(x))).toEqual([
      [3, 4],
      [3, 4],
      [3, 4],
    ]);
    const p = a.allReduce(new Float32Array(2));
    await expect(b.allReduce(new Float32Array(3))).rejects.toThrow(/rank 1 called allReduce\(3\).*allReduce\(2\)/);
    void p;
  });
});
