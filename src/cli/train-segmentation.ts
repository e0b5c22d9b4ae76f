/**
 * `webgrad train-segmentation`: train d2l's fully convolutional network (FCN) for semantic segmentation
 * on the Cityscapes layout (19 train classes, 255 ignored).
 *   webgrad train-segmentation                           # the synthetic street scenes (written once), ImageNet ResNet-50, 2 stages, frozen
 *   webgrad train-segmentation --data ~/cityscapes       # the official leftImg8bit/ + gtFine/ folders
 *   webgrad train-segmentation --time-limit 420          # stop training after 7 minutes, then validate
 *   webgrad train-segmentation --resume runs/segmentation/last.safetensors --epochs 30
 * The backbone is the ImageNet ResNet-50 (Keras weights, caffe preprocessing) cut after --stages stages,
 * or the same network from scratch; its learning rate is --lr × --backbone-lr-scale. At 0 (the default) it
 * is frozen: it runs in eval mode and each image's features are computed once, in the first epoch, and
 * reused (kept on the host), so later epochs train only the 1×1 classifier and the bilinear-initialised
 * transposed convolution. Loss: per-pixel cross-entropy, 255 ignored. After every epoch the validation
 * images are scored with the stream metrics (overall/mean/frequency-weighted accuracy, per-class and mean
 * IoU) and OUT/val-EEE.png shows image | prediction | ground truth | overlay. OUT/last.safetensors is the
 * latest checkpoint (atomic; --resume continues from it, mid-epoch included), OUT/best.safetensors the
 * one with the best validation mIoU. A loss or weights that become non-finite stop the run (exit 1).
 */
import { join } from 'node:path';
import { init, tidy, valueAndGrad, tree, optim, memory, random, crossEntropy, argmax, tensor, type Tensor } from '../node';
import type { Params, State } from '../nn/module';
import { permutation } from '../base/random';
import { saveTrainingCheckpoint } from '../io/training-checkpoint';
import { Progress } from '../train/progress';
import { CITYSCAPES_CLASSES, IGNORE_INDEX } from '../segmentation/cityscapes-labels';
import { StreamSegMetrics, type SegmentationScores } from '../segmentation/metrics';
import { writeSegmentationPanels, type SegmentationPanelItem } from '../segmentation/node/panels';
import { parseArgs, UsageError } from './args';
import { prepareOutDir } from './paths';
import { resumeMeta, startOrResume } from './resume';
import { RunStopped, RunStops, allFinite } from './run-stops';
import { segmentationBatch, type SegmentationSample } from '../segmentation/dataset';
import { augmentSegmentation } from '../segmentation/augment';
import type { Dataset } from '../train/data/datasets';
import { openSegmentationData, parseSize } from './segmentation-data';
import { segmentationNetwork, type SegmentationNetwork } from './segmentation-network';

const USAGE = 'usage: webgrad train-segmentation [options]';
const NUM_CLASSES = CITYSCAPES_CLASSES.length;

