/**
 * `webgrad train-sam`: fine-tune Segment Anything with its image encoder frozen, on Cityscapes or the synthetic
 * street scenes in the same layout (the write-up's recipe).
 *   webgrad train-sam                                        # synthetic scenes, a small random-init SAM, semantic head
 *   webgrad train-sam --task prompt                          # train the mask decoder from ground-truth prompts
 *   webgrad train-sam --model vit_b --checkpoint sam_vit_b_01ec64.pth --data ~/cityscapes
 * The encoder runs once per image (no gradient) and its embeddings are kept on the host. `--task semantic` trains
 * conv–BN–ReLU ×2 + 1×1 layers on the embeddings for the 19 train classes (cross-entropy, 255 ignored);
 * `--task prompt` trains the mask decoder with jittered boxes and random points drawn from the ground-truth objects
 * (focal + dice 20:1 + the IoU head's MSE). After every epoch the validation images are scored with the stream
 * metrics (mIoU per class; for prompts every object is prompted with its box), OUT/val-EEE.png shows image |
 * prediction | ground truth | overlay, OUT/last.safetensors holds the trained part and OUT/best.safetensors the
 * best validation mIoU's (both atomic).
 */
import { join } from 'node:path';
import { saveTrainingCheckpoint } from '../io/training-checkpoint';
import { CITYSCAPES_CLASSES } from '../segmentation/cityscapes-labels';
import { writeSegmentationPanels } from '../segmentation/node/panels';
import { samConfig, SAM_CONFIGS, type SamConfig } from '../models/sam/config';
import { parseArgs, UsageError } from './args';
import { checkInputFile, prepareOutDir } from './paths';
import { openSegmentationData, parseSize } from './segmentation-data';

const USAGE = 'usage: webgrad train-sam [options]';

/** The small random-init model this machine trains in minutes: a 2-block ViT at 256², 64-wide embeddings on a 16×16 grid. */
export const TINY_SAM: SamConfig = samConfig('vit_b', {
  encoder: { imgSize: 256, embedDim: 64, depth: 2, numHeads: 2, windowSize: 8, globalAttnIndexes: [1] },
  promptEmbedDim: 64,
  decoder: { mlpDim: 256, iouHeadHiddenDim: 64 },
});

