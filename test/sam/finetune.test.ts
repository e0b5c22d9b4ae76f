/**
 * Fine-tuning SAM (src/sam/finetune): the losses against float64 references written from their definitions
 * (torchvision's sigmoid_focal_loss, dice, thresholded-mask IoU, SAM's 20:1 combination with the lowest-loss
 * mask of a multimask prompt) and their gradients against central differences of the references; prompt
 * sampling (points inside/outside, box jitter bounds, determinism per seed, the input frame); the semantic
 * head's names and shapes; and training steps that lower the loss without leaking GPU memory.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, configureMatmul, crossEntropy, optim, randn, random, tensor, tidy, tree, valueAndGrad, type Params, type Tensor } from '../../src/node';
import { sam } from '../../src/models/sam/sam';
import { samConfig } from '../../src/models/sam/config';
import { syntheticSegmentationDataset } from '../../src/segmentation/dataset';
import { finetuneSam } from '../../src/sam/finetune/trainer';
import { diceLoss, maskIou, samLoss, sigmoidFocalLoss } from '../../src/sam/finetune/losses';
import { refDicePerMask, refFocalElements, refMaskIou, refSamLoss } from '../../src/sam/finetune/losses-ref';
import {
  jitterBox,
  lowResTarget,
  maskBox,
  objectMasks,
  promptBatch,
  promptRng,
  promptToInputFrame,
  samplePrompt,
  type PromptBox,
} from '../../src/sam/finetune/prompts';
import { semanticHead, upsampleFromGrid } from '../../src/sam/finetune/semantic-head';
import { getPreprocessShape } from '../../src/sam/transforms';
import { trainStepsWithoutLeak } from '../helpers/train-steps';

/** Seeded values in (−3, 3) kept at least 0.1 away from 0 (so a small step never flips a thresholded mask). */
function logits(n: number, seed: number): Float64Array {
  const r = promptRng(seed);
  return Float64Array.from({ length: n }, () => {
    const v = (r() * 2 - 1) * 2.9;
    return Math.abs(v) < 0.1 ? v + Math.sign(v || 1) * 0.2 : v;
  });
}
const bits = (n: number, seed: number, p = 0.4) => {
  const r = promptRng(seed);
  return Float64Array.from({ length: n }, () => (r() < p ? 1 : 0));
};
const f32 = (a: ArrayLike<number>, shape: number[]) => tensor(Float32Array.from(a), { shape });
const close = (got: number, want: number, tol = 1e-5) => expect(Math.abs(got - want), `${got} vs ${want}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want)));

describe('losses vs float64 references', () => {
  it('sigmoidFocalLoss: torchvision values (alpha 0.25, gamma 2; alpha −1 unweighted; gamma 0 = BCE), mean/sum/none', async () => {
    // worked by hand from torchvision's formula: (0.000451 + 0.016993 + 0.283060) / 3
    const pinned = sigmoidFocalLoss(tensor([2, -1, 0.5]), tensor([1, 0, 0]));
    close((await pinned.data())[0], 0.1001681, 1e-5);
    for (const seed of [1, 2, 3]) {
      const x = logits(60, seed),
        t = bits(60, seed + 10);
      for (const [alpha, gamma] of [
        [0.25, 2],
        [-1, 2],
        [0.5, 0],
        [0.25, 1.5],
      ]) {
        const want = refFocalElements(x, t, alpha, gamma);
        const none = (await sigmoidFocalLoss(f32(x, [3, 4, 5]), f32(t, [3, 4, 5]), { alpha, gamma, reduction: 'none' }).data()) as Float32Array;
        want.forEach((w, i) => close(none[i], w));
        const m = (await sigmoidFocalLoss(f32(x, [60]), f32(t, [60]), { alpha, gamma }).data())[0];
        close(m, want.reduce((a, b) => a + b, 0) / 60);
        const s = (await sigmoidFocalLoss(f32(x, [60]), f32(t, [60]), { alpha, gamma, reduction: 'sum' }).data())[0];
        close(
          s,
          want.reduce((a, b) => a + b, 0),
        );
      }
    }
  });

  it('diceLoss and maskIou per mask (two empty masks: dice 0, IoU 1)', async () => {
    const x = logits(2 * 3 * 20, 5),
      t = bits(2 * 3 * 20, 6);
    const dice = (await diceLoss(f32(x, [2, 3, 4, 5]), f32(t, [2, 3, 4, 5]), { reduction: 'none' }).data()) as Float32Array;
    expect(dice.length).toBe(6);
    refDicePerMask(x, t, 20).forEach((w, i) => close(dice[i], w));
    const iou = (await maskIou(f32(x, [6, 4, 5]), f32(t, [6, 4, 5])).data()) as Float32Array;
    refMaskIou(x, t, 20).forEach((w, i) => close(iou[i], w));
    const empty = f32(new Array(4).fill(-1), [1, 2, 2]),
      none = f32(new Array(4).fill(0), [1, 2, 2]);
    close((await maskIou(empty, none).data())[0], 1);
    close((await diceLoss(f32(new Array(4).fill(-30), [1, 2, 2]), none).data())[0], 0, 1e-6);
  });

  it('samLoss: 20·focal + dice of the lowest-loss mask per prompt, plus the IoU head MSE (fast-check over B, M, H, W)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(1, 3),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(1000),
        async (B, M, H, W, seed) => {
          const masks = logits(B * M * H * W, seed),
            targets = bits(B * H * W, seed + 1),
            iouPred = bits(B * M, seed + 2, 0.5).map((v, i) => v * 0.3 + (i % 3) * 0.2);
          const want = refSamLoss(masks, iouPred, targets, [B, M, H, W]);
          const got = tidy(() => samLoss(f32(masks, [B, M, H, W]), f32(iouPred, [B, M]), f32(targets, [B, H, W])));
          close((await got.loss.data())[0], want.loss, 1e-4);
          close((await got.focal.data())[0], want.focal, 1e-4);
          close((await got.dice.data())[0], want.dice, 1e-4);
          close((await got.iou.data())[0], want.iou, 1e-4);
          const a = (await got.actualIou.data()) as Float32Array;
          want.actualIou.forEach((w, i) => close(a[i], w));
          tree.dispose(got);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('samLoss gradients (masks and iouPred) match central differences of the float64 reference; none flows into the IoU target', async () => {
    for (const [B, M, H, W, weights] of [
      [2, 1, 4, 5, {}],
      [2, 3, 3, 4, {}],
      [1, 3, 4, 4, { focalWeight: 5, diceWeight: 2, iouWeight: 0.5 }],
    ] as const) {
      const masks = logits(B * M * H * W, B * 7 + M),
        targets = bits(B * H * W, 3),
        iouPred = Float64Array.from({ length: B * M }, (_, i) => 0.1 + 0.2 * i);
      const [, [gm, gi]] = valueAndGrad((m: Tensor, i: Tensor) => samLoss(m, i, f32(targets, [B, H, W]), weights).loss, { argnums: [0, 1] })(
        f32(masks, [B, M, H, W]),
        f32(iouPred, [B, M]),
      );
      const dm = (await gm.data()) as Float32Array,
        di = (await gi.data()) as Float32Array;
      const vm = logits(masks.length, 99).map((v) => v / 3),
        vi = logits(iouPred.length, 98).map((v) => v / 3);
      const eps = 1e-3;
      const f = (s: number) =>
        refSamLoss(
          masks.map((v, k) => v + s * vm[k]),
          iouPred.map((v, k) => v + s * vi[k]),
          targets,
          [B, M, H, W],
          weights,
        ).loss;
      const numeric = (f(eps) - f(-eps)) / (2 * eps);
      let analytic = 0;
      dm.forEach((g, k) => (analytic += g * vm[k]));
      di.forEach((g, k) => (analytic += g * vi[k]));
      expect(Math.abs(analytic - numeric), `B${B} M${M}: ${analytic} vs ${numeric}`).toBeLessThan(2e-3 * (1 + Math.abs(numeric)));
      // the IoU head's gradient is 2·(pred − actual)/(B·M): the actual IoU is a constant
      const actual = refSamLoss(masks, iouPred, targets, [B, M, H, W]).actualIou;
      const w = (weights as { iouWeight?: number }).iouWeight ?? 1;
      di.forEach((g, k) => close(g, (w * 2 * (iouPred[k] - actual[k])) / (B * M), 1e-4));
      tree.dispose([gm, gi]);
    }
  });

  it('bad inputs are one-line errors naming the function and argument', () => {
    const x = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    expect(() => sigmoidFocalLoss(x, f32([1, 0], [2]))).toThrow(/sigmoidFocalLoss: argument 'targets' has shape \[2\]/);
    expect(() => samLoss(x, f32([0.5, 0.5], [1, 2]), f32([1, 0, 1, 0], [1, 2, 2]))).toThrow(/samLoss: argument 'iouPred' has shape \[1, 2\].*\[1, 1\]/);
    expect(() => samLoss(x, f32([0.5], [1, 1]), f32([1, 0, 1, 0], [1, 4]))).toThrow(/samLoss: argument 'targets' has shape \[1, 4\]/);
    expect(() => diceLoss(x, x, { reduction: 'avg' as never })).toThrow(/diceLoss: argument 'reduction' is "avg"/);
  });
});

describe('prompts from ground-truth masks', () => {
  /** A random blob mask: a rectangle with a few holes. */
  const blob = (H: number, W: number, seed: number) => {
    const r = promptRng(seed);
    const x1 = Math.floor(r() * W),
      y1 = Math.floor(r() * H);
    const x2 = x1 + Math.floor(r() * (W - x1)),
      y2 = y1 + Math.floor(r() * (H - y1));
    const m = new Uint8Array(H * W);
    for (let y = y1; y <= y2; y++) for (let x = x1; x <= x2; x++) m[y * W + x] = r() < 0.9 || (x === x1 && y === y1) ? 1 : 0;
    return m;
  };

  it('points: positives inside, negatives outside; the box is the mask box jittered by ≤ 10% of its side, inside the image; same seed, same prompt', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.nat(10_000),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        (H, W, seed, pos, neg) => {
          const m = blob(H, W, seed);
          const p = samplePrompt(m, H, W, promptRng(seed), { positive: pos, negative: neg });
          expect(p).toEqual(samplePrompt(m, H, W, promptRng(seed), { positive: pos, negative: neg }));
          expect(p.points.length).toBe(pos + neg);
          const full = m.every((v) => v === 1);
          p.points.forEach(([x, y], k) => {
            expect(Number.isInteger(x) && Number.isInteger(y) && x >= 0 && x < W && y >= 0 && y < H).toBe(true);
            if (k < pos) expect([p.labels[k], m[y * W + x]]).toEqual([1, 1]);
            else if (full) expect(p.labels[k]).toBe(-1);
            else expect([p.labels[k], m[y * W + x]]).toEqual([0, 0]);
          });
          const [x1, y1, x2, y2] = maskBox(m, H, W)!;
          const [a, b, c, d] = p.box;
          const sx = 0.1 * (x2 - x1) + 1e-9,
            sy = 0.1 * (y2 - y1) + 1e-9;
          expect(Math.abs(a - x1) <= sx && Math.abs(c - x2) <= sx && Math.abs(b - y1) <= sy && Math.abs(d - y2) <= sy).toBe(true);
          expect(a >= 0 && b >= 0 && c <= W - 1 && d <= H - 1 && a <= c && b <= d).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the jitter uses its whole range over many draws, and different seeds give different prompts', () => {
    const box = [20, 10, 70, 50] as PromptBox;
    const r = promptRng(3);
    let lo = 0,
      hi = 0;
    for (let i = 0; i < 500; i++) {
      const d = jitterBox(box, 100, 100, r)[0] - 20;
      lo = Math.min(lo, d);
      hi = Math.max(hi, d);
    }
    expect(lo).toBeLessThan(-4.5);
    expect(hi).toBeGreaterThan(4.5);
    expect(Math.max(-lo, hi)).toBeLessThanOrEqual(5);
    const m = blob(32, 32, 1);
    expect(samplePrompt(m, 32, 32, promptRng(1), { positive: 3 })).not.toEqual(samplePrompt(m, 32, 32, promptRng(2), { positive: 3 }));
    expect(() => samplePrompt(new Uint8Array(4), 2, 2, promptRng(0))).toThrow(/samplePrompt: argument 'mask' is empty/);
  });

  it('input frame (ResizeLongestSide) and batching', async () => {
    expect(getPreprocessShape(1024, 2048, 1024)).toEqual([512, 1024]);
    expect(getPreprocessShape(375, 500, 1024)).toEqual([768, 1024]); // 375·2.048 = 768
    const p = promptToInputFrame({ box: [10, 5, 20, 15], points: [[4, 2]], labels: [1] }, [128, 256], 1024);
    expect(p).toEqual({ box: [40, 20, 80, 60], points: [[16, 8]], labels: [1] });
    const b = promptBatch([p, { box: [0, 0, 1, 1], points: [[1, 1]], labels: [0] }], 'both');
    expect(b.points!.coords.shape).toEqual([2, 1, 2]);
    expect(Array.from(await b.points!.labels.data())).toEqual([1, 0]);
    expect(Array.from(await b.boxes!.data())).toEqual([40, 20, 80, 60, 0, 0, 1, 1]);
    expect(promptBatch([p], 'box').points).toBeUndefined();
    tree.dispose(b);
  });

  it('objectMasks: instances apart, other classes one mask each, 255 and small objects dropped', () => {
    // 2×4: car instance 26001 (train id 13) twice, road (0), sky (10), ignore
    const ids = [0, 0, 13, 13, 10, 255, 13, 10];
    const inst = [7, 7, 26001, 26001, 23, 0, 26002, 23];
    const objs = objectMasks(ids, 2, 4, { instanceIds: inst });
    expect(objs.map((o) => [o.classId, o.area, Array.from(o.mask).join('')])).toEqual([
      [0, 2, '11000000'],
      [10, 2, '00001001'],
      [13, 2, '00110000'],
      [13, 1, '00000010'],
    ]);
    expect(objectMasks(ids, 2, 4, { minArea: 2 }).map((o) => [o.classId, o.area])).toEqual([
      [0, 2],
      [10, 2],
      [13, 3],
    ]);
  });
});

describe('semantic head', () => {
  it('PyTorch Sequential names and shapes; logits on the grid and at the label size; the crop follows the input frame', async () => {
    const head = semanticHead({ inChannels: 8, numClasses: 19, hiddenChannels: 6 });
    const { params, state } = head.init(random.key(0));
    expect(tree.flatten(params).map((l) => `${l.path} ${(l.value as Tensor).shape.join('x')}`)).toEqual([
      '0.weight 6x8x3x3',
      '1.weight 6',
      '1.bias 6',
      '3.weight 6x8x3x3'.replace('6x8', '6x6'),
      '4.weight 6',
      '4.bias 6',
      '6.weight 19x6x1x1',
      '6.bias 19',
    ]);
    expect(tree.flatten(state).map((l) => l.path)).toEqual([
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
      '4.running_mean',
      '4.running_var',
      '4.num_batches_tracked',
    ]);
    const x = randn(random.key(1), [2, 8, 4, 4]);
    const g = head.grid(params, state, x, { training: false }).y;
    expect(g.shape).toEqual([2, 19, 4, 4]);
    const y = head.apply(params, state, x, { imgSize: 64, outputSize: [16, 32] }, { training: false }).y;
    expect(y.shape).toEqual([2, 19, 16, 32]);
    // upsampleFromGrid: a grid constant along x only shows its top half (the image is 32×64 in the 64×64 input)
    const rows = tensor(
      Float32Array.from({ length: 16 }, (_, i) => Math.floor(i / 4)),
      { shape: [1, 1, 4, 4] },
    );
    const up = (await upsampleFromGrid(rows, 64, [32, 64]).data()) as Float32Array;
    expect(up.length).toBe(32 * 64);
    expect(Math.max(...up)).toBeLessThan(2); // rows 0..1 of the grid only
    tree.dispose([x, g, y, rows, params, state]);
  });

  it('training steps on fixed embeddings lower the cross-entropy (ignore 255) and leak nothing', async () => {
    const head = semanticHead({ inChannels: 8, numClasses: 19, hiddenChannels: 8 });
    let { params, state } = head.init(random.key(2));
    const x = randn(random.key(3), [2, 8, 4, 4]);
    const labels = Int32Array.from({ length: 2 * 16 * 32 }, (_, i) => (i % 7 === 0 ? 255 : (Math.floor(i / 32) % 16 < 8 ? 0 : 10) + (i % 32 < 16 ? 0 : 3)));
    const target = tensor(labels, { shape: [2, 16, 32], dtype: 'int32' });
    const opt = optim.adamw({ lr: 1e-2 });
    let optState = opt.init(params);
    const step = valueAndGrad(
      (p: Params, s: typeof state) => {
        const r = head.apply(p, s, x, { imgSize: 64, outputSize: [16, 32] }, { training: true });
        return [crossEntropy(r.y, target, { ignoreIndex: 255 }), r.state];
      },
      { hasAux: true },
    );
    const losses = await trainStepsWithoutLeak(8, () => {
      const old = state;
      const r = tidy(() => {
        const [[l, s], g] = step(params, state);
        const u = opt.update(g, optState, params, { donate: true });
        return { l, s, p: u.params, o: u.state };
      });
      tree.dispose(old);
      ({ p: params, s: state, o: optState } = { p: r.p, s: r.s, o: r.o });
      return r.l;
    });
    expect(losses[7]).toBeLessThan(losses[0] * 0.8);
    tree.dispose([x, target, params, state, optState]);
  });
});

/** The official fixture's tiny configuration (64² input, 8×8 embeddings of 16 channels, 32² low-res masks). */
const TINY = samConfig('vit_b', {
  encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 3, numHeads: 2, windowSize: 3, globalAttnIndexes: [1] },
  promptEmbedDim: 16,
  decoder: { depth: 2, mlpDim: 32, numHeads: 2, iouHeadHiddenDim: 16 },
});

describe('training SAM on a tiny configuration', () => {
  it('lowResTarget maps a mask into the low-res output frame (padding stays 0)', () => {
    // 4×8 image, top-left quarter inside; input 16 (→ 8×16 image in the 16×16 frame), low-res 8: rows 0..3 hold the image
    const m = Uint8Array.from({ length: 32 }, (_, i) => (i % 8 < 4 && i < 16 ? 1 : 0));
    const t = lowResTarget(m, 4, 8, 16, 8);
    const rows = Array.from({ length: 8 }, (_, r) => Array.from(t.subarray(r * 8, r * 8 + 8)).join(''));
    expect(rows).toEqual(['11110000', '11110000', '00000000', '00000000', '00000000', '00000000', '00000000', '00000000']);
  });

  it("mask-decoder steps with SAM's loss on fixed prompts lower the loss (single and multimask) and leak nothing", async () => {
    const prev = configureMatmul({ autotune: false });
    try {
      const model = sam(TINY);
      const { params, state } = model.init(random.key(0));
      const emb = randn(random.key(1), [2, 16, 8, 8]);
      const H = 32,
        W = 64;
      const masks = [0, 1].map((k) =>
        Uint8Array.from({ length: H * W }, (_, i) => (i % W >= 10 + 20 * k && i % W < 30 + 20 * k && Math.floor(i / W) > 8 ? 1 : 0)),
      );
      const rng = promptRng(4);
      const prompts = masks.map((m) => promptToInputFrame(samplePrompt(m, H, W, rng), [H, W], 64));
      const targets = tensor(Float32Array.from(masks.flatMap((m) => Array.from(lowResTarget(m, H, W, 64, 32)))), { shape: [2, 32, 32] });
      for (const [kind, multimask] of [
        ['box', false],
        ['points', true],
      ] as const) {
        const pb = promptBatch(prompts, kind);
        const opt = optim.adamw({ lr: 1e-2 });
        let trained: Params = tidy(() => tree.map({ mask_decoder: params.mask_decoder }, (t: Tensor) => add(t, 0))) as Params;
        let optState = opt.init(trained);
        const step = valueAndGrad((q: Params) => {
          const { sparse, dense } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, pb);
          const out = model.maskDecoder(q.mask_decoder as Params, {
            imageEmbeddings: emb,
            imagePe: model.denseImagePe(state.prompt_encoder),
            sparse,
            dense,
            multimaskOutput: multimask,
          });
          expect(out.masks.shape).toEqual([2, multimask ? 3 : 1, 32, 32]);
          return samLoss(out.masks, out.iouPred, targets).loss;
        });
        const losses = await trainStepsWithoutLeak(6, () => {
          const r = tidy(() => {
            const [l, g] = step(trained);
            const u = opt.update(g, optState, trained, { donate: true });
            return { l, p: u.params, o: u.state };
          });
          trained = r.p;
          optState = r.o;
          return r.l;
        });
        expect(losses[5], `${kind}: ${losses.map((v) => v.toFixed(3)).join(' ')}`).toBeLessThan(losses[0] * 0.9);
        tree.dispose([trained, optState, pb]);
      }
      tree.dispose([params, state, emb, targets]);
    } finally {
      configureMatmul(prev);
    }
  });

  it("finetuneSam: both tasks train from the frozen encoder (run once per image) and report stream-metric scores; the caller's decoder is untouched", async () => {
    const model = sam(TINY);
    const { params, state } = model.init(random.key(5));
    const before = Array.from(await ((params.mask_decoder.iou_token as Params).weight as Tensor).data());
    const train = syntheticSegmentationDataset({ length: 4, size: [32, 64], seed: 1 });
    const val = syntheticSegmentationDataset({ length: 2, size: [32, 64], seed: 1, offset: 100 });
    for (const task of ['semantic', 'prompt'] as const) {
      const epochs: number[] = [];
      const r = await finetuneSam({
        model,
        params,
        state,
        task,
        train,
        val,
        epochs: 2,
        batch: 2,
        lr: 3e-3,
        hiddenChannels: 8,
        promptsPerImage: 2,
        panels: 1,
        onEpoch: (e) => void epochs.push(e.epoch),
      });
      expect(epochs).toEqual([1, 2]);
      expect(r.encoder.images).toBe(6);
      expect(r.history).toHaveLength(2);
      for (const h of r.history) {
        expect(h.scores.classIoU).toHaveLength(19);
        expect(Number.isFinite(h.scores.meanIoU) && Number.isFinite(h.trainLoss)).toBe(true);
        if (task === 'prompt') expect(h.maskIou).toBeGreaterThanOrEqual(0);
      }
      expect(Object.keys(r.trained.params)).toEqual(task === 'semantic' ? ['head'] : ['mask_decoder']);
      expect(r.memory!.afterLast.liveTensors).toBe(r.memory!.afterStep2.liveTensors);
      tree.dispose(r.trained);
    }
    expect(Array.from(await ((params.mask_decoder.iou_token as Params).weight as Tensor).data())).toEqual(before);
    tree.dispose([params, state]);
  });
});
