/**
 * Fine-tuning Segment Anything with a frozen image encoder (the write-up's recipe), runtime-neutral: the
 * CLI (`webgrad train-sam`) and the example feed it datasets and write what it reports. The encoder runs
 * once per image under noGrad and its embeddings are kept on the host (the encoder is most of the cost);
 * then either
 * - `task: 'prompt'`: the mask decoder (and, unless frozen, the prompt encoder) learns from prompts drawn
 *   from the ground-truth objects (jittered boxes on even steps, random points on odd ones; a single point
 *   asks for the multimask output) with SAM's focal + dice + IoU-head loss; or
 * - `task: 'semantic'`: a new head (./semantic-head.ts) learns 19-class logits with cross-entropy (255 ignored).
 * Both are validated with the segmentation stream metrics: the semantic head's argmax, or for the prompt task
 * every object of a validation image prompted with its box, each pixel given the class of the object whose mask
 * logit is highest (and the mean IoU of those masks).
 */
import { permutation, foldIn, key as randomKey, type Key } from '../../base/random';
import { ArgumentError } from '../../base/shape';
import { getDefaultDevice } from '../../kernels/webgpu/devices';
import type { Params, State } from '../../nn/module';
import { noGrad, valueAndGrad } from '../../tensor/autograd';
import { tensor } from '../../tensor/ops/creation';
import { add, mul } from '../../tensor/ops/elementwise';
import { indexSelect } from '../../tensor/ops/indexing';
import { crossEntropy } from '../../tensor/ops/losses';
import { argmax } from '../../tensor/ops/reduce';
import { interpolate } from '../../tensor/ops/resize';
import { memory as liveMemory, tidy, type MemoryInfo } from '../../tensor/scope';
import type { Tensor } from '../../tensor/tensor';
import * as tree from '../../tensor/tree';
import { squeeze } from '../../tensor/ops/layout';
import { adamw, type OptimizerState } from '../../train/optim/index';
import { cosineAnnealingLR } from '../../train/schedules';
import type { Dataset } from '../../train/data/datasets';
import type { SegmentationSample } from '../../segmentation/dataset';
import { StreamSegMetrics, type SegmentationScores } from '../../segmentation/metrics';
import type { SamModel, SamParams, SamState } from '../../models/sam/sam';
import { maskIou, samLoss } from './losses';
import { lowResTarget, objectMasks, promptBatch, promptRng, promptToInputFrame, samplePrompt, type MaskPrompt, type ObjectMask } from './prompts';
import { semanticHead, type SemanticHead } from './semantic-head';
import { getPreprocessShape } from '../transforms';

/** A sample: the image and its train-id mask (a SegmentationSample), optionally Cityscapes instance ids. */
export interface FinetuneSample extends SegmentationSample {
  /** H·W instance ids (label id · 1000 + k for instances): the prompt task prompts instances apart. */
  instanceIds?: Int32Array;
}

/** What {@link finetuneSam} trains. */
export type FinetuneTask = 'semantic' | 'prompt';

