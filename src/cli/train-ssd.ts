/**
 * `webgrad train-ssd`: train d2l's TinySSD on the built-in synthetic detection set.
 *   webgrad train-ssd                          # defaults: 64² images, batch 16, Adam lr 1e-3
 *   webgrad train-ssd --time-limit 480         # stop after 8 minutes, then evaluate
 *   webgrad train-ssd --resume runs/ssd/last.safetensors --iters 4000
 * Each iteration draws fresh images from the synthetic set (an endless stream; the held-out images come
 * from a separate stretch of it), labels the anchors on the GPU (d2l's multibox_target), and minimises the
 * batch mean of d2l's SSD loss (class cross-entropy + masked L1 on the offsets, per image). Every
 * --eval-every iterations it scores the held-out images (softmax, d2l's multibox_detection with NMS,
 * boxes clipped to the image) with Pascal VOC's mAP@0.5 and COCO's AP@[.5:.95], and writes a panel of
 * predicted and true boxes to OUT/eval-*.png. OUT/last.safetensors is the latest checkpoint (atomic;
 * --resume continues from it), OUT/best.safetensors the one with the best held-out mAP@0.5. A loss or
 * weights that become non-finite stop the run (exit 1) and leave both untouched.
 */
import { join } from 'node:path';
import { init, tidy, valueAndGrad, tree, optim, memory, random, mean, softmax, permute, stack, type Tensor } from '../node';
import { tinySsd } from '../models/tiny-ssd';
import { ssdLoss, clsEval, bboxEval, tinySsdAnchors } from '../detection/ssd';
import { multiboxTarget } from '../detection/matching';
import { DetectionEvaluator } from '../detection/metrics';
import { multiboxDetection } from '../detection/multibox-detection';
import { syntheticDetectionSample, SYNTHETIC_DETECTION_CLASSES } from '../detection/synthetic';
import { detectionBatch } from '../detection/batch';
import { augmentDetection } from '../detection/augment';
import type { DetectionSample, ImageDetections } from '../detection/types';
import { writeDetectionPanels } from '../detection/node/panels';
import { saveTrainingCheckpoint } from '../io/training-checkpoint';
import { Progress } from '../train/progress';
import { parseArgs, UsageError } from './args';
import { prepareOutDir } from './paths';
import { resumeMeta, startOrResume } from './resume';
import { RunStopped, RunStops, allFinite, dueAfter } from './run-stops';

const USAGE = 'usage: webgrad train-ssd [options]';

const CLASS_NAMES = SYNTHETIC_DETECTION_CLASSES;
/** The synthetic set's most objects an image: targets keep one shape (B, 4, 5) every step. */
const MAX_OBJECTS = 4;

const SPEC = {
  size: { default: 64, help: 'image side in pixels (TinySSD needs ≥ 64; d2l uses 256)', int: true, min: 64, max: 1024 },
  batch: { default: 16, help: 'batch size', int: true, min: 1, max: 1024 },
  iters: { default: 3000, help: 'training iterations', int: true, min: 1 },
  optimizer: { default: 'adam', help: "adam, or sgd (d2l's: --optimizer sgd --lr 0.2 --momentum 0)", choices: ['sgd', 'adam'] },
  lr: { default: 1e-3, help: 'learning rate', min: 0, minExclusive: true },
  'lr-decay': {
    default: 'none',
    help: 'none: constant; cosine: the learning rate falls to 0 along a cosine over the run (--iters, or --time-limit when that comes first)',
    choices: ['none', 'cosine'],
  },
  momentum: { default: 0.9, help: 'SGD momentum', min: 0, max: 0.999 },
  'weight-decay': { default: 5e-4, help: 'L2 weight decay (d2l: 5e-4)', min: 0 },
  flip: { default: 0.5, help: 'probability of a horizontal flip of a training image (on the GPU, boxes flipped with it)', min: 0, max: 1 },
  crop: {
    default: 0,
    help: 'probability of an SSD-style random crop of a training image (boxes clipped, those whose centre falls outside dropped)',
    min: 0,
    max: 1,
  },
  seed: { default: 0, help: 'seed for data, initialisation and augmentation', int: true, min: 0, max: 2 ** 32 - 1 },
  resume: { default: '', help: 'resume from a training checkpoint (e.g. OUT/last.safetensors)' },
  out: { default: 'runs/ssd', help: 'folder for checkpoints and panels' },
  'ckpt-every': { default: 100, help: 'checkpoint every N iterations (0 = only at the end)', int: true, min: 0 },
  'eval-every': { default: 100, help: 'evaluate every N iterations (0 = only at the end)', int: true, min: 0 },
  'eval-count': { default: 64, help: 'held-out images per evaluation', int: true, min: 1 },
  'nms-threshold': { default: 0.5, help: "NMS IoU threshold of multibox_detection (d2l's default)", min: 0, max: 1 },
  'time-limit': { default: 0, help: 'stop after this many seconds (0 = no limit), then evaluate', min: 0 },
} as const;

