/**
 * d2l's anchor machinery: the book's printed examples (anchors chapter) pinned, and properties of
 * multibox_target for padded batches checked against the float64 reference image by image.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { tensor, zeros, memory, tidy, ArgumentError, type Tensor } from '../../src/node';
import { multiboxPrior, multiboxPriorPyramid, clearAnchorCache, offsetBoxes, offsetInverse, assignAnchorToBbox, multiboxTarget } from '../../src/detection';
import { refAssign, refMultiboxPrior, refMultiboxTarget } from '../../src/tensor/ops/ref/boxes';
import { getDefaultDevice } from '../../src/kernels/webgpu/devices';

const vals = async (t: Tensor) => Array.from(await t.data());
const closeTo = (got: number[], want: number[], rtol: number, atol: number) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `element ${i}: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(atol + rtol * Math.abs(want[i])));
};

// the anchors chapter's example: two labelled objects and five anchors (normalised corner boxes)
const GROUND_TRUTH = [
  [0, 0.1, 0.08, 0.52, 0.92],
  [1, 0.55, 0.2, 0.9, 0.88],
];
const ANCHORS = [
  [0, 0.1, 0.2, 0.3],
  [0.15, 0.2, 0.4, 0.4],
  [0.63, 0.05, 0.88, 0.98],
  [0.66, 0.45, 0.8, 0.8],
  [0.57, 0.3, 0.92, 0.9],
];
// as the book prints them (3 significant digits); −0 entries are the masked-out background
const BOOK_OFFSETS = [0, 0, 0, 0, 1.4, 10.0, 2.59, 7.18, -1.2, 0.269, 1.68, -1.57, 0, 0, 0, 0, -0.571, -1.0, 4.17e-6, 0.626];
const BOOK_MASK = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1];
const BOOK_CLASSES = [0, 1, 2, 0, 2];

describe('multiboxPrior (d2l multibox_prior)', () => {
  it("the book's 561×728 image: shape (1, 2042040, 4) and the first anchor at pixel (250, 250)", async () => {
    const x = zeros([1, 3, 561, 728]);
    const y = multiboxPrior(x, [0.75, 0.5, 0.25], [1, 2, 0.5]);
    expect(y.shape).toEqual([1, 2042040, 4]);
    const all = await y.data();
    const row = (r: number, c: number, k: number) => Array.from(all.subarray(((r * 728 + c) * 5 + k) * 4, ((r * 728 + c) * 5 + k + 1) * 4));
    // printed: tensor([0.06, 0.07, 0.63, 0.82])
    closeTo(row(250, 250, 0), [0.06, 0.07, 0.63, 0.82], 0, 0.005);
    // every anchor of a few pixels against the float64 reference of a small map with the same rows
    for (const [r, c] of [
      [0, 0],
      [250, 250],
      [560, 727],
      [17, 600],
    ]) {
      for (let k = 0; k < 5; k++) {
        const cx = (c + 0.5) / 728;
        const cy = (r + 0.5) / 561;
        const [w, h] = [
          [0.75, 0.75],
          [0.5, 0.5],
          [0.25, 0.25],
          [0.75 * Math.SQRT2, 0.75 / Math.SQRT2],
          [0.75 / Math.SQRT2, 0.75 * Math.SQRT2],
        ][k];
        const ws = (w * 561) / 728;
        closeTo(row(r, c, k), [cx - ws / 2, cy - h / 2, cx + ws / 2, cy + h / 2], 0, 2e-7);
      }
    }
    y.dispose();
    x.dispose();
  });

  it('equals the float64 reference on small maps, and is cached per device and arguments', async () => {
    const x = zeros([2, 8, 3, 5]);
    const a = multiboxPrior(x, [0.3, 0.6], [1, 3]);
    const b = multiboxPrior(x, [0.3, 0.6], [1, 3]);
    expect(a.storage).toBe(b.storage);
    closeTo(await vals(a), Array.from(refMultiboxPrior(3, 5, [0.3, 0.6], [1, 3]).data), 1e-6, 1e-7);
    a.dispose();
    expect(await vals(b)).toHaveLength(3 * 5 * 3 * 4);
    const c = multiboxPrior(x, [0.3], [1, 3]);
    expect(c.storage).not.toBe(b.storage);
    b.dispose();
    c.dispose();
    clearAnchorCache(x.device);
    x.dispose();
  });

  it("a pyramid is the levels' anchors concatenated, level by level (TinySSD's sizes and ratios)", async () => {
    const maps = [zeros([1, 4, 8, 8]), zeros([1, 4, 4, 4]), zeros([1, 4, 1, 1])];
    const sizes = [
      [0.2, 0.272],
      [0.37, 0.447],
      [0.54, 0.619],
    ];
    const all = multiboxPriorPyramid(maps, sizes, [1, 2, 0.5]);
    expect(all.shape).toEqual([1, (64 + 16 + 1) * 4, 4]);
    const want = maps.flatMap((m, i) => Array.from(refMultiboxPrior(m.shape[2], m.shape[3], sizes[i], [1, 2, 0.5]).data));
    closeTo(await vals(all), want, 1e-6, 1e-7);
    const again = multiboxPriorPyramid(maps, sizes, [
      [1, 2, 0.5],
      [1, 2, 0.5],
      [1, 2, 0.5],
    ]);
    expect(again.storage).toBe(all.storage);
    expect(() => multiboxPriorPyramid(maps, sizes.slice(1), [1])).toThrow(/multiboxPriorPyramid: argument 'sizes' has 2 levels/);
    for (const t of [...maps, all, again]) t.dispose();
  });

  it('rejects bad arguments with one line naming the argument', () => {
    const x = zeros([4]);
    expect(() => multiboxPrior(x, [0.5], [1])).toThrow(ArgumentError);
    expect(() => multiboxPrior(x, [0.5], [1])).toThrow(/multiboxPrior: argument 'data'/);
    const y = zeros([1, 1, 2, 2]);
    expect(() => multiboxPrior(y, [], [1])).toThrow(/argument 'sizes'/);
    expect(() => multiboxPrior(y, [0.5], [0])).toThrow(/argument 'ratios'/);
    x.dispose();
    y.dispose();
  });
});

describe('multiboxTarget (d2l multibox_target)', () => {
  it("the book's example: class labels [0, 1, 2, 0, 2], masks and offsets as printed", async () => {
    const anchors = tensor([ANCHORS]);
    const labels = tensor([GROUND_TRUTH]);
    const [off, mask, cls] = multiboxTarget(anchors, labels);
    expect(off.shape).toEqual([1, 20]);
    expect(cls.dtype).toBe('int32');
    expect(await vals(cls)).toEqual(BOOK_CLASSES);
    expect(await vals(mask)).toEqual(BOOK_MASK);
    closeTo(await vals(off), BOOK_OFFSETS, 5e-3, 2e-6);
    for (const t of [anchors, labels, off, mask, cls]) t.dispose();
  });

  it('padding rows (class −1) anywhere, and images with different object counts, give each image its own result', async () => {
    const pad = [-1, 0, 0, 0, 0];
    const anchors = tensor(ANCHORS);
    // image 0: the book's two objects with padding in between; image 1: only the second object; image 2: nothing
    const labels = tensor([
      [GROUND_TRUTH[0], pad, GROUND_TRUTH[1]],
      [pad, pad, GROUND_TRUTH[1]],
      [pad, pad, pad],
    ]);
    const [off, mask, cls] = multiboxTarget(anchors, labels);
    const c = await vals(cls);
    expect(c.slice(0, 5)).toEqual(BOOK_CLASSES);
    expect(c.slice(10)).toEqual([0, 0, 0, 0, 0]);
    const o = await vals(off);
    closeTo(o.slice(0, 20), BOOK_OFFSETS, 5e-3, 2e-6);
    const [wantOff, wantMask, wantCls] = refMultiboxTarget(
      { shape: [5, 4], dtype: 'float32', data: Float64Array.from(ANCHORS.flat().map(Math.fround)) },
      { shape: [3, 3, 5], dtype: 'float32', data: Float64Array.from((await labels.data()) as Float32Array) },
      0.5,
      1e-6,
    );
    expect(c).toEqual(Array.from(wantCls.data));
    expect(await vals(mask)).toEqual(Array.from(wantMask.data));
    closeTo(o, Array.from(wantOff.data), 1e-4, 2e-6);
    for (const t of [anchors, labels, off, mask, cls]) t.dispose();
  });

  it('with no ground-truth rows at all every anchor is background', async () => {
    const anchors = tensor(ANCHORS);
    const labels = zeros([2, 0, 5]);
    const [off, mask, cls] = multiboxTarget(anchors, labels);
    expect(await vals(cls)).toEqual(new Array(10).fill(0));
    expect(await vals(mask)).toEqual(new Array(40).fill(0));
    expect(await vals(off)).toEqual(new Array(40).fill(0));
    for (const t of [anchors, labels, off, mask, cls]) t.dispose();
  });

  it('property: equals d2l run image by image on the live rows; every live box gets an anchor when A ≥ G', async () => {
    // uniform on a 2^-20 grid (fc.double favours special values, whose near-ties float32 may break differently)
    const u = (lo: number, hi: number) => fc.integer({ min: 0, max: 1 << 20 }).map((k) => lo + ((hi - lo) * k) / (1 << 20));
    const box = fc.tuple(u(0, 0.8), u(0, 0.8), u(0.01, 0.5), u(0.01, 0.5)).map(([x, y, w, h]) => [x, y, x + w, y + h].map(Math.fround));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 100 }).chain((A) =>
          fc.tuple(
            fc.array(box, { minLength: A, maxLength: A }),
            fc
              .integer({ min: 1, max: 4 })
              .chain((B) =>
                fc
                  .integer({ min: 1, max: 6 })
                  .chain((G) =>
                    fc.array(fc.array(fc.tuple(fc.integer({ min: -1, max: 4 }), box), { minLength: G, maxLength: G }), { minLength: B, maxLength: B }),
                  ),
              ),
          ),
        ),
        async ([an, imgs]) => {
          const G = imgs[0].length;
          const anchors = tensor(an);
          const targets = tensor(imgs.map((rows) => rows.map(([c, b]) => [c, ...b])));
          const [, mask, cls] = multiboxTarget(anchors, targets);
          const c = await vals(cls);
          const m = await vals(mask);
          imgs.forEach((rows, b) => {
            const live = rows.flatMap(([k], g) => (k >= 0 ? [g] : []));
            const map = refAssign(
              an,
              rows.map(([, bx]) => bx),
              live,
              0.5,
            );
            const want = map.map((g) => (g < 0 ? 0 : rows[g][0] + 1));
            expect(c.slice(b * an.length, (b + 1) * an.length)).toEqual(want);
            expect(m.slice(b * an.length * 4, (b + 1) * an.length * 4)).toEqual(want.flatMap((k) => new Array(4).fill(k > 0 ? 1 : 0)));
            if (an.length >= live.length) expect(new Set(map.filter((g) => g >= 0))).toEqual(new Set(live));
          });
          for (const t of [anchors, targets, mask, cls]) t.dispose();
          expect(G).toBeGreaterThan(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('frees everything it allocates', async () => {
    const anchors = tensor(ANCHORS);
    const labels = tensor([GROUND_TRUTH]);
    await vals(tidy(() => multiboxTarget(anchors, labels)[2]));
    const before = memory();
    for (let k = 0; k < 3; k++) {
      const outs = multiboxTarget(anchors, labels);
      await outs[2].data();
      for (const t of outs) t.dispose();
    }
    const after = memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    anchors.dispose();
    labels.dispose();
  });

  it('rejects bad arguments with one line naming the argument', () => {
    const anchors = tensor(ANCHORS);
    const labels = tensor([GROUND_TRUTH]);
    expect(() => multiboxTarget(anchors, tensor(GROUND_TRUTH))).toThrow(/multiboxTarget: argument 'targets' has shape \[2, 5\]/);
    expect(() => multiboxTarget(tensor([[[0, 0, 1, 1]], [[0, 0, 1, 1]]]), labels)).toThrow(/argument 'anchors'/);
    expect(() => multiboxTarget(anchors, labels, { iouThreshold: Number.NaN })).toThrow(/argument 'iouThreshold'/);
    expect(() => multiboxTarget(anchors, labels, { threshold: 0.5 } as never)).toThrow(ArgumentError);
    anchors.dispose();
    labels.dispose();
  });
});

describe('assignAnchorToBbox (d2l assign_anchor_to_bbox)', () => {
  it("the book's example: anchors 1, 2, 4 to objects 0, 1, 1 (the threshold pass, then the greedy pass)", async () => {
    const gt = tensor(GROUND_TRUTH.map((r) => r.slice(1)));
    const anchors = tensor(ANCHORS);
    const map = assignAnchorToBbox(gt, anchors);
    expect(await vals(map)).toEqual([-1, 0, 1, -1, 1]);
    // a box overlapping no anchor still takes one in the greedy pass (the first row of zeros)
    const far = tensor([[0.95, 0.95, 0.99, 0.99]]);
    const m2 = assignAnchorToBbox(far, anchors, 0.5);
    expect(await vals(m2)).toEqual([0, -1, -1, -1, -1]);
    for (const t of [gt, anchors, map, far, m2]) t.dispose();
  });

  it('ties of the greedy pass go to the first cell in row-major order, also past one workgroup of cells', async () => {
    // 300 anchors (more cells than threads) that no box overlaps: each box takes the first free anchor
    const anchors = tensor(
      Array.from({ length: 300 }, (_, k) => [0.001 * (k % 20), 0.001 * Math.floor(k / 20), 0.001 * (k % 20) + 0.0005, 0.001 * Math.floor(k / 20) + 0.0005]),
    );
    const gt = tensor([
      [0.9, 0.9, 0.95, 0.95],
      [0.8, 0.1, 0.85, 0.2],
    ]);
    const map = await vals(assignAnchorToBbox(gt, anchors));
    expect(map.slice(0, 3)).toEqual([0, 1, -1]);
    expect(map.slice(2).every((g) => g === -1)).toBe(true);
    const [, , cls] = multiboxTarget(
      anchors,
      tensor([
        [
          [2, 0.9, 0.9, 0.95, 0.95],
          [-1, 0, 0, 0, 0],
          [0, 0.8, 0.1, 0.85, 0.2],
        ],
      ]),
    );
    expect((await vals(cls)).slice(0, 3)).toEqual([3, 1, 0]);
  });
});

describe('offsetBoxes / offsetInverse (d2l offset_boxes / offset_inverse)', () => {
  it('inverse of each other (eps 0), with a leading batch dim and the flat (B, A·4) layout', async () => {
    const anchors = tensor(ANCHORS);
    const boxes = tensor([
      ANCHORS.map((a) => [a[0] + 0.01, a[1] - 0.02, a[2] + 0.03, a[3] + 0.01]),
      ANCHORS.map((a) => [a[0] - 0.05, a[1], a[2], a[3] + 0.04]),
    ]);
    const off = offsetBoxes(anchors, boxes, 0);
    expect(off.shape).toEqual([2, 5, 4]);
    const back = offsetInverse(anchors, off);
    closeTo(await vals(back), await vals(boxes), 0, 2e-6);
    const flat = offsetInverse(tensor([ANCHORS]), tensor(await vals(off), { shape: [2, 20] }));
    expect(flat.shape).toEqual([2, 5, 4]);
    closeTo(await vals(flat), await vals(boxes), 0, 2e-6);
    // zero offsets give the anchors back
    closeTo(await vals(offsetInverse(anchors, zeros([5, 4]))), ANCHORS.flat(), 0, 1e-7);
  });

  it("d2l's offsets of the example's assigned boxes, as printed", async () => {
    const anchors = tensor(ANCHORS);
    const assigned = tensor([ANCHORS[0], GROUND_TRUTH[0].slice(1), GROUND_TRUTH[1].slice(1), ANCHORS[3], GROUND_TRUTH[1].slice(1)]);
    const off = await vals(offsetBoxes(anchors, assigned));
    closeTo(off.slice(4, 12).concat(off.slice(16)), BOOK_OFFSETS.slice(4, 12).concat(BOOK_OFFSETS.slice(16)), 5e-3, 2e-6);
    expect(() => offsetBoxes(anchors, tensor([[0, 0, 1, 1]]))).toThrow(/offsetBoxes: argument 'assigned' has shape \[1, 4\]/);
  });
});

it('the default device serves the cache', () => {
  expect(getDefaultDevice()).toBeDefined();
});