const SPEC = {
  data: { default: '', help: 'a Cityscapes root (leftImg8bit/ and gtFine/, fine annotations); empty = the synthetic street scenes' },
  synthetic: { default: 'runs/cityscapes-synthetic', help: 'where the synthetic set is written (once, per size and seed) when --data is empty' },
  'train-images': {
    default: 160,
    help: 'training images used (the synthetic set is written with this many; of --data, this many taken evenly)',
    int: true,
    min: 1,
    max: 100_000,
  },
  'val-images': { default: 32, help: 'validation images used (as --train-images)', int: true, min: 1, max: 100_000 },
  size: { default: '96x192', help: 'HxW the images are resized to (multiples of the output stride: 8 with 2 stages, 16 with 3)' },
  backbone: {
    default: 'imagenet',
    help: 'ResNet-50 with the ImageNet weights (Keras, downloaded once), or randomly initialised',
    choices: ['imagenet', 'scratch'],
  },
  stages: { default: 2, help: 'ResNet stages kept: 2 (stride 8, 512 channels) or 3 (stride 16, 1024 channels)', int: true, min: 2, max: 3 },
  'backbone-lr-scale': {
    default: 0,
    help: "the backbone's learning rate is --lr times this; 0 = frozen (eval mode, features computed once per image and cached)",
    min: 0,
  },
  'cache-mb': {
    default: 2048,
    help: "host memory for the frozen backbone's cached features (96×192: 0.6 MB an image); images beyond it are recomputed each epoch",
    min: 0,
  },
  batch: { default: 8, help: 'batch size', int: true, min: 1, max: 1024 },
  epochs: { default: 40, help: 'epochs (a validation and a checkpoint after each)', int: true, min: 1 },
  optimizer: { default: 'adam', help: "adam, or sgd (d2l's FCN: --optimizer sgd --momentum 0 --lr 0.001 --weight-decay 1e-3)", choices: ['adam', 'sgd'] },
  lr: { default: 3e-3, help: 'learning rate of the classifier and the upsampling', min: 0, minExclusive: true },
  momentum: { default: 0.9, help: 'SGD momentum', min: 0, max: 0.999 },
  'weight-decay': { default: 1e-4, help: 'L2 weight decay', min: 0 },
  flip: { default: 0.5, help: 'probability of a horizontal flip of a training image and its mask (when the backbone trains)', min: 0, max: 1 },
  'scale-min': {
    default: 0.75,
    help: 'smallest random scale of a training image and its mask before the crop back to --size (when the backbone trains)',
    min: 0.1,
    max: 4,
  },
  'scale-max': { default: 1.25, help: 'largest random scale (1 and 1 = none)', min: 0.1, max: 4 },
  seed: { default: 0, help: 'seed for the data order, initialisation, augmentation and the synthetic set', int: true, min: 0, max: 2 ** 32 - 1 },
  resume: { default: '', help: 'resume from a training checkpoint (e.g. OUT/last.safetensors)' },
  out: { default: 'runs/segmentation', help: 'folder for checkpoints and panels' },
  panels: { default: 4, help: 'validation images shown in each panel', int: true, min: 0, max: 64 },
  'time-limit': { default: 0, help: 'stop training after this many seconds (0 = no limit), then validate', min: 0 },
} as const;

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}' (all options are --name value)`);
  if (args['scale-min'] > args['scale-max']) throw new UsageError(`--scale-min (${args['scale-min']}) must be ≤ --scale-max (${args['scale-max']})`);
  const stride = 2 ** (args.stages + 1);
  const [H, W] = parseSize('--size', args.size, stride);
  const frozen = args['backbone-lr-scale'] === 0;
  const config = {
    model: 'fcn-resnet50',
    numClasses: NUM_CLASSES,
    stages: args.stages,
    backbone: args.backbone,
    size: [H, W],
    optimizer: args.optimizer,
    frozen,
  };
  if (args.resume) {
    // refuse a wrong or corrupt checkpoint before the device opens (shapes are checked on load)
    const meta = resumeMeta(args.resume);
    if (meta.model !== config.model) throw new UsageError(`--resume '${args.resume}' holds ${meta.model ?? 'an unknown model'}, not ${config.model}`);
    for (const [flag, key] of [
      ['--stages', 'stages'],
      ['--backbone', 'backbone'],
      ['--optimizer', 'optimizer'],
    ] as const)
      if (meta[key] !== undefined && meta[key] !== config[key])
        throw new UsageError(`--resume '${args.resume}' was trained with ${flag} ${meta[key]}; give ${flag} ${meta[key]}`);
    if (meta.frozen !== undefined && meta.frozen !== frozen)
      throw new UsageError(
        `--resume '${args.resume}' was trained with ${meta.frozen ? 'a frozen backbone (--backbone-lr-scale 0)' : 'a training backbone (--backbone-lr-scale > 0)'}; give the same`,
      );
  }
  prepareOutDir('--out', args.out);
  const data = await openSegmentationData({
    data: args.data,
    synthetic: args.synthetic,
    trainImages: args['train-images'],
    valImages: args['val-images'],
    size: [H, W],
    seed: args.seed,
  });
  console.log(`data: ${data.description}; at ${H}×${W}`);
  const B = Math.min(args.batch, data.train.length);
  const stepsPerEpoch = Math.floor(data.train.length / B);
  const totalSteps = args.epochs * stepsPerEpoch;

  // ---- model and state --------------------------------------------------------------------------
  const device = await init({ sleepWhileWaiting: true });
  console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
  const [initKey, dataKey, augKey] = random.split(random.key(args.seed), 3);
  const net: SegmentationNetwork = await segmentationNetwork(
    { numClasses: NUM_CLASSES, stages: args.stages as 2 | 3, pretrained: args.backbone === 'imagenet', log: (l) => console.log(l) },
    initKey,
  );
  const opt = (args.optimizer === 'adam' ? optim.adam : optim.sgd)({
    lr: args.lr,
    ...(args.optimizer === 'sgd' ? { momentum: args.momentum } : {}),
    weightDecay: args['weight-decay'],
    groups: [{ match: 'backbone', ...(frozen ? { frozen: true } : { lrScale: args['backbone-lr-scale'] }) }],
  });
  const lastPath = join(args.out, 'last.safetensors'),
    bestPath = join(args.out, 'best.safetensors');

  const initial = { params: net.params, state: net.state, optState: opt.init(net.params) };
  let { params, state, optState, step: start, best } = await startOrResume(args.resume, initial, bestPath, 'meanIoU');
  if (args.resume) {
    console.log(
      `resumed from ${args.resume} at iteration ${start} (epoch ${Math.floor(start / stepsPerEpoch) + 1}, step ${(start % stepsPerEpoch) + 1})${Number.isFinite(best) ? `; best val mIoU so far ${best.toFixed(3)}` : ''}`,
    );
    if (start >= totalSteps)
      throw new UsageError(`--resume: '${args.resume}' is at iteration ${start} already (${args.epochs} epochs = ${totalSteps}); give more --epochs`);
  }
  const count = (t: unknown) => tree.tensors(t).reduce((s, x) => s + x.size, 0);
  console.log(
    `FCN: ResNet-50 (${args.backbone}) cut after ${args.stages} stages (stride ${stride}), ${count(params.backbone).toLocaleString()} backbone parameters (${frozen ? 'frozen' : `lr ×${args['backbone-lr-scale']}`}), ${(count(params) - count(params.backbone)).toLocaleString()} in the head; ${NUM_CLASSES} classes; batch ${B}, ${stepsPerEpoch} steps an epoch, ${args.optimizer} lr ${args.lr}`,
  );

  // ---- steps ------------------------------------------------------------------------------------
  const loss = (logits: Tensor, masks: Tensor) => crossEntropy(logits, masks, { ignoreIndex: IGNORE_INDEX });
  // augmentation on the GPU where the backbone sees every image anew (cached features are of the plain images)
  const scale = [args['scale-min'], args['scale-max']] as const;
  const augment = frozen || (!args.flip && scale[0] === 1 && scale[1] === 1) ? null : { hflip: args.flip, scale };
  // frozen: gradients of the head only, from cached features (the backbone never enters the tape)
  const headStep = valueAndGrad((head: Params, features: Tensor, masks: Tensor) => loss(net.head(head, features), masks));
  const fullStep = valueAndGrad(
    (p: Params, st: State, x: Tensor, masks: Tensor) => {
      const out = net.apply(p, st, x, { training: true });
      return [loss(out.logits, masks), out.state];
    },
    { hasAux: true },
  );
  // beyond the budget, an image's features (and mask) are computed again each time it is used
  const featureCache = new Map<string, Float32Array>();
  const maskCache = new Map<string, Int32Array>();
  const cacheBytes = args['cache-mb'] * 2 ** 20;
  let cachedBytes = 0;
  let featureShape: number[] = [];
  /**
   * Frozen-backbone features (B, C, h, w) and masks (B, H, W) of a split's images, cached per image within
   * --cache-mb: an image whose features and mask are cached is not decoded again (`loaded`: the samples of
   * `indices` where the caller has decoded them already).
   */
  async function cachedBatch(
    split: 'train' | 'val',
    ds: Dataset<SegmentationSample>,
    indices: number[],
    loaded?: SegmentationSample[],
  ): Promise<{ feats: Tensor; masks: Tensor }> {
    const key = (i: number) => `${split}${i}`;
    const missing = indices.filter((i) => !featureCache.has(key(i)) || !maskCache.has(key(i)));
    const fresh = new Map<number, { f: Float32Array; m: Int32Array }>();
    if (missing.length) {
      const batch = segmentationBatch(loaded ? missing.map((i) => loaded[indices.indexOf(i)]) : await load(ds, missing));
      const f = tidy(() => net.features(params, state, batch.images));
      const [host, masks] = [(await f.data()) as Float32Array, (await batch.masks.data()) as Int32Array];
      featureShape = f.shape.slice(1);
      tree.dispose([batch, f]);
      const n = host.length / missing.length,
        hw = masks.length / missing.length;
      missing.forEach((i, m) => {
        const item = { f: host.subarray(m * n, (m + 1) * n), m: masks.subarray(m * hw, (m + 1) * hw) };
        fresh.set(i, item);
        const bytes = item.f.byteLength + item.m.byteLength;
        if (cachedBytes + bytes > cacheBytes) return;
        featureCache.set(key(i), item.f.slice());
        maskCache.set(key(i), item.m.slice());
        cachedBytes += bytes;
      });
    }
    const get = (i: number) => fresh.get(i) ?? { f: featureCache.get(key(i))!, m: maskCache.get(key(i))! };
    const n = featureShape.reduce((a, b) => a * b, 1);
    const feats = new Float32Array(indices.length * n),
      masks = new Int32Array(indices.length * H * W);
    indices.forEach((i, k) => {
      const { f, m } = get(i);
      feats.set(f, k * n);
      masks.set(m, k * H * W);
    });
    const ft = tensor(feats, { shape: [indices.length, ...featureShape] });
    return { feats: ft, masks: tensor(masks, { shape: [indices.length, H, W], dtype: 'int32' }) };
  }

  // ---- validation -------------------------------------------------------------------------------
  const metrics = new StreamSegMetrics(NUM_CLASSES, { ignoreIndex: IGNORE_INDEX });
  async function validate(tag: string, file: string): Promise<SegmentationScores> {
    metrics.reset();
    const panel: SegmentationPanelItem[] = [];
    for (let first = 0; first < data.val.length; first += B) {
      const indices = Array.from({ length: Math.min(B, data.val.length - first) }, (_, k) => first + k);
      const shown = Math.max(0, Math.min(args.panels - panel.length, indices.length));
      // the frozen head needs only cached features and masks; the images are decoded for a full forward or a panel
      const images = !frozen || shown ? await load(data.val, indices) : [];
      const batch = frozen ? await cachedBatch('val', data.val, indices, shown ? images : undefined) : segmentationBatch(images);
      const logits = tidy(() => ('feats' in batch ? net.head(params, batch.feats) : net.apply(params, state, batch.images, { training: false }).logits));
      metrics.update(logits, batch.masks);
      if (shown) {
        const classes = tidy(() => argmax(logits, 1));
        const pred = (await classes.data()) as Int32Array;
        classes.dispose();
        for (let k = 0; k < shown; k++)
          panel.push({
            image: images[k].image.data,
            height: H,
            width: W,
            prediction: pred.slice(k * H * W, (k + 1) * H * W),
            target: Uint8Array.from(images[k].mask.data),
          });
      }
      tree.dispose([logits, batch]);
    }
    const s = await metrics.results();
    const perClass = s.classIoU
      .map((v, c) => [CITYSCAPES_CLASSES[c], v] as const)
      .filter(([, v]) => Number.isFinite(v))
      .map(([name, v]) => `${name} ${v.toFixed(2)}`)
      .join(', ');
    console.log(
      `val (${tag}, ${data.val.length} images): mIoU ${s.meanIoU.toFixed(3)}  overall acc ${s.overallAcc.toFixed(3)}  mean acc ${s.meanAcc.toFixed(3)}  freq-weighted acc ${s.freqWAcc.toFixed(3)}  class IoU: ${perClass}`,
    );
    if (!Number.isFinite(s.overallAcc)) throw stops.stopped(`the validation accuracy (${tag}) is ${s.overallAcc}: the weights diverged`);
    if (panel.length) await writeSegmentationPanels(join(args.out, file), panel, { scale: Math.max(1, Math.round(192 / H)) });
    return s;
  }

  const stops = new RunStops(args.resume, start, args.lr, bestPath, () => (Number.isFinite(best) ? `mIoU ${best.toFixed(3)}` : null));
  const checkpoint = async (path: string, step: number, extra: Record<string, unknown> = {}) =>
    saveTrainingCheckpoint(path, { params, state, optState, step, meta: { ...config, ...extra } });

  const progress = new Progress(totalSteps - start, 'train', process.stdout.isTTY ? {} : { every: 10 });
  const t0 = performance.now();
  let seen = 0;
  let memoryAt2: { tensors: number; bytes: number } | null = null;
  let done = start,
    saved = start,
    validated = -1;
  try {
    for (let it = start; it < totalSteps; it++) {
      if (args['time-limit'] && (performance.now() - t0) / 1000 > args['time-limit']) {
        console.log(`time limit reached at iteration ${it}`);
        break;
      }
      const epoch = Math.floor(it / stepsPerEpoch),
        s = it % stepsPerEpoch;
      // the epoch's order depends on the seed and the epoch only, so a resumed run sees the same batches
      const order = permutation(random.foldIn(dataKey, epoch), data.train.length);
      const indices = Array.from(order.subarray(s * B, (s + 1) * B));
      let r: { loss: Tensor; params: Params; state: State; optState: typeof optState };
      if (frozen) {
        const { feats, masks } = await cachedBatch('train', data.train, indices);
        r = tidy(() => {
          const [l, grads] = headStep({ classifier: params.classifier, upsample: params.upsample }, feats, masks);
          const u = opt.update(grads, optState, params, { donate: true });
          return { loss: l, params: u.params, state, optState: u.state };
        });
        tree.dispose([feats, masks]);
      } else {
        const plain = segmentationBatch(await load(data.train, indices));
        // the augmentation's key depends on the iteration only, so a resumed run draws the same
        const x = augment ? augmentSegmentation(plain, random.foldIn(augKey, it), augment) : plain;
        if (x !== plain) tree.dispose(plain);
        const oldState = state;
        r = tidy(() => {
          const [[l, newState], grads] = fullStep(params, state, x.images, x.masks);
          const u = opt.update(grads, optState, params, { donate: true });
          return { loss: l, params: u.params, state: newState, optState: u.state };
        });
        // a frozen BatchNorm hands the same state back
        tree.dispose(r.state === oldState ? x : [oldState, x]);
      }
      ({ params, state, optState } = r);
      seen += B;
      done = it + 1;
      const value = (await r.loss.data())[0];
      r.loss.dispose();
      stops.checkLoss(value, it + 1, progress);
      progress.tick(it - start + 1, { loss: value }, B);
      if (it - start + 1 === 2) memoryAt2 = { tensors: memory().liveTensors, bytes: memory().liveBytes };
      if ((it + 1) % stepsPerEpoch !== 0) continue;
      // the end of an epoch: validate, checkpoint, keep the best
      await stops.checkWeights([params, state], it + 1, value, progress);
      const e = epoch + 1;
      const scores = await validate(`epoch ${e}`, `val-${String(e).padStart(3, '0')}.png`);
      validated = it + 1;
      await checkpoint(lastPath, it + 1, { epoch: e });
      stops.saved(lastPath, it + 1);
      saved = it + 1;
      if (scores.meanIoU > best) {
        best = scores.meanIoU;
        await checkpoint(bestPath, it + 1, { epoch: e, meanIoU: best });
        console.log(`best val mIoU so far: ${best.toFixed(3)} → ${bestPath}`);
      }
    }
    progress.done();
    const mem = memory();
    console.log(
      `trained ${seen} images in ${((performance.now() - t0) / 1000).toFixed(1)} s; live GPU memory ${mem.liveTensors} tensors, ${(mem.liveBytes / 2 ** 20).toFixed(2)} MiB${memoryAt2 ? ` (after 2 iterations: ${memoryAt2.tensors} tensors, ${(memoryAt2.bytes / 2 ** 20).toFixed(2)} MiB)` : ''}${frozen ? `; features of ${featureCache.size} images cached (${(cachedBytes / 2 ** 20).toFixed(1)} MiB on the host)` : ''}`,
    );
    if (!(await allFinite([params, state]))) throw stops.stopped('the weights became non-finite');
    // a run cut short by --time-limit still leaves its last iteration to --resume from, and is validated
    if (done > saved) {
      await checkpoint(lastPath, done, { epoch: done / stepsPerEpoch });
      console.log(`checkpoint: ${lastPath} (iteration ${done})`);
    }
    if (validated !== done) {
      const final = await validate('final', 'val-final.png');
      if (final.meanIoU > best) {
        best = final.meanIoU;
        await checkpoint(bestPath, done, { epoch: done / stepsPerEpoch, meanIoU: best });
        console.log(`best val mIoU so far: ${best.toFixed(3)} → ${bestPath}`);
      }
    }
  } catch (e) {
    if (e instanceof RunStopped) {
      console.error(`webgrad train-segmentation: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    metrics.dispose();
  }
  return 0;
}

/** The images of a split by index (decoded on the host). */
const load = (split: Dataset<SegmentationSample>, indices: number[]): Promise<SegmentationSample[]> => Promise.all(indices.map((i) => split.get(i)));
