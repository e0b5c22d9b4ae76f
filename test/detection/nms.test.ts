/**
 * GPU NMS against the host reference (src/detection/ref/nms.ts), exactly: random and adversarial
 * inputs (identical boxes, equal scores, IoU exactly at the threshold, degenerate boxes, empty input).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { tensor, memory, ArgumentError, type Tensor } from '../../src/node';
import { nms, nmsD2l, batchedNms, nmsPerImage, nmsTuning, type NmsOptions } from '../../src/detection/nms';
import { SMALL_MAX } from '../../src/kernels/wgsl/nms';
import { refNms, refIou32 } from '../../src/detection/ref/nms';

const ints = async (t: Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};
const boxesT = (b: number[]) => tensor(Float32Array.from(b), { shape: [b.length / 4, 4] });
const scoresT = (s: number[]) => tensor(Float32Array.from(s), { shape: [s.length] });

/** Boxes on a coarse grid (identical boxes, shared edges, exact IoUs such as 1/2) or anywhere, zero-area ones included. */
const boxArb = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }))
    .map(([x, y, w, h]) => [x, y, x + w, y + h]),
  fc
    .tuple(
      fc.float({ min: 0, max: 1, noNaN: true }),
      fc.float({ min: 0, max: 1, noNaN: true }),
      fc.float({ min: 0, max: 0.5, noNaN: true }),
      fc.float({ min: 0, max: 0.5, noNaN: true }),
    )
    .map(([x, y, w, h]) => [x, y, Math.fround(x + w), Math.fround(y + h)]),
);
const scoreArb = fc.oneof(fc.constantFrom(0, 0.25, 0.5, 0.75, 1, -0, Number.NaN), fc.float({ noNaN: true, noDefaultInfinity: true }));
const optsArb: fc.Arbitrary<NmsOptions> = fc.record(
  { scoreThreshold: fc.constantFrom(0, 0.3, 0.5), topK: fc.integer({ min: 0, max: 40 }), maxDetections: fc.integer({ min: 0, max: 20 }) },
  { requiredKeys: [] },
);
const thrArb = fc.oneof(fc.constantFrom(0, 0.1, 0.3, 0.5, 0.7, 1), fc.double({ min: 0, max: 1, noNaN: true }));
const caseArb = fc.integer({ min: 0, max: 300 }).chain((n) =>
  fc.record({
    boxes: fc.array(boxArb, { minLength: n, maxLength: n }).map((b) => b.flat().map(Math.fround)),
    scores: fc.array(scoreArb, { minLength: n, maxLength: n }).map((s) => s.map(Math.fround)),
    classes: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: n, maxLength: n }),
    thr: thrArb,
    opts: optsArb,
  }),
);

// one image of at most SMALL_MAX boxes runs in a single dispatch; the same properties through the multi-dispatch path
for (const [path, smallMax] of [
  ['single dispatch', SMALL_MAX],
  ['multi-dispatch', 0],
] as const) {
  describe(`nms on small inputs (${path} path)`, () => {
    beforeAll(() => {
      nmsTuning.smallMax = smallMax;
    });
    afterAll(() => {
      nmsTuning.smallMax = SMALL_MAX;
    });

    it('nms, nmsD2l and batchedNms equal the host reference on random boxes, scores and options', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          await expectNmsMatches(c);
          await expectNmsD2lMatches(c);
          await expectBatchedNmsMatches(c);
        }),
        { numRuns: 40 },
      );
    });

    it('sweeps every box when the top 4 × maxDetections candidates are one box repeated', async () => {
      let seed = 21;
      const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
      for (const n of [300, 1000]) {
        const b: number[] = [];
        const s: number[] = [];
        for (let i = 0; i < n; i++) {
          const top = i < 150;
          const x = top ? 0.5 : rnd() * 0.9;
          const y = top ? 0.5 : rnd() * 0.9;
          b.push(x, y, x + 0.05, y + 0.05);
          s.push(top ? 0.9 + Math.round(rnd() * 90) / 1000 : Math.round(rnd() * 800) / 1000);
        }
        const bf = b.map(Math.fround);
        const sf = s.map(Math.fround);
        for (const opts of [{ maxDetections: 10 }, { maxDetections: 30, topK: 250 }]) {
          expect(await ints(await nms(boxesT(bf), scoresT(sf), 0.5, opts))).toEqual(refNms(bf, sf, 0.5, opts)[0]);
        }
      }
    });

    it('matches the reference on up to SMALL_MAX random boxes (several tiles, few and many kept), leaking nothing', async () => {
      const before = memory().liveTensors;
      for (const [n, side] of [
        [SMALL_MAX, 0.1],
        [700, 0.5],
        [300, 0.05],
      ]) {
        let seed = n;
        const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
        const b: number[] = [];
        const s: number[] = [];
        for (let i = 0; i < n; i++) {
          const x = rnd() * 0.9;
          const y = rnd() * 0.9;
          b.push(x, y, x + 0.01 + rnd() * side, y + 0.01 + rnd() * side);
          s.push(Math.round(rnd() * 500) / 500);
        }
        const bf = b.map(Math.fround);
        const sf = s.map(Math.fround);
        const bt = boxesT(bf);
        const st = scoresT(sf);
        // maxDetections 20 sweeps tiles of 32 (most boxes of the 700 large ones suppressed)
        for (const opts of [{}, { maxDetections: 100 }, { maxDetections: 20 }, { topK: 400, scoreThreshold: 0.2 }]) {
          expect(await ints(await nms(bt, st, 0.5, opts))).toEqual(refNms(bf, sf, 0.5, opts)[0]);
          expect(await ints(await nmsD2l(bt, st, 0.3, opts))).toEqual(refNms(bf, sf, 0.3, { ...opts, rule: 'd2l' })[0]);
        }
        bt.dispose();
        st.dispose();
      }
      expect(memory().liveTensors).toBe(before);
    });
  });
}

