/**
 * `webgrad eval-u2net`: score U²-Net weights on a DUTS-style folder (or the built-in synthetic
 * held-out set) with the training run's evaluation: the dataset-level numbers of the SOD literature as
 * PySODMetrics computes them (MAE, S-measure, weighted F, max/mean/adaptive F and E of the curves
 * averaged over samples; IoU and Dice at 0.5), from the network's probabilities as they are.
 *   webgrad eval-u2net --weights runs/u2net/best.safetensors --data ~/DUTS-TE --split all --size 320
 *   webgrad eval-u2net --data ~/DUTS-TE --split all            # the pretrained U²-NetP
 * Inputs: a webgrad training checkpoint sees images as training does ([0, 1] RGB); other weights
 * (the pretrained U²-NetP, a PyTorch state_dict) get the official U²-Net normalisation
 * (divide by the maximum, ImageNet mean/std). --preprocess overrides.
 */
import { sigmoid, tensor, tidy, tree } from '../node';
import { syntheticSample } from '../sod/synthetic';
import type { SodPair } from '../sod/batches';
import { SodEvaluator } from '../sod/evaluate';
import { IMAGENET_MEAN, IMAGENET_STD } from '../sod/preprocess';
import { loadSafetensors } from '../io/files';
import { parseArgs, UsageError } from './args';
import { checkInputDir, checkInputFile } from './paths';
import { openSodFolder, BadImageError, type BadImagePolicy } from './sod-data';
import { MODELS, VARIANTS, openU2Net } from './u2net-choices';

const USAGE = 'usage: webgrad eval-u2net [options]';
const SPEC = {
  weights: { default: '', help: 'checkpoint (.safetensors or .pth); empty = pretrained U²-NetP' },
  model: { default: 'u2netp', help: 'network', choices: MODELS },
  variant: { default: 'standard', help: 'layer variant', choices: VARIANTS },
  data: { default: '', help: 'DUTS-style folder; empty = the synthetic held-out set of train-u2net' },
  split: { default: 'held-out', help: "which pairs of --data: train-u2net's held-out tenth, or all", choices: ['held-out', 'all'] },
  'on-bad-image': { default: 'skip', help: 'an image that cannot be decoded: skip it (counted) or stop', choices: ['skip', 'stop'] },
  size: { default: 320, help: 'images are resized (or generated) at this size', int: true, min: 32, max: 4096 },
  count: { default: 0, help: 'score at most this many samples (0 = all; the synthetic set needs a count, default 32)', int: true, min: 0 },
  seed: { default: 0, help: 'seed of the synthetic set', int: true, min: 0, max: 2 ** 32 - 1 },
  preprocess: {
    default: 'auto',
    help: 'train = [0, 1] RGB as train-u2net; imagenet = the official U²-Net normalisation',
    choices: ['auto', 'train', 'imagenet'],
  },
  json: { default: false, help: 'print the scores as one JSON line' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}'`);
  if (!args.weights && (args.model !== 'u2netp' || args.variant !== 'standard')) {
    throw new UsageError(`pretrained weights exist only for the standard u2netp; give --weights FILE for ${args.model} (${args.variant})`);
  }
  if (args.weights) checkInputFile('--weights', args.weights);
  if (args.data) checkInputDir('--data', args.data);
  const log = (l: string) => {
    if (!args.json) console.log(l);
    else console.error(l);
  };

  // the samples to score, as (split, index) or synthetic indices
  let samples: (() => SodPair | null)[];
  let skippedAtStart = 0;
  let folder: ReturnType<typeof openSodFolder> | null = null;
  if (args.data) {
    try {
      folder = openSodFolder(args.data, args.size, args['on-bad-image'] as BadImagePolicy, (l) => console.error(`warning: ${l}`));
    } catch (e) {
      throw new UsageError(`--data: ${(e as Error).message}`);
    }
    const f = folder;
    skippedAtStart = f.skipped();
    const held = Array.from({ length: f.heldOutCount }, (_, k) => () => f.exact('held-out', k));
    const train = args.split === 'all' ? Array.from({ length: f.trainCount }, (_, k) => () => f.exact('train', k)) : [];
    samples = [...train, ...held];
    log(
      `data: ${args.data}: ${samples.length} pairs (${args.split}); ${skippedAtStart} skipped (unreadable); ${f.unmatchedImages} images without a mask, ${f.unmatchedMasks} masks without an image (unused)`,
    );
  } else {
    const n = args.count || 32;
    samples = Array.from({ length: n }, (_, i) => () => syntheticSample(args.seed, 1_000_000 + i, args.size));
  }
  if (args.count) samples = samples.slice(0, args.count);

  const { model, params, state, weightsPath } = await openU2Net(args, log, { sleepWhileWaiting: true });
  const preprocess = args.preprocess === 'auto' ? ((await isTrainingCheckpoint(weightsPath)) ? 'train' : 'imagenet') : args.preprocess;
  log(`weights: ${weightsPath} (${args.model} ${args.variant}; inputs: ${preprocess === 'train' ? '[0, 1] RGB' : 'ImageNet-normalised'})`);

  const ev = new SodEvaluator({ range: 'unit' });
  try {
    for (const next of samples) {
      const pair = next();
      if (!pair) continue;
      const input = preprocess === 'imagenet' ? imagenetNormalise(pair.image) : pair.image;
      const probs = tidy(() => sigmoid(model.apply(params, state, tensor(input, { shape: [1, 3, pair.height, pair.width] }), { training: false }).logits[0]));
      const pred = Float32Array.from(await probs.data());
      probs.dispose();
      if (!pred.every(Number.isFinite)) {
        console.error('webgrad eval-u2net: the network gives non-finite outputs (broken weights?)');
        return 1;
      }
      ev.add(pred, pair.mask, pair.height, pair.width);
    }
  } catch (e) {
    if (e instanceof BadImageError) {
      console.error(`webgrad eval-u2net: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    tree.dispose([params, state]);
  }
  if (ev.images === 0) {
    console.error('webgrad eval-u2net: no readable samples to score');
    return 1;
  }
  const { curves: _curves, images, ...m } = ev.result();
  const skipped = folder ? folder.skipped() : 0;
  if (args.json) console.log(JSON.stringify({ samples: images, skipped, ...m }));
  else
    console.log(
      `${images} samples${skipped ? ` (${skipped} skipped)` : ''}: IoU ${m.IoU.toFixed(3)}  MAE ${m.MAE.toFixed(4)}  maxF ${m.maxFm.toFixed(3)}  meanF ${m.meanFm.toFixed(3)}  S ${m.Smeasure.toFixed(3)}  meanE ${m.meanEm.toFixed(3)}  wF ${m.wFmeasure.toFixed(3)}`,
    );
  return 0;
}

/** The official U²-Net input normalisation of a [0, 1] CHW image: divide by its maximum, then ImageNet mean/std. */
function imagenetNormalise(chw: Float32Array): Float32Array {
  let max = 0;
  for (let i = 0; i < chw.length; i++) max = Math.max(max, chw[i]);
  const plane = chw.length / 3,
    out = new Float32Array(chw.length);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < plane; i++) {
      out[c * plane + i] = ((max > 0 ? chw[c * plane + i] / max : 0) - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
    }
  return out;
}

async function isTrainingCheckpoint(path: string): Promise<boolean> {
  if (!/\.safetensors$/i.test(path)) return false;
  try {
    return (await loadSafetensors(path)).metadata?.format === 'webgrad-training/1';
  } catch {
    return false;
  }
}