/** Options of {@link finetuneSam}. */
export interface SamFinetuneOptions {
  /** The model (`sam(config)`). */
  model: SamModel;
  /** Its parameters (e.g. the official checkpoint's, or random); the image encoder's are never changed. */
  params: SamParams;
  /** Its state (the prompt encoder's Fourier matrix). */
  state: SamState;
  /** 'semantic' (a new head on the embeddings) or 'prompt' (the mask decoder). */
  task: FinetuneTask;
  /** Training images (all of one size). */
  train: Dataset<FinetuneSample>;
  /** Validation images (the same size). */
  val: Dataset<FinetuneSample>;
  /** Epochs. */
  epochs: number;
  /** Images a step; default 4. */
  batch?: number;
  /** AdamW's peak learning rate (cosine-annealed to a tenth of it over the run); default 1e-3. */
  lr?: number;
  /** AdamW's weight decay; default 1e-4. */
  weightDecay?: number;
  /** Seed of the data order, the head's initialisation and the prompts; default 0. */
  seed?: number;
  /** Classes of the masks (train ids 0..numClasses−1, 255 ignored); default 19. */
  numClasses?: number;
  /** Hidden channels of the semantic head; default 64. */
  hiddenChannels?: number;
  /** Keep the prompt encoder frozen too (task 'prompt'); default true. */
  freezePromptEncoder?: boolean;
  /** Objects prompted per training image (drawn with replacement when it has fewer); default 4. */
  promptsPerImage?: number;
  /** Positive points of a point prompt; default 1 (with no negatives: the multimask output, lowest loss trained). */
  positive?: number;
  /** Negative points of a point prompt; default 0. */
  negative?: number;
  /** SAM's loss weights (task 'prompt'); default 20 : 1 : 1 (focal : dice : IoU MSE). */
  lossWeights?: { focal?: number; dice?: number; iou?: number };
  /** Box jitter as a fraction of the box side; default 0.1. */
  jitter?: number;
  /** Objects smaller than this many pixels are never prompted; default 16. */
  minArea?: number;
  /** Host bytes for cached embeddings (beyond them an image is encoded again each time); default 2 GiB. */
  cacheBytes?: number;
  /** Validation images returned for a panel each epoch; default 4. */
  panels?: number;
  /** Stop training after this many seconds (then validate); default no limit. */
  timeLimit?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Called after every epoch's validation (save checkpoints and panels here). */
  onEpoch?: (report: EpochReport) => void | Promise<void>;
}

/** A validation image's panel row: the image, predicted and true train ids. */
export interface PanelRow {
  /** RGB channel-major (3, height, width) in [0, 1]. */
  image: Float32Array;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Predicted train ids. */
  prediction: Int32Array;
  /** True train ids (255 ignored). */
  target: Uint8Array;
}

/** The trained part: what a checkpoint holds. */
export interface TrainedPart {
  /** Trained parameters: `{ head }` (semantic) or `{ mask_decoder }` (+ `prompt_encoder` when it trains). */
  params: Params;
  /** The head's BatchNorm statistics (`{ head }`), or `{}`. */
  state: State;
  /** The optimizer's state. */
  optState: OptimizerState;
}

/** What {@link finetuneSam} reports after each epoch. */
export interface EpochReport {
  /** 1-based epoch. */
  epoch: number;
  /** Updates so far. */
  step: number;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** Stream-metric scores of the validation images (meanIoU, classIoU, accuracies). */
  scores: SegmentationScores;
  /** Task 'prompt': the mean IoU of the box-prompted validation masks with their objects. */
  maskIou?: number;
  /** True when the validation mIoU is the best so far. */
  best: boolean;
  /** Seconds since training started. */
  seconds: number;
  /** The trained parameters and optimizer state now (to checkpoint; do not dispose). */
  trained: TrainedPart;
  /** Panel rows of the first validation images. */
  panel: PanelRow[];
}

/** What {@link finetuneSam} returns. */
export interface FinetuneResult {
  /** Every epoch's report (without the tensors and panels). */
  history: Omit<EpochReport, 'trained' | 'panel'>[];
  /** The trained part at the end (the caller owns it). */
  trained: TrainedPart;
  /** The semantic head (task 'semantic'). */
  head?: SemanticHead;
  /** Images encoded by the frozen encoder (each once when the cache holds them all), seconds spent there, and the host cache. */
  encoder: { images: number; seconds: number; cachedImages: number; cachedBytes: number };
  /** Live GPU tensors and bytes after the 2nd update and after the last one (equal when nothing leaks); null with < 2 updates. */
  memory: { afterStep2: MemoryInfo; afterLast: MemoryInfo } | null;
}

/** An encoded image: its embedding, train ids and (task prompt) instance ids, kept on the host within the budget. */
interface Prepared {
  emb: Float32Array;
  mask: Uint8Array;
  instanceIds?: Int32Array;
}

