/**
 * Per-pixel cross-entropy as segmentation uses it: logits (N, C, H, W), int32 targets (N, H, W) with
 * 255 = void, `crossEntropy(logits, target, { ignoreIndex: 255 })`. Checked against a host float64
 * reference (mean over the counted pixels of logsumexp − the target's logit, as PyTorch's
 * cross_entropy) and its analytic gradient (softmax − one-hot over the count; zero at void pixels),
 * with fast-check over shapes and void patterns; 'none' gives 0 at void pixels, an all-void batch NaN.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { crossEntropy, tensor, valueAndGrad, type Tensor } from '../../src/node';

interface Case {
  N: number;
  C: number;
  H: number;
  W: number;
  logits: number[];
  target: number[];
}

const caseArb = fc
  .record({ N: fc.integer({ min: 1, max: 2 }), C: fc.integer({ min: 2, max: 5 }), H: fc.integer({ min: 1, max: 4 }), W: fc.integer({ min: 1, max: 4 }) })
  .chain(({ N, C, H, W }) =>
    fc.record({
      N: fc.constant(N),
      C: fc.constant(C),
      H: fc.constant(H),
      W: fc.constant(W),
      logits: fc.array(fc.double({ min: -4, max: 4, noNaN: true }).map(Math.fround), { minLength: N * C * H * W, maxLength: N * C * H * W }),
      // pixel 0 always counts, so the mean is finite
      target: fc
        .array(fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: C - 1 }) }, { weight: 1, arbitrary: fc.constant(255) }), {
          minLength: N * H * W,
          maxLength: N * H * W,
        })
        .map((t) => [t[0] === 255 ? 0 : t[0], ...t.slice(1)]),
    }),
  );

/** Host float64: per-pixel losses (0 where void), the mean over counted pixels and its gradient. */
function reference({ N, C, H, W, logits, target }: Case) {
  const HW = H * W;
  const perPixel = new Float64Array(N * HW);
  const grad = new Float64Array(N * C * HW);
  let count = 0,
    total = 0;
  for (let n = 0; n < N; n++)
    for (let k = 0; k < HW; k++) {
      const t = target[n * HW + k];
      if (t === 255) continue;
      const z = Array.from({ length: C }, (_, c) => logits[(n * C + c) * HW + k]);
      const m = Math.max(...z);
      const s = z.reduce((a, v) => a + Math.exp(v - m), 0);
      const lse = m + Math.log(s);
      perPixel[n * HW + k] = lse - z[t];
      total += lse - z[t];
      count++;
      // softmax − one-hot; divided by the count of counted pixels once it is known
      for (let c = 0; c < C; c++) grad[(n * C + c) * HW + k] = Math.exp(z[c] - m) / s - (c === t ? 1 : 0);
    }
  for (let i = 0; i < grad.length; i++) grad[i] /= count;
  return { perPixel, mean: total / count, grad };
}

describe('per-pixel cross-entropy with ignoreIndex 255', () => {
  it('fast-check: mean, per-pixel values and gradient equal the host float64 reference', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const want = reference(c);
        const x = tensor(c.logits, { shape: [c.N, c.C, c.H, c.W] });
        const t = tensor(c.target, { shape: [c.N, c.H, c.W], dtype: 'int32' });
        const [loss, g] = valueAndGrad((z: Tensor) => crossEntropy(z, t, { ignoreIndex: 255 }))(x) as [Tensor, Tensor];
        const none = crossEntropy(x, t, { ignoreIndex: 255, reduction: 'none' });
        expect(none.shape).toEqual([c.N, c.H, c.W]);
        expect(Math.abs((await loss.item()) - want.mean)).toBeLessThan(1e-5);
        const [gd, nd] = [await g.data(), await none.data()];
        want.grad.forEach((v, i) => expect(Math.abs(gd[i] - v), `grad ${i}`).toBeLessThan(1e-6));
        want.perPixel.forEach((v, i) => expect(Math.abs(nd[i] - v), `pixel ${i}`).toBeLessThan(1e-5));
        for (const u of [x, t, loss, g, none]) u.dispose();
      }),
      { numRuns: 30 },
    );
  });

  it('void pixels take no part: changing their logits changes neither loss nor other gradients; an all-void batch gives NaN', async () => {
    const t = tensor([1, 255, 0, 255], { shape: [1, 2, 2], dtype: 'int32' });
    const a = tensor([0.5, 9, -1, 7, 2, -3, 0.25, 4], { shape: [1, 2, 2, 2] });
    const b = tensor([0.5, -9, -1, 0, 2, 30, 0.25, -4], { shape: [1, 2, 2, 2] }); // only pixels 1 and 3 differ
    const [la, lb] = [crossEntropy(a, t, { ignoreIndex: 255 }), crossEntropy(b, t, { ignoreIndex: 255 })];
    expect(await la.item()).toBeCloseTo(await lb.item(), 6);
    const [, g] = valueAndGrad((z: Tensor) => crossEntropy(z, t, { ignoreIndex: 255 }))(a) as [Tensor, Tensor];
    const gd = await g.data();
    for (const k of [1, 3, 5, 7]) expect(gd[k]).toBe(0);
    const allVoid = tensor([255, 255, 255, 255], { shape: [1, 2, 2], dtype: 'int32' });
    const lv = crossEntropy(a, allVoid, { ignoreIndex: 255 });
    expect(await lv.item()).toBeNaN();
    for (const u of [t, a, b, la, lb, g, allVoid, lv]) u.dispose();
  });
});