/** Where the held-out images start in the synthetic stream (training never gets there). */
const HELD_OUT = 1_000_000_000;

interface Scores {
  map: number;
  perClass: number[];
  cocoAp: number;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}' (all options are --name value)`);
  if (args.resume) {
    // refuse a wrong or corrupt checkpoint before the device opens (shapes are checked on load)
    const meta = resumeMeta(args.resume) as { model?: string; optimizer?: string };
    if (meta.model !== 'tiny-ssd') throw new UsageError(`--resume '${args.resume}' holds ${meta.model ?? 'an unknown model'}, not tiny-ssd`);
    if (meta.optimizer && meta.optimizer !== args.optimizer)
      throw new UsageError(`--resume '${args.resume}' was trained with --optimizer ${meta.optimizer}; give --optimizer ${meta.optimizer}`);
  }
  prepareOutDir('--out', args.out);
  const S = args.size,
    B = args.batch;
  const sample = (index: number): DetectionSample => syntheticDetectionSample(index, { size: S, seed: args.seed });

  // ---- model and state --------------------------------------------------------------------------
  const device = await init({ sleepWhileWaiting: true });
  console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
  const model = tinySsd({ numClasses: CLASS_NAMES.length });
  const [initKey, dataKey] = random.split(random.key(args.seed));
  // the fraction of the run done, by iterations or by the time limit, whichever is further (set every iteration)
  let runDone = 0;
  const lr = args['lr-decay'] === 'cosine' ? () => args.lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, runDone))) : args.lr;
  const opt =
    args.optimizer === 'adam'
      ? optim.adam({ lr, weightDecay: args['weight-decay'] })
      : optim.sgd({ lr, momentum: args.momentum, weightDecay: args['weight-decay'] });
  const meta = { model: 'tiny-ssd', numClasses: CLASS_NAMES.length, classes: CLASS_NAMES, size: S, optimizer: args.optimizer };
  const lastPath = join(args.out, 'last.safetensors'),
    bestPath = join(args.out, 'best.safetensors');

  const initial = model.init(initKey);
  let { params, state, optState, step: start, best } = await startOrResume(args.resume, { ...initial, optState: opt.init(initial.params) }, bestPath, 'map');
  if (args.resume) {
    console.log(`resumed from ${args.resume} at iteration ${start}${Number.isFinite(best) ? `; best held-out mAP@0.5 so far ${best.toFixed(3)}` : ''}`);
    if (start >= args.iters) throw new UsageError(`--resume: '${args.resume}' is at iteration ${start} already; give --iters > ${start}`);
  }
  // the anchors depend only on the image size: made once, kept for the whole run
  const anchors = tinySsdAnchors(model, S, S);
  const nParams = tree.tensors(params).reduce((s, t) => s + t.size, 0);
  console.log(
    `TinySSD: ${nParams.toLocaleString()} parameters, ${anchors.shape[1]} anchors per ${S}² image, ${CLASS_NAMES.length} classes; batch ${B}, ${args.optimizer} lr ${args.lr}, ${args.iters} iterations`,
  );

  const step = valueAndGrad(
    (p: any, st: any, x: Tensor, bboxLabels: Tensor, bboxMasks: Tensor, clsLabels: Tensor) => {
      const out = model.apply(p, st, x, { training: true });
      const loss = mean(ssdLoss(out.clsPreds, clsLabels, out.bboxPreds, bboxLabels, bboxMasks));
      // d2l's training figures: correct anchor classes and the summed absolute offset error
      const figures = [clsEval(out.clsPreds, clsLabels), bboxEval(out.bboxPreds, bboxLabels, bboxMasks)];
      return [loss, { state: out.state, figures }];
    },
    { hasAux: true },
  );

  async function evaluate(iteration: number): Promise<Scores> {
    const ev = new DetectionEvaluator({ numClasses: CLASS_NAMES.length, iouThreshold: 0.5 });
    const panel: { image: Float32Array; height: number; width: number; detections: ImageDetections; groundTruth: DetectionSample }[] = [];
    const A = anchors.shape[1];
    for (let first = 0; first < args['eval-count']; first += B) {
      const samples = Array.from({ length: Math.min(B, args['eval-count'] - first) }, (_, k) => sample(HELD_OUT + first + k));
      const batch = detectionBatch(samples, { maxObjects: MAX_OBJECTS });
      const [probs, offsets] = tidy(() => {
        const out = model.apply(params, state, batch.images, { training: false });
        return [permute(softmax(out.clsPreds, 2), [0, 2, 1]), out.bboxPreds];
      });
      tree.dispose(batch);
      const rows = await multiboxDetection(probs, offsets, anchors, { nmsThreshold: args['nms-threshold'] });
      const data = (await rows.data()) as Float32Array;
      tree.dispose([probs, offsets, rows]);
      samples.forEach((s, b) => {
        const dets = detectionsOf(data, b, A);
        ev.add(dets, { boxes: s.boxes, labels: s.labels });
        if (panel.length < 8) panel.push({ image: s.image, height: S, width: S, detections: dets, groundTruth: s });
      });
    }
    const m = ev.compute();
    const scores: Scores = { map: m.map, perClass: m.perClass.map((c) => c.ap), cocoAp: m.cocoAp };
    const tag = iteration < 0 ? 'final' : `iter ${iteration}`;
    console.log(
      `eval (${tag}, ${args['eval-count']} held-out): mAP@0.5 ${scores.map.toFixed(3)}  COCO AP@[.5:.95] ${scores.cocoAp.toFixed(3)}  per class ${scores.perClass.map((v, i) => `${CLASS_NAMES[i]} ${v.toFixed(3)}`).join(', ')}`,
    );
    if (!Number.isFinite(scores.map))
      throw stops.stopped(`the held-out mAP ${iteration < 0 ? 'at the end' : `at iteration ${iteration}`} is ${scores.map}: the weights diverged`);
    const name = iteration < 0 ? 'eval-final.png' : `eval-${String(iteration).padStart(6, '0')}.png`;
    await writeDetectionPanels(join(args.out, name), panel, { classNames: CLASS_NAMES, scale: Math.max(1, Math.round(192 / S)) });
    return scores;
  }

  const stops = new RunStops(args.resume, start, args.lr, bestPath, () => (Number.isFinite(best) ? `mAP@0.5 ${best.toFixed(3)}` : null));

  // a line every 10 iterations in logs (the default, every 1/20 of --iters, is rare with a --time-limit)
  const progress = new Progress(args.iters - start, 'train', process.stdout.isTTY ? {} : { every: 10 });
  const t0 = performance.now();
  let seen = 0;
  let memoryAt2: { tensors: number; bytes: number } | null = null;
  let done = start,
    saved = start;
  try {
    for (let it = start; it < args.iters; it++) {
      if (args['time-limit'] && (performance.now() - t0) / 1000 > args['time-limit']) {
        console.log(`time limit reached at iteration ${it}`);
        break;
      }
      const elapsed = (performance.now() - t0) / 1000;
      runDone = Math.max(it / args.iters, args['time-limit'] ? elapsed / args['time-limit'] : 0);
      const key = random.foldIn(dataKey, it);
      const samples = Array.from({ length: B }, (_, k) => sample(it * B + k));
      const plain = detectionBatch(samples, { maxObjects: MAX_OBJECTS });
      const batch = args.flip || args.crop ? augmentDetection(plain, key, { hflip: args.flip, crop: args.crop }) : plain;
      if (batch !== plain) tree.dispose(plain);
      const [bboxLabels, bboxMasks, clsLabels] = multiboxTarget(anchors, batch.targets);
      const oldState = state;
      const r = tidy(() => {
        const [[loss, aux], grads] = step(params, state, batch.images, bboxLabels, bboxMasks, clsLabels);
        const u = opt.update(grads, optState, params, { donate: true });
        // one read-back a step: the loss and d2l's two training figures
        return { values: stack([loss, ...(aux.figures as Tensor[])]), state: aux.state, params: u.params, optState: u.state };
      });
      tree.dispose([oldState, batch, bboxLabels, bboxMasks, clsLabels]);
      ({ params, state, optState } = r);
      seen += B;
      done = it + 1;
      const [loss, correct, absError] = await r.values.data();
      r.values.dispose();
      stops.checkLoss(loss, it + 1, progress);
      // as d2l: class error over all anchors, offset error averaged over all A·4 offsets of the batch
      const A = anchors.shape[1];
      progress.tick(it - start + 1, { loss, 'cls err': 1 - correct / (B * A), 'bbox mae': absError / (B * A * 4), lr: typeof lr === 'number' ? lr : lr() }, B);
      if (it - start + 1 === 2) memoryAt2 = { tensors: memory().liveTensors, bytes: memory().liveBytes };
      const { evalDue, ckptDue } = dueAfter(it + 1, args.iters, args['eval-every'], args['ckpt-every']);
      if (!evalDue && !ckptDue) continue;
      await stops.checkWeights([params, state], it + 1, loss, progress);
      const scores = evalDue ? await evaluate(it + 1) : null;
      if (ckptDue) {
        await saveTrainingCheckpoint(lastPath, { params, state, optState, step: it + 1, meta });
        stops.saved(lastPath, it + 1);
        saved = it + 1;
      }
      if (scores && scores.map > best) {
        best = scores.map;
        await saveTrainingCheckpoint(bestPath, { params, state, optState, step: it + 1, meta: { ...meta, map: scores.map } });
        console.log(`best held-out mAP@0.5 so far: ${best.toFixed(3)} → ${bestPath}`);
      }
    }
    progress.done();
    const mem = memory();
    console.log(
      `trained ${seen} images in ${((performance.now() - t0) / 1000).toFixed(1)} s; live GPU memory ${mem.liveTensors} tensors, ${(mem.liveBytes / 2 ** 20).toFixed(2)} MiB${memoryAt2 ? ` (after 2 iterations: ${memoryAt2.tensors} tensors, ${(memoryAt2.bytes / 2 ** 20).toFixed(2)} MiB)` : ''}`,
    );
    if (!(await allFinite([params, state]))) throw stops.stopped('the weights became non-finite');
    // a run cut short by --time-limit still leaves its last iteration to --resume from
    if (done > saved) {
      await saveTrainingCheckpoint(lastPath, { params, state, optState, step: done, meta });
      console.log(`checkpoint: ${lastPath} (iteration ${done})`);
    }
    const final = await evaluate(-1);
    if (final.map > best) {
      best = final.map;
      await saveTrainingCheckpoint(bestPath, { params, state, optState, step: done, meta: { ...meta, map: final.map } });
      console.log(`best held-out mAP@0.5 so far: ${best.toFixed(3)} → ${bestPath}`);
    }
  } catch (e) {
    if (e instanceof RunStopped) {
      console.error(`webgrad train-ssd: ${e.message}`);
      return 1;
    }
    throw e;
  }
  return 0;
}

/** Image `b`'s detections from multiboxDetection's rows (B, A, 6): rows with a class ≥ 0, boxes clipped to the image. */
function detectionsOf(rows: Float32Array, b: number, A: number): ImageDetections {
  const boxes: number[] = [],
    scores: number[] = [],
    labels: number[] = [];
  for (let r = 0; r < A; r++) {
    const o = (b * A + r) * 6;
    if (rows[o] < 0) continue;
    const clip = (v: number) => Math.min(1, Math.max(0, v));
    const [x1, y1, x2, y2] = [clip(rows[o + 2]), clip(rows[o + 3]), clip(rows[o + 4]), clip(rows[o + 5])];
    if (!(x2 > x1 && y2 > y1)) continue; // entirely outside the image
    labels.push(rows[o]);
    scores.push(rows[o + 1]);
    boxes.push(x1, y1, x2, y2);
  }
  return { boxes: Float32Array.from(boxes), scores: Float32Array.from(scores), labels: Int32Array.from(labels) };
}
