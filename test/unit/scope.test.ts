/** tidy / keep / memory: what a scope frees and what it hands back. */
import { describe, it, expect } from 'vitest';
import { tidy, keep, memory, tensor, add, mul, exp, type Tensor } from '../../src/node';

describe('tidy', () => {
  it('disposes intermediates, returns the result alive', async () => {
    const before = memory();
    const x = tensor([1, 2, 3]);
    let mid!: Tensor;
    const y = tidy(() => {
      mid = add(x, 1);
      return mul(mid, 2);
    });
    expect(mid.isDisposed).toBe(true);
    expect(x.isDisposed).toBe(false); // created outside: untouched
    expect([...(await y.data())]).toEqual([4, 6, 8]);
    x.dispose();
    y.dispose();
    expect(memory().liveTensors).toBe(before.liveTensors);
    expect(memory().liveBytes).toBe(before.liveBytes);
  });

  it('keeps tensors of a pytree result and keep()-ed tensors', async () => {
    let a!: Tensor, b!: Tensor, k!: Tensor, gone!: Tensor;
    const out = tidy(() => {
      gone = tensor([0]);
      a = tensor([1]);
      b = tensor([2]);
      k = keep(tensor([3]));
      return { a, list: [b, 5], name: 'x' };
    });
    expect(out.list[1]).toBe(5);
    expect([a.isDisposed, b.isDisposed, k.isDisposed, gone.isDisposed]).toEqual([false, false, false, true]);
    a.dispose();
    b.dispose();
    k.dispose();
  });

  it('nested tidy moves its result to the parent, which then disposes it', () => {
    let inner!: Tensor,
      innerTmp!: Tensor,
      seenAfterInner = false;
    const outer = tidy(() => {
      inner = tidy(() => {
        innerTmp = tensor([1]);
        return add(innerTmp, 1);
      });
      seenAfterInner = !inner.isDisposed && innerTmp.isDisposed;
      return tensor([9]);
    });
    expect(seenAfterInner).toBe(true);
    expect(inner.isDisposed).toBe(true); // the parent did not return it
    expect(outer.isDisposed).toBe(false);
    outer.dispose();
  });

  it('nested result returned by the parent survives both', () => {
    const r = tidy(() => tidy(() => exp(tensor([0]))));
    expect(r.isDisposed).toBe(false);
    r.dispose();
  });

  it('keep inside a nested tidy escapes every scope', () => {
    let k!: Tensor;
    tidy(() => {
      tidy(() => {
        k = keep(tensor([1]));
      });
    });
    expect(k.isDisposed).toBe(false);
    k.dispose();
  });

  it('disposes on throw, too', () => {
    const before = memory().liveTensors;
    expect(() =>
      tidy(() => {
        tensor([1]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(memory().liveTensors).toBe(before);
  });

  it('refuses a Promise-returning function', () => {
    const before = memory().liveTensors;
    expect(() => tidy(async () => tensor([1]))).toThrow(/tidy: the function returned a Promise/);
    expect(() => tidy('named', (() => Promise.resolve(1)) as () => unknown)).toThrow(/synchronous/);
    // the tensor created before the first await was still disposed
    expect(memory().liveTensors).toBe(before);
  });

  it('memory() counts bytes by size class and pooled bytes after dispose', () => {
    const m0 = memory();
    const t = tensor(new Float32Array(1000)); // 4000 bytes → class 4096
    const m1 = memory();
    expect(m1.liveTensors - m0.liveTensors).toBe(1);
    expect(m1.liveBytes - m0.liveBytes).toBe(4096);
    expect(m1.peakBytes).toBeGreaterThanOrEqual(m1.liveBytes);
    t.dispose();
    const m2 = memory();
    expect(m2.liveBytes).toBe(m0.liveBytes);
    expect(m2.pooledBytes).toBeGreaterThanOrEqual(4096);
  });
});
