/**
 * Train U²-Net / U²-NetP for salient-object segmentation.
 *   npx tsx examples/train-u2net.ts                        # U²-NetP on the built-in synthetic set
 *   npx tsx examples/train-u2net.ts --data ~/DUTS-TR ...  # a DUTS-style folder (*-Image/*.jpg + *-Mask/*.png)
 * Adam with the original's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8), deep supervision over the
 * 7 side outputs, checkpoints every N iterations (atomic; --resume continues bit-identically), a
 * held-out evaluation with IoU/MAE/F-beta, and stage panels (image | mask | cutout | truth) as PNG.
 */
import {
  init, tensor, tidy, valueAndGrad, tree, optim, memory, add, sigmoid, random, type Tensor,
} from '../src/node';
import { u2net, u2netLoss, type U2NetName, type U2NetVariant } from '../src/models/u2net/model';
import { syntheticSample } from '../src/sod/synthetic';
import { assembleBatch, type Flip, type SodPair } from '../src/sod/batches';
import { sodScores } from '../src/sod/metrics';
import { saveTrainingCheckpoint, loadTrainingCheckpoint } from '../src/io/training-checkpoint';
import { loadSodFolder } from '../src/sod/node/folder';
import { writePanels } from '../src/sod/node/panels';
import { Progress } from '../src/train/progress';
import { parseArgs } from './args';
import { join } from 'node:path';

const args = parseArgs(process.argv.slice(2), {
  model: { default: 'u2netp', help: 'u2net or u2netp' },
  variant: { default: 'standard', help: 'standard, grouped (2 groups) or separable (depthwise + pointwise)' },
  data: { default: '', help: 'DUTS-style folder; empty = the built-in synthetic set' },
  size: { default: 72, help: 'images are resized/generated at this size' },
  crop: { default: 64, help: 'random crop size for training' },
  batch: { default: 8, help: 'batch size' },
  iters: { default: 400, help: 'training iterations' },
  lr: { default: 1e-3, help: 'Adam learning rate' },
  'fuse-lr-scale': { default: 10, help: "learning-rate multiplier for the 1×1 fuse conv (7 weights that start as a random mix of the side maps; 1 = the original's single rate)" },
  flip: { default: 'horizontal', help: "random flip: horizontal (default), vertical (the original's) or none" },
  seed: { default: 0, help: 'seed for data, initialisation and augmentation' },
  init: { default: '', help: 'initialise from a checkpoint (.safetensors or .pth)' },
  resume: { default: '', help: 'resume from a training checkpoint' },
  out: { default: 'runs/u2net', help: 'folder for checkpoints and panels' },
  'ckpt-every': { default: 100, help: 'checkpoint every N iterations (0 = only at the end)' },
  'eval-every': { default: 100, help: 'evaluate every N iterations' },
  'eval-count': { default: 32, help: 'held-out samples per evaluation' },
  'time-limit': { default: 0, help: 'stop after this many seconds (0 = no limit), then evaluate' },
}, 'usage: train-u2net [options]');

const device = await init({ sleepWhileWaiting: true });
console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);

const model = u2net({ model: args.model as U2NetName, variant: args.variant as U2NetVariant });
const root = random.key(args.seed);
const [initKey, dataKey] = random.split(root);
const opt = optim.adam({ lr: args.lr, betas: [0.9, 0.999], eps: 1e-8, groups: [{ match: 'outconv', lrScale: args['fuse-lr-scale'] }] });

// ---- data -------------------------------------------------------------------------------------
const folder = args.data ? loadSodFolder(args.data, args.size) : null;
const HELD_OUT = 1_000_000;
const trainPair = (i: number): SodPair => (folder ? folder.train(i) : syntheticSample(args.seed, i, args.size));
const evalPair = (i: number): SodPair => (folder ? folder.heldOut(i) : syntheticSample(args.seed, HELD_OUT + i, args.crop));
const evalCount = folder ? Math.min(args['eval-count'], folder.heldOutCount) : args['eval-count'];

// ---- state ------------------------------------------------------------------------------------
let { params, state } = model.init(initKey);
let optState = opt.init(params);
let start = 0;
if (args.resume) {
  const ck = await loadTrainingCheckpoint(args.resume, { params, state, optState });
  ({ params, state, optState } = ck);
  start = ck.step;
  console.log(`resumed from ${args.resume} at iteration ${start}`);
} else if (args.init) {
  const { loadInitialWeights } = await import('../src/io/load-weights');
  if (args.variant === 'standard') {
    ({ params, state } = await loadInitialWeights(args.init, params, state));
  } else {
    // a standard checkpoint initialises a compact variant by averaging (src/models/u2net/variants.ts)
    const { convertU2netVariant } = await import('../src/models/u2net/variants');
    const standard = u2net({ model: args.model as U2NetName }).init(initKey);
    const loaded = await loadInitialWeights(args.init, standard.params, standard.state);
    const converted = convertU2netVariant(loaded.params, args.variant as U2NetVariant);
    const kept = new Set(tree.tensors(converted));
    tree.tensors(loaded.params).forEach((t) => { if (!kept.has(t)) t.dispose(); });
    tree.dispose([params, state, optState.slots]);
    params = converted; state = loaded.state; optState = opt.init(params);
  }
  console.log(`initialised from ${args.init}`);
}

