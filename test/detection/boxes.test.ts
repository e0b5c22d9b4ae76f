/**
 * Box ops: hand-computed values (torchvision's definitions), fast-check properties of IoU/GIoU and
 * of the format conversions, and the argument errors. The registry tests compare every op with its
 * float64 reference and check gradients by finite differences.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { tensor, zeros, valueAndGrad, sum, memory, ArgumentError, type Tensor } from '../../src/node';
import {
  boxArea,
  boxCenterToCorner,
  boxConvert,
  boxCornerToCenter,
  boxIou,
  boxIouLoss,
  boxesToNormalized,
  boxesToPixels,
  clipBoxesToImage,
  generalizedBoxIou,
  generalizedBoxIouLoss,
  removeSmallBoxes,
  type BoxFormat,
} from '../../src/detection';

const vals = async (t: Tensor) => Array.from(await t.data());
const closeTo = (got: number[], want: number[], atol = 1e-6) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `element ${i}: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(atol + 1e-5 * Math.abs(want[i])));
};

const A = [
  [0, 0, 2, 2],
  [0, 0, 1, 1],
];
const B = [
  [1, 1, 3, 3],
  [0, 0, 2, 2],
];

describe('box ops: hand-computed values', () => {
  it('boxIou and generalizedBoxIou (pairwise)', async () => {
    closeTo(await vals(boxIou(tensor(A), tensor(B))), [1 / 7, 1, 0, 0.25]);
    closeTo(await vals(generalizedBoxIou(tensor(A), tensor(B))), [1 / 7 - 2 / 9, 1, -4 / 9, 0.25]);
    expect(boxIou(tensor(A), tensor(B)).shape).toEqual([2, 2]);
    expect(boxIou(zeros([0, 4]), tensor(B)).shape).toEqual([0, 2]);
  });

  it('the GIoU and IoU losses (element by element) and their reductions', async () => {
    const b2 = tensor([
      [1, 1, 3, 3],
      [2, 2, 3, 3],
    ]);
    const giou = [1 - (1 / 7 - 2 / 9), 16 / 9];
    closeTo(await vals(generalizedBoxIouLoss(tensor(A), b2)), giou);
    closeTo(await vals(generalizedBoxIouLoss(tensor(A), b2, { reduction: 'sum' })), [giou[0] + giou[1]]);
    closeTo(await vals(generalizedBoxIouLoss(tensor(A), b2, { reduction: 'mean' })), [(giou[0] + giou[1]) / 2]);
    closeTo(await vals(boxIouLoss(tensor(A), b2)), [1 - 1 / 7, 1]);
    closeTo(await vals(generalizedBoxIouLoss(zeros([0, 4]), zeros([0, 4]), { reduction: 'mean' })), [0]);
    // leading dims are kept with 'none'
    expect(generalizedBoxIouLoss(tensor([A]), tensor([A])).shape).toEqual([1, 2]);
  });

  it('the GIoU loss has a gradient that moves a box towards its target', async () => {
    const target = tensor([[1, 1, 3, 3]]);
    const [loss, [g]] = await (async () => {
      const f = valueAndGrad((b: Tensor) => sum(generalizedBoxIouLoss(b, target)));
      const [v, gs] = f(tensor([[0, 0, 2, 2]]));
      return [await vals(v), [await vals(gs as Tensor)]];
    })();
    expect(loss[0]).toBeGreaterThan(0);
    // moving every coordinate by +step lowers the loss
    expect(g.every((d) => d < 0)).toBe(true);
  });

  it('formats, area, clipping, small boxes', async () => {
    const x = tensor([[1, 2, 5, 8]]);
    closeTo(await vals(boxConvert(x, 'xyxy', 'xywh')), [1, 2, 4, 6]);
    closeTo(await vals(boxConvert(x, 'xyxy', 'cxcywh')), [3, 5, 4, 6]);
    closeTo(await vals(boxCornerToCenter(x)), [3, 5, 4, 6]);
    closeTo(await vals(boxCenterToCorner(tensor([[3, 5, 4, 6]]))), [1, 2, 5, 8]);
    closeTo(await vals(boxConvert(tensor([[1, 2, 4, 6]]), 'xywh', 'cxcywh')), [3, 5, 4, 6]);
    closeTo(await vals(boxArea(tensor([[0, 0, 2, 3], ...A]))), [6, 4, 1]);
    closeTo(await vals(clipBoxesToImage(tensor([[-1, 2, 10, 20]]), [15, 8])), [0, 2, 8, 15]);
    closeTo(await vals(boxesToPixels(tensor([[0.1, 0.5, 1, 0.25]]), [200, 100])), [10, 100, 100, 50], 1e-5);
    closeTo(await vals(boxesToNormalized(tensor([[10, 100, 100, 50]]), [200, 100])), [0.1, 0.5, 1, 0.25]);
    const keep = await removeSmallBoxes(
      tensor([
        [0, 0, 1, 1],
        [0, 0, 0.5, 2],
        [0, 0, 2, 2],
      ]),
      1,
    );
    expect(keep.dtype).toBe('int32');
    expect(await vals(keep)).toEqual([0, 2]);
    expect(await vals(await removeSmallBoxes(zeros([0, 4]), 1))).toEqual([]);
  });

  it('rejects bad arguments with one line naming the function and the argument', () => {
    expect(() => boxIou(tensor([[0, 0, 1]]), tensor(B))).toThrow(/boxIou: argument 'boxes1' has shape \[1, 3\]; expected boxes of shape \(N, 4\)/);
    expect(() => boxIou(tensor(A), tensor([B]))).toThrow(/argument 'boxes2'/);
    expect(() => boxConvert(tensor(A), 'xyxy', 'ltrb' as BoxFormat)).toThrow(/boxConvert: argument 'outFmt' is "ltrb"/);
    expect(() => generalizedBoxIouLoss(tensor(A), tensor([B[0]]))).toThrow(/argument 'boxes2' has shape \[1, 4\]/);
    expect(() => generalizedBoxIouLoss(tensor(A), tensor(B), { reduction: 'avg' as never })).toThrow(/argument 'reduction'/);
    expect(() => generalizedBoxIouLoss(tensor(A), tensor(B), { eps: 1e-7, beta: 1 } as never)).toThrow(ArgumentError);
    expect(() => clipBoxesToImage(tensor(A), [4] as never)).toThrow(/clipBoxesToImage: argument 'size'/);
    expect(() => boxArea(tensor([1, 2, 3]))).toThrow(/boxArea: argument 'boxes'/);
    expect(() => boxesToPixels(tensor(A), [0, 100])).toThrow(
      /boxesToPixels: argument 'size' is \[0,100\]; expected an \[height, width\] pair of finite positive numbers/,
    );
  });
});

const coord = fc.integer({ min: 0, max: 1 << 16 }).map((k) => k / (1 << 12));
const cornerBox = fc.tuple(coord, coord, coord, coord).map(([a, b, c, d]) => [Math.min(a, c), Math.min(b, d), Math.max(a, c) + 0.01, Math.max(b, d) + 0.01]);

describe('box ops: memory', () => {
  it('a GIoU-loss gradient step frees everything but its results', async () => {
    const target = tensor(B);
    const x = tensor(A);
    const step = valueAndGrad((b: Tensor) => generalizedBoxIouLoss(b, target, { reduction: 'mean' }));
    const first = step(x);
    await first[0].data();
    first[0].dispose();
    (first[1] as Tensor).dispose();
    const before = memory();
    for (let k = 0; k < 3; k++) {
      const [v, g] = step(x);
      await v.data();
      v.dispose();
      (g as Tensor).dispose();
    }
    expect(memory().liveTensors).toBe(before.liveTensors);
    expect(memory().liveBytes).toBe(before.liveBytes);
    x.dispose();
    target.dispose();
  });
});

describe('box ops: properties', () => {
  it('IoU is symmetric, in [0, 1], 1 on the diagonal; GIoU ≤ IoU and in [−1, 1]', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cornerBox, { minLength: 1, maxLength: 7 }), fc.array(cornerBox, { minLength: 1, maxLength: 7 }), async (p, q) => {
        const [P, Q] = [tensor(p), tensor(q)];
        const pq = await vals(boxIou(P, Q));
        const qp = await vals(boxIou(Q, P));
        const g = await vals(generalizedBoxIou(P, Q));
        const pp = await vals(boxIou(P, P));
        p.forEach((_, i) =>
          q.forEach((_, j) => {
            const v = pq[i * q.length + j];
            expect(Math.abs(v - qp[j * p.length + i])).toBeLessThan(1e-6);
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1 + 1e-6);
            expect(g[i * q.length + j]).toBeLessThanOrEqual(v + 1e-6);
            expect(g[i * q.length + j]).toBeGreaterThanOrEqual(-1 - 1e-6);
          }),
        );
        p.forEach((_, i) => expect(Math.abs(pp[i * p.length + i] - 1)).toBeLessThan(1e-5));
        for (const t of [P, Q]) t.dispose();
      }),
      { numRuns: 20 },
    );
  });

  it('conversions round-trip between every pair of formats; removeSmallBoxes equals a host filter', async () => {
    const fmt = fc.constantFrom<BoxFormat>('xyxy', 'xywh', 'cxcywh');
    await fc.assert(
      fc.asyncProperty(fc.array(cornerBox, { minLength: 1, maxLength: 6 }), fmt, fmt, fc.constantFrom(0.5, 2, 8), async (bs, f, g, minSize) => {
        const x = tensor(bs);
        closeTo(await vals(boxConvert(boxConvert(x, f, g), g, f)), bs.flat(), 1e-5);
        const keep = await vals(await removeSmallBoxes(x, minSize));
        expect(keep).toEqual(bs.flatMap((b, i) => (b[2] - b[0] >= minSize && b[3] - b[1] >= minSize ? [i] : [])));
        x.dispose();
      }),
      { numRuns: 20 },
    );
  });
});