const SPEC = {
  task: {
    default: 'semantic',
    help: 'semantic: a new 19-class head on the frozen embeddings; prompt: the mask decoder from ground-truth prompts',
    choices: ['semantic', 'prompt'],
  },
  model: {
    default: 'tiny',
    help: 'tiny: a small random-init SAM (256² input); vit_b/vit_l/vit_h: the published architecture (1024² input)',
    choices: ['tiny', 'vit_b', 'vit_l', 'vit_h'],
  },
  checkpoint: { default: '', help: 'the official weights (e.g. sam_vit_b_01ec64.pth, with --model vit_b); empty = random initialisation' },
  data: { default: '', help: 'a Cityscapes root (leftImg8bit/ and gtFine/); empty = the synthetic street scenes' },
  synthetic: {
    default: 48,
    help: 'training images of the synthetic set (written once under --synthetic-dir) when --data is empty; of --data, this many taken evenly',
    int: true,
    min: 1,
    max: 100_000,
  },
  'synthetic-dir': { default: 'runs/cityscapes-synthetic', help: 'where the synthetic set is written' },
  'val-images': { default: 16, help: 'validation images used', int: true, min: 1, max: 100_000 },
  size: { default: '', help: 'HxW the images are resized to; default 128x256 (tiny) or 512x1024' },
  epochs: { default: 10, help: 'epochs (a validation and a checkpoint after each)', int: true, min: 1 },
  batch: { default: 4, help: 'images a step', int: true, min: 1, max: 1024 },
  lr: { default: 3e-3, help: "AdamW's peak learning rate (cosine-annealed to a tenth over the run)", min: 0, minExclusive: true },
  'weight-decay': { default: 1e-4, help: "AdamW's weight decay", min: 0 },
  hidden: { default: 64, help: 'hidden channels of the semantic head', int: true, min: 1, max: 4096 },
  'prompts-per-image': { default: 4, help: 'objects prompted per training image (task prompt)', int: true, min: 1, max: 256 },
  positive: { default: 1, help: 'positive points of a point prompt (1 and --negative 0: multimask, lowest loss trained)', int: true, min: 0, max: 64 },
  negative: { default: 0, help: 'negative points of a point prompt', int: true, min: 0, max: 64 },
  'focal-weight': {
    default: 20,
    help: "weight of the focal loss against the dice loss's 1 (task prompt; SAM's 20:1). From random init 20 collapses to empty masks for a while; 1 learns sooner",
    min: 0,
  },
  'train-prompt-encoder': { default: false, help: 'train the prompt encoder too (task prompt; frozen by default)' },
  'cache-mb': { default: 2048, help: 'host memory for cached image embeddings; images beyond it are encoded again each epoch', min: 0 },
  seed: { default: 0, help: 'seed of the data order, initialisation, prompts and the synthetic set', int: true, min: 0, max: 2 ** 32 - 1 },
  out: { default: 'runs/sam-finetune', help: 'folder for checkpoints and panels' },
  panels: { default: 4, help: 'validation images shown in each panel', int: true, min: 0, max: 64 },
  'time-limit': { default: 0, help: 'stop training after this many seconds (0 = no limit), then validate', min: 0 },
} as const;

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}' (all options are --name value)`);
  const tiny = args.model === 'tiny';
  if (args.checkpoint) {
    if (tiny) throw new UsageError('--checkpoint needs --model vit_b, vit_l or vit_h (the official checkpoints); the tiny model starts at random');
    checkInputFile('--checkpoint', args.checkpoint);
  }
  if (args.task === 'semantic' && (args['train-prompt-encoder'] || argv.some((a) => a.startsWith('--prompts-per-image') || a.startsWith('--focal-weight'))))
    throw new UsageError('--train-prompt-encoder, --prompts-per-image and --focal-weight apply to --task prompt');
  if (args.task === 'prompt' && args.positive + args.negative === 0) throw new UsageError('--positive and --negative are both 0: a point prompt needs a point');
  const [H, W] = parseSize('--size', args.size || (tiny ? '128x256' : '512x1024'), 8);
  const config = tiny ? TINY_SAM : SAM_CONFIGS[args.model as 'vit_b'];
  prepareOutDir('--out', args.out);
  const data = await openSegmentationData({
    data: args.data,
    synthetic: args['synthetic-dir'],
    trainImages: args.synthetic,
    valImages: args['val-images'],
    size: [H, W],
    seed: args.seed,
    instances: args.task === 'prompt',
  });
  console.log(`data: ${data.description}; at ${H}×${W}`);

  // the model and the WebGPU device load only once the command line is known to be good
  const [{ init, random, tree }, { sam }, { finetuneSam }] = await Promise.all([
    import('../node'),
    import('../models/sam/sam'),
    import('../sam/finetune/trainer'),
  ]);
  const device = await init({ sleepWhileWaiting: true });
  console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
  const model = sam(config);
  const t0 = performance.now();
  let weights: Awaited<ReturnType<typeof model.init>>;
  if (args.checkpoint) {
    // streamed tensor by tensor to the device: the file is never held whole in memory
    const { loadSamCheckpoint } = await import('../sam/node/checkpoint');
    weights = await loadSamCheckpoint(args.checkpoint, config);
  } else weights = model.init(random.key(args.seed));
  const count = (t: unknown) => tree.tensors(t).reduce((s, x) => s + x.size, 0);
  const E = config.encoder.imgSize / config.encoder.patchSize;
  console.log(
    `model: SAM ${args.model} (${args.checkpoint ? `${args.checkpoint}, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s` : 'random init'}): ${config.encoder.imgSize}² input, embeddings ${config.promptEmbedDim}×${E}×${E}; image encoder ${count(weights.params.image_encoder).toLocaleString()} parameters (frozen), prompt encoder ${count(weights.params.prompt_encoder).toLocaleString()} (${args['train-prompt-encoder'] ? 'trained' : 'frozen'}), mask decoder ${count(weights.params.mask_decoder).toLocaleString()} (${args.task === 'prompt' ? 'trained' : 'unused'})`,
  );
  const meta = { model: `sam-${args.model}-${args.task}`, task: args.task, config, size: [H, W], hidden: args.hidden };
  const lastPath = join(args.out, 'last.safetensors'),
    bestPath = join(args.out, 'best.safetensors');
  const result = await finetuneSam({
    model,
    params: weights.params,
    state: weights.state,
    task: args.task as 'semantic' | 'prompt',
    train: data.train,
    val: data.val,
    epochs: args.epochs,
    batch: args.batch,
    lr: args.lr,
    weightDecay: args['weight-decay'],
    seed: args.seed,
    numClasses: CITYSCAPES_CLASSES.length,
    hiddenChannels: args.hidden,
    freezePromptEncoder: !args['train-prompt-encoder'],
    promptsPerImage: args['prompts-per-image'],
    lossWeights: { focal: args['focal-weight'] },
    positive: args.positive,
    negative: args.negative,
    cacheBytes: args['cache-mb'] * 2 ** 20,
    panels: args.panels,
    timeLimit: args['time-limit'] || undefined,
    log: (l) => console.log(l),
    async onEpoch(r) {
      const s = r.scores;
      const perClass = s.classIoU
        .map((v, c) => [CITYSCAPES_CLASSES[c], v] as const)
        .filter(([, v]) => Number.isFinite(v))
        .map(([name, v]) => `${name} ${v.toFixed(2)}`)
        .join(', ');
      console.log(
        `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}; val mIoU ${s.meanIoU.toFixed(3)}${r.maskIou !== undefined ? `  mask IoU ${r.maskIou.toFixed(3)}` : ''}  overall acc ${s.overallAcc.toFixed(3)}  (${r.seconds.toFixed(1)} s) class IoU: ${perClass}`,
      );
      const ck = { ...r.trained, step: r.step, meta: { ...meta, epoch: r.epoch, meanIoU: s.meanIoU } };
      await saveTrainingCheckpoint(lastPath, ck);
      if (r.best) {
        await saveTrainingCheckpoint(bestPath, ck);
        console.log(`best val mIoU so far: ${s.meanIoU.toFixed(3)} → ${bestPath}`);
      }
      if (r.panel.length)
        await writeSegmentationPanels(join(args.out, `val-${String(r.epoch).padStart(3, '0')}.png`), r.panel, { scale: Math.max(1, Math.round(192 / H)) });
    },
  });
  const h = result.history;
  const m = result.memory;
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  console.log(
    `done: ${h.length} epochs in ${(h.at(-1)?.seconds ?? 0).toFixed(1)} s (image encoder: ${result.encoder.images} images in ${result.encoder.seconds.toFixed(1)} s; ${result.encoder.cachedImages} cached on the host, ${(result.encoder.cachedBytes / 2 ** 20).toFixed(1)} MiB); val mIoU by epoch: ${h.map((e) => e.scores.meanIoU.toFixed(3)).join(' ')}${m ? `; live GPU memory after step 2: ${m.afterStep2.liveTensors} tensors, ${mib(m.afterStep2.liveBytes)} MiB; after the last step: ${m.afterLast.liveTensors} tensors, ${mib(m.afterLast.liveBytes)} MiB` : ''}`,
  );
  tree.dispose([result.trained, weights]);
  return 0;
}