const nParams = tree.tensors(params).reduce((s, t) => s + t.size, 0);
console.log(`${args.model} (${args.variant}): ${nParams.toLocaleString()} parameters; batch ${args.batch}, crop ${args.crop}, ${args.iters} iterations`);

const step = valueAndGrad((p: any, st: any, x: Tensor, y: Tensor) => {
  const out = model.apply(p, st, x, { training: true });
  const sides = out.logits.map((l) => u2netLoss([l], y));
  return [sides.reduce((a, b) => add(a, b)), { state: out.state, sides }];
}, { hasAux: true });

const progress = new Progress(args.iters - start, 'train');
const t0 = performance.now();
let seen = 0;
for (let it = start; it < args.iters; it++) {
  if (args['time-limit'] && (performance.now() - t0) / 1000 > args['time-limit']) { console.log(`time limit reached at iteration ${it}`); break; }
  const pairs = Array.from({ length: args.batch }, (_, k) => trainPair(it * args.batch + k));
  const batch = assembleBatch(pairs, { crop: args.crop, flip: args.flip as Flip, key: random.foldIn(dataKey, it) });
  const oldState = state;
  const r = tidy(() => {
    const x = tensor(batch.images, { shape: [args.batch, 3, args.crop, args.crop] });
    const y = tensor(batch.masks, { shape: [args.batch, 1, args.crop, args.crop] });
    const [[loss, aux], grads] = step(params, state, x, y);
    const u = opt.update(grads, optState, params, { donate: true });
    return { loss, sides: aux.sides as Tensor[], state: aux.state, params: u.params, optState: u.state };
  });
  tree.dispose(oldState);
  ({ params, state, optState } = r);
  seen += args.batch;
  const sides = await Promise.all(r.sides.map((t) => t.item()));
  const loss = await r.loss.item();
  r.loss.dispose(); r.sides.forEach((t) => t.dispose());
  progress.tick(it - start + 1, { loss, ...Object.fromEntries(sides.map((v, i) => [`d${i}`, v])) }, args.batch);
  const last = it + 1 === args.iters;
  if ((args['ckpt-every'] && (it + 1) % args['ckpt-every'] === 0) || last) {
    await saveTrainingCheckpoint(join(args.out, 'last.safetensors'), { params, state, optState, step: it + 1, meta: { model: args.model, variant: args.variant } });
  }
  if ((args['eval-every'] && (it + 1) % args['eval-every'] === 0) || last) await evaluate(it + 1);
}
progress.done();
console.log(`trained ${seen} images in ${((performance.now() - t0) / 1000).toFixed(1)} s; live GPU memory ${(memory().liveBytes / 2 ** 20).toFixed(1)} MiB`);
await evaluate(-1);
process.exit(0);

async function evaluate(iteration: number) {
  const scores = { iou: 0, mae: 0, maxF: 0, sMeasure: 0 };
  const panels: { image: Float32Array; pred: Float32Array; mask: Float32Array; size: number }[] = [];
  for (let i = 0; i < evalCount; i++) {
    const pair = evalPair(i);
    const s = pair.height;
    const probs = tidy(() => {
      const x = tensor(pair.image, { shape: [1, 3, pair.height, pair.width] });
      return sigmoid(model.apply(params, state, x, { training: false }).logits[0]);
    });
    const pred = Float32Array.from(await probs.data());
    probs.dispose();
    const sc = sodScores(pred, pair.mask, pair.height, pair.width);
    scores.iou += sc.iou; scores.mae += sc.mae; scores.maxF += sc.maxF; scores.sMeasure += sc.sMeasure;
    if (i < 4) panels.push({ image: pair.image, pred, mask: pair.mask, size: s });
  }
  for (const k of Object.keys(scores) as (keyof typeof scores)[]) scores[k] /= evalCount;
  const tag = iteration < 0 ? 'final' : `iter ${iteration}`;
  console.log(`eval (${tag}, ${evalCount} held-out): IoU ${scores.iou.toFixed(3)}  MAE ${scores.mae.toFixed(4)}  maxF ${scores.maxF.toFixed(3)}  S ${scores.sMeasure.toFixed(3)}`);
  if (iteration >= 0) await writePanels(join(args.out, `stage-${String(iteration).padStart(6, '0')}.png`), panels);
}
