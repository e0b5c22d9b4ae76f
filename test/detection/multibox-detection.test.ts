/** multiboxDetection against d2l's printed example and a float32 host reference of d2l's code. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { tensor, memory, ArgumentError } from '../../src/node';
import { multiboxDetection } from '../../src/detection/multibox-detection';
import { refMultiboxDetection } from '../../src/detection/ref/multibox-detection';

const ANCHORS = [0.1, 0.08, 0.52, 0.92, 0.08, 0.2, 0.56, 0.95, 0.15, 0.3, 0.62, 0.91, 0.55, 0.2, 0.9, 0.88];
const PROBS = [0, 0, 0, 0, 0.9, 0.8, 0.7, 0.1, 0.1, 0.2, 0.3, 0.9];

describe('multiboxDetection', () => {
  it("reproduces d2l's printed example (anchors chapter, nms_threshold 0.5)", async () => {
    const out = await multiboxDetection(
      tensor(PROBS, { shape: [1, 3, 4] }),
      tensor(new Float32Array(16), { shape: [1, 16] }),
      tensor(ANCHORS, { shape: [1, 4, 4] }),
      { nmsThreshold: 0.5 },
    );
    expect(out.shape).toEqual([1, 4, 6]);
    const got = Array.from(await out.data());
    // the book prints these rows (2 decimals)
    const printed = [
      [0, 0.9, 0.1, 0.08, 0.52, 0.92],
      [1, 0.9, 0.55, 0.2, 0.9, 0.88],
      [-1, 0.8, 0.08, 0.2, 0.56, 0.95],
      [-1, 0.7, 0.15, 0.3, 0.62, 0.91],
    ].flat();
    for (let i = 0; i < printed.length; i++) expect(Math.abs(got[i] - printed[i])).toBeLessThan(1e-6);
    expect(got).toEqual(refMultiboxDetection(PROBS.map(Math.fround), new Float32Array(16), ANCHORS.map(Math.fround), [1, 3, 4]));
    out.dispose();
  });

  it('marks low-confidence rows as background with 1 − confidence', async () => {
    const probs = [0.995, 0.2, 0.005, 0.8]; // (1, 2, 2): anchor 0 has object probability 0.005
    const anchors = [0, 0, 0.1, 0.1, 0.5, 0.5, 0.9, 0.9];
    const out = await multiboxDetection(
      tensor(probs, { shape: [1, 2, 2] }),
      tensor(new Float32Array(8), { shape: [1, 8] }),
      tensor(anchors, { shape: [1, 2, 4] }),
    );
    const got = Array.from(await out.data());
    expect(got.slice(0, 2)).toEqual([0, Math.fround(0.8)]);
    expect(got.slice(6, 8)).toEqual([-1, Math.fround(1 - Math.fround(0.005))]);
    out.dispose();
  });

  it('equals the float32 reference of d2l code on random batches (ties, overlapping anchors)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          B: fc.integer({ min: 1, max: 3 }),
          C1: fc.integer({ min: 2, max: 4 }),
          A: fc.integer({ min: 1, max: 60 }),
          seed: fc.integer(),
          thr: fc.constantFrom(0.3, 0.5, 0.7),
        }),
        async ({ B, C1, A, seed, thr }) => {
          let s = seed >>> 0;
          const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
          // probabilities on a coarse grid (ties), anchors on a grid (identical anchors), centre offsets only
          // (exp(0) = 1, so the decoded boxes are exact in float32 on any adapter)
          const probs = Array.from({ length: B * C1 * A }, () => Math.round(rnd() * 8) / 8);
          const anchors = Array.from({ length: A }, () => {
            const x = Math.round(rnd() * 4) / 8;
            const y = Math.round(rnd() * 4) / 8;
            return [x, y, x + 0.125 + Math.round(rnd() * 3) / 8, y + 0.125 + Math.round(rnd() * 3) / 8];
          }).flat();
          const offsets = Array.from({ length: B * A * 4 }, (_, i) => (i % 4 < 2 ? Math.round((rnd() - 0.5) * 8) / 4 : 0));
          const out = await multiboxDetection(
            tensor(probs, { shape: [B, C1, A] }),
            tensor(offsets, { shape: [B, 4 * A] }),
            tensor(anchors, { shape: [1, A, 4] }),
            {
              nmsThreshold: thr,
            },
          );
          const got = Array.from(await out.data());
          out.dispose();
          const want = refMultiboxDetection(probs.map(Math.fround), offsets, anchors.map(Math.fround), [B, C1, A], thr);
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('decodes size offsets like offset_inverse (within float32 rounding of exp)', async () => {
    const anchors = [0.1, 0.2, 0.5, 0.6, 0.3, 0.3, 0.4, 0.8];
    const offsets = [0.5, -1, 0.7, -0.3, -2, 1.5, -1.2, 0.4];
    const out = await multiboxDetection(
      tensor([0, 0, 0.6, 0.9], { shape: [1, 2, 2] }),
      tensor(offsets, { shape: [1, 8] }),
      tensor(anchors, { shape: [1, 2, 4] }),
      {
        nmsThreshold: 1,
      },
    );
    const got = Array.from(await out.data());
    const want = refMultiboxDetection([0, 0, 0.6, 0.9].map(Math.fround), offsets, anchors.map(Math.fround), [1, 2, 2], 1);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
    out.dispose();
  });

  it('leaves no tensors behind but its result', async () => {
    const p = tensor(PROBS, { shape: [1, 3, 4] });
    const o = tensor(new Float32Array(16), { shape: [1, 16] });
    const a = tensor(ANCHORS, { shape: [1, 4, 4] });
    const before = memory().liveTensors;
    const out = await multiboxDetection(p, o, a);
    expect(memory().liveTensors).toBe(before + 1);
    for (const t of [out, p, o, a]) t.dispose();
  });

  it('rejects bad shapes with one-line errors', async () => {
    const p = tensor(PROBS, { shape: [1, 3, 4] });
    await expect(multiboxDetection(p, tensor(new Float32Array(12), { shape: [1, 12] }), tensor(ANCHORS, { shape: [1, 4, 4] }))).rejects.toThrow(ArgumentError);
    await expect(multiboxDetection(p, tensor(new Float32Array(16), { shape: [1, 16] }), tensor(ANCHORS.slice(0, 12), { shape: [1, 3, 4] }))).rejects.toThrow(
      /anchors/,
    );
    await expect(
      multiboxDetection(p, tensor(new Float32Array(16), { shape: [1, 16] }), tensor(ANCHORS, { shape: [1, 4, 4] }), { nms: 0.5 } as never),
    ).rejects.toThrow(/unknown key/);
  });
});
