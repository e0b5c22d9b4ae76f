/**
 * The SSD pieces around the loss (whose values and gradients the op registry checks against its float64
 * reference): TinySSD's anchors as d2l prints them, d2l's cls_eval/bbox_eval on the host, one-line errors,
 * and a few training steps that lower the loss on a fixed batch without leaving GPU memory behind.
 */
import { describe, it, expect } from 'vitest';
import { tree, random, tidy, tensor, valueAndGrad, optim, mean, type Tensor } from '../../src/node';
import { tinySsd } from '../../src/models/tiny-ssd';
import { ssdLoss, clsEval, bboxEval, tinySsdAnchors } from '../../src/detection/ssd';
import { multiboxTarget } from '../../src/detection/matching';
import { syntheticDetectionSample } from '../../src/detection/synthetic';
import { detectionBatch } from '../../src/detection/batch';
import { trainStepsWithoutLeak } from '../helpers/train-steps';

const close = (got: ArrayLike<number>, want: number[], digits = 5) => want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));

describe('tinySsdAnchors', () => {
  it("d2l's printed example: (1, 5444, 4) for 256² images, scale by scale in the model's order", async () => {
    const net = tinySsd({ numClasses: 1 });
    const anchors = tinySsdAnchors(net, 256, 256);
    expect(anchors.shape).toEqual([1, 5444, 4]);
    const a = await anchors.data();
    // the first anchor: pixel (0, 0) of the 32×32 map, size 0.2, ratio 1
    close(a.subarray(0, 4), [0.5 / 32 - 0.1, 0.5 / 32 - 0.1, 0.5 / 32 + 0.1, 0.5 / 32 + 0.1]);
    // the first anchor of the second scale (16×16, size 0.37) follows the 32²·4 anchors of the first
    const o = 32 * 32 * 4 * 4;
    close(a.subarray(o, o + 4), [0.5 / 16 - 0.185, 0.5 / 16 - 0.185, 0.5 / 16 + 0.185, 0.5 / 16 + 0.185]);
    // the last four: the 1×1 map, sizes 0.88 and 0.961 at ratio 1, then 0.88 at ratios 2 and 0.5
    const s = Math.SQRT2;
    const last = [
      [0.88, 0.88],
      [0.961, 0.961],
      [0.88 * s, 0.88 / s],
      [0.88 / s, 0.88 * s],
    ].flatMap(([w, h]) => [0.5 - w / 2, 0.5 - h / 2, 0.5 + w / 2, 0.5 + h / 2]);
    close(a.subarray(a.length - 16), last);
    anchors.dispose();
  });

  it('bad arguments: one line naming the function', () => {
    const net = tinySsd({ numClasses: 1 });
    expect(() => tinySsdAnchors(net, 32, 256)).toThrow(/^tinySsdAnchors: argument 'height' is 32; expected an integer ≥ 64/);
    expect(() => tinySsdAnchors({} as never, 64, 64)).toThrow(/^tinySsdAnchors: argument 'model'/);
  });
});

describe('clsEval, bboxEval, ssdLoss arguments', () => {
  it("clsEval counts anchors whose arg-max is the label; bboxEval sums |labels − preds|·masks (d2l's)", async () => {
    const cls = tensor([
      [
        [2, 0, 1],
        [0, 3, 1],
      ],
      [
        [0, 0, 5],
        [1, 0, 0],
      ],
    ]);
    const labels = tensor(
      [
        [0, 2],
        [2, 1],
      ],
      { dtype: 'int32' },
    );
    expect(await clsEval(cls, labels).item()).toBe(2);
    const preds = tensor([
      [1, 2, 3, 4, 5, 6, 7, 8],
      [0, 0, 0, 0, 1, 1, 1, 1],
    ]);
    const targets = tensor([
      [1.5, 2, 2, 4, 0, 0, 0, 0],
      [0, 1, 0, 0, 3, 3, 3, -1],
    ]);
    const masks = tensor([
      [1, 1, 1, 1, 0, 0, 0, 0],
      [0, 0, 0, 0, 1, 1, 1, 1],
    ]);
    // 0.5 + 0 + 1 + 0 (first image, first anchor) + 2 + 2 + 2 + 2 (second image, second anchor)
    expect(await bboxEval(preds, targets, masks).item()).toBeCloseTo(9.5, 6);
    tree.dispose([cls, labels, preds, targets, masks]);
  });

  it('bad shapes and dtypes: one line naming the function and the argument', () => {
    const cls = tensor([[[1, 0]]]);
    const lab = tensor([[0]], { dtype: 'int32' });
    const box = tensor([[0, 0, 0, 0]]);
    const wrong = tensor([[0, 0, 0]]);
    expect(() => ssdLoss(cls, tensor([[0]]), box, box, box)).toThrow(/^ssdLoss: argument 'clsLabels' has shape \[1, 1\] float32; expected int32 \(1, 1\)/);
    expect(() => ssdLoss(cls, lab, box, wrong, box)).toThrow(/^ssdLoss: argument 'bboxLabels' has shape \[1, 3\] float32; expected float32 \(1, 4\)/);
    expect(() => clsEval(box, lab)).toThrow(/^clsEval: argument 'clsPreds' has shape \[1, 4\] float32; expected float32 \(B, A, C\+1\)/);
    expect(() => bboxEval(box, wrong, box)).toThrow(/^bboxEval: argument 'bboxLabels' has shape \[1, 3\]/);
    tree.dispose([cls, lab, box, wrong]);
  });
});

describe('training TinySSD', () => {
  it('SGD steps on one batch lower the loss; live GPU memory is the same after step 2 and step 8', async () => {
    const S = 64;
    const net = tinySsd({ numClasses: 4 });
    let { params, state } = net.init(random.key(0));
    const opt = optim.sgd({ lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    let optState = opt.init(params);
    const anchors = tinySsdAnchors(net, S, S);
    const batch = detectionBatch([0, 1, 2, 3].map((i) => syntheticDetectionSample(i, { size: S })));
    const [bboxLabels, bboxMasks, clsLabels] = multiboxTarget(anchors, batch.targets);
    expect(bboxLabels.shape).toEqual([4, anchors.shape[1] * 4]);
    const step = valueAndGrad(
      (p: any, st: any) => {
        const out = net.apply(p, st, batch.images, { training: true });
        return [mean(ssdLoss(out.clsPreds, clsLabels, out.bboxPreds, bboxLabels, bboxMasks)), out.state];
      },
      { hasAux: true },
    );
    const losses = await trainStepsWithoutLeak(8, () => {
      const old = state;
      const r = tidy(() => {
        const [[loss, st], grads] = step(params, state);
        const u = opt.update(grads, optState, params, { donate: true });
        return { loss, st: st as typeof state, params: u.params, optState: u.state };
      });
      tree.dispose(old);
      ({ params, optState } = r);
      state = r.st;
      return r.loss;
    });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[7]).toBeLessThan(0.7 * losses[0]);
    tree.dispose([params, state, optState.slots, anchors, batch, bboxLabels, bboxMasks, clsLabels] as Tensor[] | unknown[]);
  }, 120_000);
});