describe('nms (torchvision semantics)', () => {
  it('equals the host reference on random boxes, scores and options', async () => {
    await fc.assert(fc.asyncProperty(caseArb, expectNmsMatches), { numRuns: 150 });
  });

  it('nmsD2l equals the reference with d2l rules', async () => {
    await fc.assert(fc.asyncProperty(caseArb, expectNmsD2lMatches), { numRuns: 60 });
  });

  it('batchedNms suppresses only inside a class', async () => {
    await fc.assert(fc.asyncProperty(caseArb, expectBatchedNmsMatches), { numRuns: 60 });
  });

  it('nmsPerImage runs each image on its own, options per image', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), caseArb, async (B, { boxes, scores, thr, opts }) => {
        const N = Math.floor(scores.length / B);
        const b = boxes.slice(0, 4 * B * N);
        const s = scores.slice(0, B * N);
        const got = await nmsPerImage(tensor(Float32Array.from(b), { shape: [B, N, 4] }), tensor(Float32Array.from(s), { shape: [B, N] }), thr, opts);
        expect(got.length).toBe(B);
        const want = refNms(b, s, thr, { ...opts, perImage: N });
        for (let i = 0; i < B; i++) expect(await ints(got[i])).toEqual(N === 0 ? [] : want[i]);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps a box whose IoU equals the threshold exactly (0.5 in float32) and drops it just below', async () => {
    const b = [0, 0, 2, 1, 0, 0, 1, 1]; // inter 1, union 2
    expect(refIou32(b.slice(0, 4), b.slice(4))).toBe(0.5);
    expect(await ints(await nms(boxesT(b), scoresT([0.9, 0.8]), 0.5))).toEqual([0, 1]);
    expect(await ints(await nms(boxesT(b), scoresT([0.9, 0.8]), 0.4999999))).toEqual([0]);
    expect(await ints(await nmsD2l(boxesT(b), scoresT([0.9, 0.8]), 0.5))).toEqual([0, 1]);
  });

  it('compares with the threshold as torchvision (double) and d2l (float32) do', async () => {
    // IoU = 1/10, which float32 rounds up to 0.10000000149: above 0.1 as a double, equal to float32(0.1)
    const b = [0, 0, 10, 1, 0, 0, 1, 1];
    expect(refIou32(b.slice(0, 4), b.slice(4))).toBe(Math.fround(0.1));
    expect(await ints(await nms(boxesT(b), scoresT([0.9, 0.8]), 0.1))).toEqual([0]);
    expect(await ints(await nmsD2l(boxesT(b), scoresT([0.9, 0.8]), 0.1))).toEqual([0, 1]);
  });

  it('decides IoUs at and one float away from the threshold as the reference does (both rules)', async () => {
    const step = (x: number, up: boolean) => {
      const v = new DataView(new ArrayBuffer(4));
      v.setFloat32(0, x);
      v.setUint32(0, v.getUint32(0) + (up ? 1 : -1));
      return v.getFloat32(0);
    };
    const floatBox = fc
      .tuple(
        fc.float({ min: 0, max: 1, noNaN: true }),
        fc.float({ min: 0, max: 1, noNaN: true }),
        fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }),
        fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }),
      )
      .map(([x, y, w, h]) => [x, y, Math.fround(x + w), Math.fround(y + h)]);
    await fc.assert(
      fc.asyncProperty(fc.array(floatBox, { minLength: 2, maxLength: 12 }), fc.nat(), fc.constantFrom(-1, 0, 1, 0.5), async (bs, pick, shift) => {
        const boxes = bs.flat();
        const n = bs.length;
        const scores = Array.from({ length: n }, (_, i) => Math.fround(1 - i / n));
        // a threshold equal to one pair's float32 IoU, one float above or below it, or halfway to the next (a double)
        const i = pick % n;
        const j = (i + 1 + (Math.floor(pick / n) % (n - 1))) % n;
        const iou = refIou32(bs[Math.min(i, j)], bs[Math.max(i, j)]);
        if (!(iou > 0 && iou < 1)) return;
        const thr = shift === 0 ? iou : shift === 0.5 ? (iou + step(iou, true)) / 2 : step(iou, shift > 0);
        for (const rule of ['torchvision', 'd2l'] as const) {
          const fn = rule === 'torchvision' ? nms : nmsD2l;
          expect(await ints(await fn(boxesT(boxes), scoresT(scores), thr))).toEqual(refNms(boxes, scores, thr, { rule })[0]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('breaks equal scores by index and suppresses identical boxes', async () => {
    const b = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 5, 5, 6, 6];
    expect(await ints(await nms(boxesT(b), scoresT([0.5, 0.5, 0.5, 0.5]), 0.5))).toEqual([0, 3]);
    expect(await ints(await nms(boxesT(b), scoresT([0.5, 0.7, 0.7, 0.5]), 0.5))).toEqual([1, 3]);
    // −0 ties with +0; NaN sorts first, as torch.sort puts it
    expect(await ints(await nms(boxesT(b), scoresT([-0, 0, Number.NaN, 0]), 0.5))).toEqual([2, 3]);
  });

  it('orders and thresholds subnormal scores exactly (compared as bits, not flushed)', async () => {
    const b = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
    const tiny = 2 ** -149;
    expect(await ints(await nms(boxesT(b), scoresT([0, tiny, -tiny]), 0.5))).toEqual([1, 0, 2]);
    expect(await ints(await nms(boxesT(b), scoresT([0, tiny, -tiny]), 0.5, { scoreThreshold: 0 }))).toEqual([1]);
  });

  it('an IoU that rounds to 0 in float32 is not above a threshold of 0 (subnormal intersection)', async () => {
    // inter = (1/14)·7·2^−149 rounds to 2^−149; inter / 6 underflows to 0 in float32, so nothing is suppressed
    const b = [0, 0, 2, 3, 0, 0, 0.0714285746216774, 9.80908925027372e-45].map(Math.fround);
    expect(refIou32(b.slice(0, 4), b.slice(4))).toBe(0);
    expect(await ints(await nms(boxesT(b), scoresT([0.9, 0.8]), 0))).toEqual([0, 1]);
    expect(await ints(await nms(boxesT(b), scoresT([0.9, 0.8]), -1e-30))).toEqual([0]);
  });

  it('degenerate boxes: 0/0 IoU suppresses nothing in torchvision, everything in d2l', async () => {
    const b = [1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 6, 6];
    expect(await ints(await nms(boxesT(b), scoresT([0.9, 0.8, 0.7]), 0.5))).toEqual([0, 1, 2]);
    expect(await ints(await nmsD2l(boxesT(b), scoresT([0.9, 0.8, 0.7]), 0.5))).toEqual([0, 2]);
  });

  it('handles empty input, one box, score threshold removing all, maxDetections 0', async () => {
    expect(await ints(await nms(boxesT([]), scoresT([]), 0.5))).toEqual([]);
    expect(await ints(await nms(boxesT([0, 0, 1, 1]), scoresT([0.3]), 0.5))).toEqual([0]);
    expect(await ints(await nms(boxesT([0, 0, 1, 1]), scoresT([0.25]), 0.5, { scoreThreshold: 0.25 }))).toEqual([]);
    expect(await ints(await nms(boxesT([0, 0, 1, 1]), scoresT([0.3]), 0.5, { maxDetections: 0 }))).toEqual([]);
    const empty = await nmsPerImage(tensor(new Float32Array(0), { shape: [2, 0, 4] }), tensor(new Float32Array(0), { shape: [2, 0] }), 0.5);
    expect(empty.map((t) => t.size)).toEqual([0, 0]);
    for (const t of empty) t.dispose();
  });

  it('matches the reference on 20k boxes across many tiles and sort blocks, and leaks no GPU memory', async () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const n = 20_000;
    const b: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = rnd() * 0.9;
      const y = rnd() * 0.9;
      b.push(x, y, x + 0.01 + rnd() * 0.1, y + 0.01 + rnd() * 0.1);
      s.push(Math.round(rnd() * 1000) / 1000);
    }
    const bf = b.map(Math.fround);
    const sf = s.map(Math.fround);
    const bt = boxesT(bf);
    const st = scoresT(sf);
    const before = memory().liveTensors;
    for (const opts of [{ maxDetections: 100 }, { topK: 5000 }, { scoreThreshold: 0.9 }]) {
      expect(await ints(await nms(bt, st, 0.5, opts))).toEqual(refNms(bf, sf, 0.5, opts)[0]);
    }
    expect(memory().liveTensors).toBe(before);
    bt.dispose();
    st.dispose();
  });

  it('falls back to the full sort when the preselected candidates run out before maxDetections', async () => {
    // the 6000 best-scored boxes are one box repeated: the candidates keep one of them
    const { bf, sf } = repeatedBest({ seed: 5, n: 10_000, repeated: 6000, at: 0.2, side: 0.05 });
    for (const opts of [{ maxDetections: 300 }, { maxDetections: 300, topK: 7000 }, { maxDetections: 1 }]) {
      expect(await ints(await nms(boxesT(bf), scoresT(sf), 0.5, opts))).toEqual(refNms(bf, sf, 0.5, opts)[0]);
    }
  });

  it('small max detections: preselection from 1024 boxes, fallback when the candidates are one box, sweep that needs more than one tile', async () => {
    // the 600 best-scored boxes: one box repeated (the 512+ candidates keep one), then spread-out boxes
    const { bf, sf } = repeatedBest({ seed: 13, n: 1500, repeated: 600, at: 0.3, side: 0.04 });
    for (const opts of [{ maxDetections: 10 }, { maxDetections: 64, topK: 1200 }, { maxDetections: 1 }, { maxDetections: 128, scoreThreshold: 0.5 }]) {
      expect(await ints(await nms(boxesT(bf), scoresT(sf), 0.5, opts))).toEqual(refNms(bf, sf, 0.5, opts)[0]);
    }
  });

  it('preselected candidates fewer than maxDetections (score threshold) are swept to their end, once each', async () => {
    let seed = 17;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const n = 1100;
    const b: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = rnd() * 0.9;
      const y = rnd() * 0.9;
      b.push(x, y, x + 0.01 + rnd() * 0.1, y + 0.01 + rnd() * 0.1);
      s.push(i % 27 === 0 ? 0.9 + Math.round(rnd() * 90) / 1000 : Math.round(rnd() * 400) / 1000);
    }
    const bf = b.map(Math.fround);
    const sf = s.map(Math.fround);
    // 41 boxes pass the score threshold: the 512 candidates are those 41, all swept (threshold 1: all kept)
    for (const thr of [1, 0.5]) {
      const opts = { maxDetections: 64, scoreThreshold: 0.5 };
      expect(await ints(await nms(boxesT(bf), scoresT(sf), thr, opts))).toEqual(refNms(bf, sf, thr, opts)[0]);
    }
  });

  it('preselection keeps every box of the boundary score bucket (few distinct scores)', async () => {
    let seed = 9;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const n = 5000;
    const b: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < n; i++) {
      // a third score 0.9 on one repeated box, the rest 0.5 spread out: the kept boxes come from the boundary bucket
      const top = i % 3 === 0;
      const x = top ? 0.4 : rnd() * 0.9;
      const y = top ? 0.4 : rnd() * 0.9;
      b.push(x, y, x + 0.03, y + 0.03);
      s.push(top ? 0.9 : 0.5);
    }
    const bf = b.map(Math.fround);
    const sf = s.map(Math.fround);
    for (const opts of [{ maxDetections: 50 }, { maxDetections: 200, scoreThreshold: 0.4 }]) {
      expect(await ints(await nms(boxesT(bf), scoresT(sf), 0.5, opts))).toEqual(refNms(bf, sf, 0.5, opts)[0]);
    }
  });

  it('nmsPerImage matches per image on a batch large enough for the global sort steps', async () => {
    let seed = 11;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const [B, N] = [3, 1500];
    const b: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < B * N; i++) {
      const x = Math.round(rnd() * 40) / 50;
      const y = Math.round(rnd() * 40) / 50;
      b.push(x, y, x + 0.02 + Math.round(rnd() * 5) / 50, y + 0.02 + Math.round(rnd() * 5) / 50);
      s.push(Math.round(rnd() * 50) / 50);
    }
    const bf = b.map(Math.fround);
    const sf = s.map(Math.fround);
    const bt = tensor(Float32Array.from(bf), { shape: [B, N, 4] });
    const st = tensor(Float32Array.from(sf), { shape: [B, N] });
    for (const opts of [{}, { topK: 700, maxDetections: 40 }, { scoreThreshold: 0.5 }]) {
      const got = await nmsPerImage(bt, st, 0.5, opts);
      const want = refNms(bf, sf, 0.5, { ...opts, perImage: N });
      for (let i = 0; i < B; i++) expect(await ints(got[i])).toEqual(want[i]);
    }
    bt.dispose();
    st.dispose();
  });

  it('rejects bad arguments with one-line errors', async () => {
    const b = boxesT([0, 0, 1, 1]);
    await expect(nms(b, scoresT([1, 2]), 0.5)).rejects.toThrow(ArgumentError);
    await expect(nms(tensor(new Float32Array(3), { shape: [1, 3] }), scoresT([1]), 0.5)).rejects.toThrow(/boxes/);
    await expect(nms(b, scoresT([1]), Number.NaN)).rejects.toThrow(/iouThreshold/);
    await expect(nms(b, scoresT([1]), 0.5, { topK: -1 })).rejects.toThrow(/topK/);
    await expect(nms(b, scoresT([1]), 0.5, { maxDet: 3 } as never)).rejects.toThrow(/unknown key/);
    await expect(batchedNms(b, scoresT([1]), scoresT([0]), 0.5)).rejects.toThrow(/idxs/);
  });
});