/**
 * Fine-tunes SAM on `train`, validating on `val` after each epoch (see the module comment). The caller keeps
 * ownership of `params` and `state`; the new head or decoder comes back in `trained`.
 */
export async function finetuneSam(o: SamFinetuneOptions): Promise<FinetuneResult> {
  const fn = 'finetuneSam';
  const { model, params, state, task, train, val, epochs } = o;
  if (task !== 'semantic' && task !== 'prompt') throw new ArgumentError(fn, 'task', `is ${JSON.stringify(task)}`, "'semantic' or 'prompt'");
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new ArgumentError(fn, 'epochs', `is ${epochs}`, 'a positive integer');
  if (!train?.length || !val?.length) throw new ArgumentError(fn, train?.length ? 'val' : 'train', 'is empty', 'a dataset with images');
  const batch = Math.min(o.batch ?? 4, train.length),
    lr = o.lr ?? 1e-3,
    seed = o.seed ?? 0,
    numClasses = o.numClasses ?? 19;
  const perImage = o.promptsPerImage ?? 4,
    positive = o.positive ?? 1,
    negative = o.negative ?? 0,
    jitter = o.jitter ?? 0.1,
    minArea = o.minArea ?? 16;
  const log = o.log ?? (() => {});
  const weights = { focalWeight: o.lossWeights?.focal ?? 20, diceWeight: o.lossWeights?.dice ?? 1, iouWeight: o.lossWeights?.iou ?? 1 };
  const S = model.config.encoder.imgSize;
  const lowRes = (4 * S) / model.config.encoder.patchSize;
  const device = tree.tensors(params)[0]?.device ?? getDefaultDevice();
  const first = await train.get(0);
  const [H, W] = [first.image.height, first.image.width];
  const [h, w] = getPreprocessShape(H, W, S);
  const [initKey, dataKey] = [foldIn(randomKey(seed), 1), foldIn(randomKey(seed), 2)] as [Key, Key];

  // ---- the frozen encoder, once per image ---------------------------------------------------------
  let encoded = 0,
    encoderSeconds = 0,
    cachedBytes = 0;
  const cacheBytes = o.cacheBytes ?? 2 ** 31;
  const cache = new Map<string, Prepared>();
  let embShape: number[] = [];
  const encode = (images: Tensor): Tensor =>
    noGrad(() =>
      tidy(() => {
        const resized = h === H && w === W ? images : interpolate(images, { size: [h, w], mode: 'bilinear', alignCorners: false });
        return model.imageEncoder(params.image_encoder, model.preprocess(mul(resized, 255)));
      }),
    );
  /** Embeddings (uploaded) and host data of a split's images: cached ones as they are, the rest decoded and encoded now. */
  async function prepared(split: string, ds: Dataset<FinetuneSample>, indices: number[]): Promise<{ emb: Tensor; items: Prepared[] }> {
    const key = (i: number) => `${split}${i}`;
    const missing = indices.filter((i) => !cache.has(key(i)));
    const fresh = new Map<number, Prepared>();
    if (missing.length) {
      const samples = await Promise.all(missing.map((i) => ds.get(i)));
      const t0 = performance.now();
      // one image at a time, as the official predictor does: at vit_b's 1024² a batch of two passes lavapipe's
      // 128 MiB binding limit inside the encoder, and one image's activations are the most the encoder needs
      const hosts: Float32Array[] = [];
      for (const s of samples) {
        const image = tensor(concatImages([s]), { shape: [1, 3, H, W] });
        const emb = encode(image);
        hosts.push((await emb.data()) as Float32Array);
        embShape = emb.shape.slice(1);
        tree.dispose([image, emb]);
      }
      encoderSeconds += (performance.now() - t0) / 1000;
      encoded += samples.length;
      missing.forEach((i, k) => {
        const s = samples[k];
        const item: Prepared = {
          emb: hosts[k],
          mask: Uint8Array.from(s.mask.data),
          instanceIds: task === 'prompt' && s.instanceIds ? Int32Array.from(s.instanceIds) : undefined,
        };
        fresh.set(i, item);
        // beyond the budget an image is decoded and encoded again whenever it is used
        const bytes = item.emb.byteLength + item.mask.byteLength + (item.instanceIds?.byteLength ?? 0);
        if (cachedBytes + bytes > cacheBytes) return;
        cache.set(key(i), item);
        cachedBytes += bytes;
      });
    }
    const n = embShape.reduce((a, b) => a * b, 1);
    const all = new Float32Array(indices.length * n);
    const items = indices.map((i, k) => {
      const c = cache.get(key(i)) ?? fresh.get(i)!;
      all.set(c.emb, k * n);
      return c;
    });
    return { emb: tensor(all, { shape: [indices.length, ...embShape] }), items };
  }
  /** The objects a prompt can point at (computed when used: a pass over the image). */
  const objectsOf = (it: Prepared): ObjectMask[] => objectMasks(it.mask, H, W, { instanceIds: it.instanceIds, minArea });

  // ---- what trains ---------------------------------------------------------------------------------
  let head: SemanticHead | undefined;
  let trainParams: Params, trainState: State;
  if (task === 'semantic') {
    head = semanticHead({ inChannels: model.config.promptEmbedDim, numClasses, hiddenChannels: o.hiddenChannels ?? 64 });
    const r = head.init(initKey);
    trainParams = { head: r.params };
    trainState = { head: r.state };
  } else {
    // a copy: the caller's decoder stays as it was (and the optimizer may donate the copy's buffers)
    const part =
      o.freezePromptEncoder === false ? { mask_decoder: params.mask_decoder, prompt_encoder: params.prompt_encoder } : { mask_decoder: params.mask_decoder };
    trainParams = tidy(() => tree.map(part, (t: Tensor) => add(t, 0)));
    trainState = {};
  }
  // cosine annealing over the whole run (to a tenth of lr): late epochs settle instead of jumping around
  const totalSteps = epochs * Math.floor(train.length / batch);
  const opt = adamw({ lr: cosineAnnealingLR(lr, { tMax: Math.max(totalSteps, 1), etaMin: lr / 10 }), weightDecay: o.weightDecay ?? 1e-4 });
  let optState = opt.init(trainParams);

  const semanticStep = valueAndGrad(
    (p: Params, s: State, emb: Tensor, masks: Tensor) => {
      const r = head!.apply(p.head as Params, s.head as State, emb, { imgSize: S, outputSize: [H, W] }, { training: true });
      return [crossEntropy(r.y, masks, { ignoreIndex: 255 }), { head: r.state }];
    },
    { hasAux: true },
  );
  const decode = (p: Params, emb: Tensor, prompts: ReturnType<typeof promptBatch>, multimask: boolean) => {
    const pe = (p.prompt_encoder ?? params.prompt_encoder) as Params;
    const { sparse, dense } = model.promptEncoder(pe, state.prompt_encoder, prompts);
    const out = model.maskDecoder(p.mask_decoder as Params, {
      imageEmbeddings: emb,
      imagePe: model.denseImagePe(state.prompt_encoder),
      sparse,
      dense,
      multimaskOutput: multimask,
    });
    return out;
  };
  // the loss is taken on the decoder's low-resolution output (4E², SAM's 256²) against targets mapped there
  const promptStep = valueAndGrad((p: Params, emb: Tensor, prompts: ReturnType<typeof promptBatch>, targets: Tensor, multimask: boolean) => {
    const out = decode(p, emb, prompts, multimask);
    return samLoss(out.masks, out.iouPred, targets, weights).loss;
  });

  // ---- validation -----------------------------------------------------------------------------------
  const metrics = new StreamSegMetrics(numClasses, { ignoreIndex: 255 });
  const panelCount = Math.min(o.panels ?? 4, val.length);
  async function validate(): Promise<{ scores: SegmentationScores; maskIou?: number; panel: PanelRow[] }> {
    metrics.reset();
    const panel: PanelRow[] = [];
    let iouSum = 0,
      iouCount = 0;
    const step = task === 'semantic' ? batch : 1;
    for (let f = 0; f < val.length; f += step) {
      const indices = Array.from({ length: Math.min(step, val.length - f) }, (_, k) => f + k);
      const { emb, items } = await prepared('val', val, indices);
      const target = tensor(Int32Array.from(items.flatMap((it) => Array.from(it.mask))), { shape: [indices.length, H, W], dtype: 'int32' });
      let classes: Tensor;
      if (task === 'semantic') {
        classes = tidy(() =>
          argmax(head!.apply(trainParams.head as Params, trainState.head as State, emb, { imgSize: S, outputSize: [H, W] }, { training: false }).y, 1),
        );
      } else {
        const objs = objectsOf(items[0]);
        if (objs.length === 0) {
          classes = tensor(new Int32Array(H * W).fill(255), { shape: [1, H, W], dtype: 'int32' });
        } else {
          const prompts = objs.map((ob) => promptToInputFrame(samplePrompt(ob.mask, H, W, promptRng(0), { positive: 0, jitter: 0 }), [H, W], S));
          const r = tidy(() => {
            const pb = promptBatch(prompts, 'box');
            const out = decode(trainParams, emb, pb, false);
            const masks = squeeze(model.postprocessMasks(out.masks, [h, w], [H, W]), 1); // [K, H, W]
            const truth = tensor(Float32Array.from(objs.flatMap((ob) => Array.from(ob.mask))), { shape: [objs.length, H, W] });
            return { owner: argmax(masks, 0), iou: maskIou(masks, truth) };
          });
          const [owner, ious] = [(await r.owner.data()) as Int32Array, (await r.iou.data()) as Float32Array];
          tree.dispose(r);
          iouSum += ious.reduce((a, b) => a + b, 0);
          iouCount += ious.length;
          classes = tensor(
            Int32Array.from(owner, (k) => objs[k].classId),
            { shape: [1, H, W], dtype: 'int32' },
          );
        }
      }
      metrics.update(classes, target);
      if (panel.length < panelCount) {
        const pred = (await classes.data()) as Int32Array;
        for (let k = 0; k < indices.length && panel.length < panelCount; k++) {
          const s = await val.get(indices[k]);
          panel.push({
            image: Float32Array.from(s.image.data),
            height: H,
            width: W,
            prediction: pred.slice(k * H * W, (k + 1) * H * W),
            target: items[k].mask,
          });
        }
      }
      tree.dispose([emb, target, classes]);
    }
    return { scores: await metrics.results(), maskIou: task === 'prompt' ? iouSum / Math.max(iouCount, 1) : undefined, panel };
  }

  // ---- training ---------------------------------------------------------------------------------------
  const history: FinetuneResult['history'] = [];
  const stepsPerEpoch = Math.floor(train.length / batch);
  let best = -Infinity,
    it = 0;
  let afterStep2: MemoryInfo | null = null,
    afterLast: MemoryInfo | null = null;
  const t0 = performance.now();
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = permutation(foldIn(dataKey, epoch), train.length);
      let lossSum = 0,
        steps = 0;
      for (let s = 0; s < stepsPerEpoch; s++, it++) {
        if (o.timeLimit && (performance.now() - t0) / 1000 > o.timeLimit) break;
        const indices = Array.from(order.subarray(s * batch, (s + 1) * batch));
        const { emb, items } = await prepared('train', train, indices);
        let l: Tensor;
        if (task === 'semantic') {
          const masks = tensor(Int32Array.from(items.flatMap((x) => Array.from(x.mask))), { shape: [indices.length, H, W], dtype: 'int32' });
          const oldState = trainState;
          const r = tidy(() => {
            const [[loss, st], g] = semanticStep(trainParams, trainState, emb, masks);
            const u = opt.update(g, optState, trainParams, { donate: true });
            return { loss, st, p: u.params, os: u.state };
          });
          tree.dispose([oldState, masks]);
          [trainParams, trainState, optState, l] = [r.p, r.st, r.os, r.loss];
        } else {
          const rng = promptRng((seed * 1_000_003 + it) >>> 0);
          const kind = it % 2 === 0 ? 'box' : 'points';
          const chosen: { b: number; ob: ObjectMask }[] = [];
          items.forEach((x, b) => {
            const objs = objectsOf(x);
            if (objs.length) for (let k = 0; k < perImage; k++) chosen.push({ b, ob: objs[Math.floor(rng() * objs.length)] });
          });
          if (chosen.length === 0) {
            emb.dispose();
            continue;
          }
          const prompts: MaskPrompt[] = chosen.map(({ ob }) => promptToInputFrame(samplePrompt(ob.mask, H, W, rng, { positive, negative, jitter }), [H, W], S));
          const multimask = kind === 'points' && positive + negative === 1;
          const idx = tensor(
            Int32Array.from(chosen, (c) => c.b),
            { shape: [chosen.length], dtype: 'int32' },
          );
          const targets = tensor(concatArrays(chosen.map((c) => lowResTarget(c.ob.mask, H, W, S, lowRes))), { shape: [chosen.length, lowRes, lowRes] });
          const pb = promptBatch(prompts, kind);
          const r = tidy(() => {
            const rep = indexSelect(emb, 0, idx);
            const [loss, g] = promptStep(trainParams, rep, pb, targets, multimask);
            const u = opt.update(g, optState, trainParams, { donate: true });
            return { loss, p: u.params, os: u.state };
          });
          tree.dispose([idx, targets, pb]);
          [trainParams, optState, l] = [r.p, r.os, r.loss];
        }
        emb.dispose();
        const v = (await l.data())[0];
        l.dispose();
        if (!Number.isFinite(v)) throw new Error(`${fn}: the loss became ${v} at step ${it + 1}`);
        lossSum += v;
        steps++;
        // buffers freed behind queued work return to the pool once the device is idle
        if (it === 1 || s === stepsPerEpoch - 1) await device.sync();
        if (it === 1) afterStep2 = liveMemory();
        afterLast = liveMemory();
        if (steps % 10 === 0 || s === stepsPerEpoch - 1) log(`epoch ${epoch + 1} step ${s + 1}/${stepsPerEpoch}: loss ${v.toFixed(4)}`);
      }
      const v = await validate();
      const isBest = v.scores.meanIoU > best;
      if (isBest) best = v.scores.meanIoU;
      const report: EpochReport = {
        epoch: epoch + 1,
        step: it,
        trainLoss: steps ? lossSum / steps : NaN,
        scores: v.scores,
        maskIou: v.maskIou,
        best: isBest,
        seconds: (performance.now() - t0) / 1000,
        trained: { params: trainParams, state: trainState, optState },
        panel: v.panel,
      };
      const { trained: _t, panel: _p, ...rest } = report;
      history.push(rest);
      await o.onEpoch?.(report);
      if (o.timeLimit && (performance.now() - t0) / 1000 > o.timeLimit) break;
    }
  } finally {
    metrics.dispose();
  }
  return {
    history,
    trained: { params: trainParams, state: trainState, optState },
    head,
    encoder: { images: encoded, seconds: encoderSeconds, cachedImages: cache.size, cachedBytes },
    memory: afterStep2 && afterLast ? { afterStep2, afterLast } : null,
  };
}

/** Float32 arrays one after the other. */
function concatArrays(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The images of same-size samples as one (B, 3, H, W) buffer. */
function concatImages(samples: readonly SegmentationSample[]): Float32Array {
  const n = samples[0].image.data.length;
  const out = new Float32Array(samples.length * n);
  samples.forEach((s, k) => out.set(s.image.data, k * n));
  return out;
}