/**
 * n square boxes (float32 values) whose `repeated` best-scored ones are one box at (at, at): NMS keeps one
 * of those, so a preselection of the top candidates runs out and must fall back. Seeded LCG, so fixed.
 */
function repeatedBest(o: { seed: number; n: number; repeated: number; at: number; side: number }): { bf: number[]; sf: number[] } {
  let seed = o.seed;
  const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const b: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < o.n; i++) {
    const top = i < o.repeated;
    const x = top ? o.at : rnd() * 0.9;
    const y = top ? o.at : rnd() * 0.9;
    b.push(x, y, x + o.side, y + o.side);
    s.push(top ? 0.9 + Math.round(rnd() * 50) / 1000 : Math.round(rnd() * 800) / 1000);
  }
  return { bf: b.map(Math.fround), sf: s.map(Math.fround) };
}

/** One drawn NMS case (caseArb). */
type NmsCase = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** GPU nms on a drawn case equals the host reference (torchvision rules). */
async function expectNmsMatches({ boxes, scores, thr, opts }: NmsCase): Promise<void> {
  expect(await ints(await nms(boxesT(boxes), scoresT(scores), thr, opts))).toEqual(refNms(boxes, scores, thr, opts)[0]);
}

/** GPU nmsD2l equals the reference with d2l's rules. */
async function expectNmsD2lMatches({ boxes, scores, thr, opts }: NmsCase): Promise<void> {
  expect(await ints(await nmsD2l(boxesT(boxes), scoresT(scores), thr, opts))).toEqual(refNms(boxes, scores, thr, { ...opts, rule: 'd2l' })[0]);
}

/** GPU batchedNms equals the reference suppressing inside each class only. */
async function expectBatchedNmsMatches({ boxes, scores, classes, thr, opts }: NmsCase): Promise<void> {
  const idxs = tensor(Int32Array.from(classes), { shape: [classes.length] });
  const got = await ints(await batchedNms(boxesT(boxes), scoresT(scores), idxs, thr, opts));
  idxs.dispose();
  expect(got).toEqual(refNms(boxes, scores, thr, { ...opts, classes })[0]);
}
