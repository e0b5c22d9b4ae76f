/**
 * `webgrad train-u2net`: train U²-Net / U²-NetP for salient-object segmentation.
 *   webgrad train-u2net                        # U²-NetP on the built-in synthetic set
 *   webgrad train-u2net --data ~/DUTS-TR ...   # a DUTS-style folder (*-Image/*.jpg + *-Mask/*.png)
 * Adam with the original's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8), deep supervision over the
 * 7 side outputs, checkpoints every N iterations (atomic; --resume continues bit-identically), a
 * held-out evaluation with the dataset-level SOD numbers (IoU, MAE, max/mean F, S, E, weighted F), and stage panels (image | mask | cutout | truth) as PNG.
 * OUT/last.safetensors is the latest checkpoint, OUT/best.safetensors the one with the best held-out
 * IoU. A loss (or weights) that become non-finite stop the run and leave both untouched.
 */
import { join } from 'node:path';
import { init, tensor, tidy, valueAndGrad, tree, optim, memory, add, sigmoid, random, captureStep, type Tensor } from '../node';
import { u2net, u2netLoss, type U2NetName, type U2NetVariant } from '../models/u2net/model';
import { syntheticSample } from '../sod/synthetic';
import { assembleBatch, type Flip, type SodPair } from '../sod/batches';
import { SodEvaluator } from '../sod/evaluate';
import { saveTrainingCheckpoint } from '../io/training-checkpoint';
import { writePanels } from '../sod/node/panels';
import { Progress } from '../train/progress';
import { firstLine, parseArgs, UsageError } from './args';
import { checkInputDir, checkInputFile, prepareOutDir } from './paths';
import { openSodFolder, BadImageError, type BadImagePolicy, type CheckedSodFolder } from './sod-data';
import { MODELS, VARIANTS } from './u2net-choices';
import { checkpointMeta, loadResume, resumeMeta } from './resume';
import { RunStopped, RunStops, allFinite, dueAfter } from './run-stops';
import { DEVICES_HELP, checkDevicesArg, deviceCount, parseDevicesArg } from './devices-arg';
import { initOn, openParallelTrainer, type ParallelTrainer } from './parallel-trainer';
import { U2NET_REPLICA_DEFAULTS, u2netReplica, u2netReplicaUrl } from './replicas/u2net';

const USAGE = 'usage: webgrad train-u2net [options]';

const SPEC = {
  model: { default: 'u2netp', help: 'network', choices: MODELS },
  variant: { default: 'standard', help: 'standard, grouped (2 groups) or separable (depthwise + pointwise)', choices: VARIANTS },
  data: { default: '', help: 'DUTS-style folder; empty = the built-in synthetic set' },
  'on-bad-image': { default: 'skip', help: 'a --data image that cannot be decoded: skip it (counted) or stop', choices: ['skip', 'stop'] },
  size: { default: 72, help: 'images are resized/generated at this size', int: true, min: 32, max: 4096 },
  crop: { default: 64, help: 'random crop size for training (≤ --size)', int: true, min: 32, max: 4096 },
  batch: { default: 8, help: 'batch size', int: true, min: 1, max: 4096 },
  iters: { default: 400, help: 'training iterations', int: true, min: 1 },
  lr: { default: 1e-3, help: 'Adam learning rate', min: 0, minExclusive: true },
  'fuse-lr-scale': {
    default: 10,
    help: "learning-rate multiplier for the 1×1 fuse conv (7 weights that start as a random mix of the side maps; 1 = the original's single rate)",
    min: 0,
  },
  flip: { default: 'horizontal', help: "random flip (vertical is the original's)", choices: ['horizontal', 'vertical', 'none'] },
  seed: { default: 0, help: 'seed for data, initialisation and augmentation', int: true, min: 0, max: 2 ** 32 - 1 },
  init: { default: '', help: 'initialise from weights (.safetensors or .pth)' },
  resume: { default: '', help: 'resume from a training checkpoint (e.g. OUT/last.safetensors)' },
  out: { default: 'runs/u2net', help: 'folder for checkpoints and panels' },
  'ckpt-every': { default: 100, help: 'checkpoint every N iterations (0 = only at the end)', int: true, min: 0 },
  'eval-every': { default: 100, help: 'evaluate every N iterations (0 = only at the end)', int: true, min: 0 },
  'eval-count': { default: 32, help: 'held-out samples per evaluation', int: true, min: 1 },
  'time-limit': { default: 0, help: 'stop after this many seconds (0 = no limit), then evaluate', min: 0 },
  devices: { default: '1', help: DEVICES_HELP },
  threads: { default: true, help: 'with several devices: one worker thread per device (--threads=false: all in this thread)' },
  'sync-bn': { default: false, help: 'with several devices: BatchNorm statistics over the whole batch (default: per device, as DDP)' },
  replay: {
    default: false,
    help: 'record the forward+backward step once and replay it (captureStep; Adam runs outside; one device only)',
  },
} as const;

/** the held-out numbers, dataset-level as PySODMetrics (maxF/meanF/E of the curve averaged over images) */
type Scores = { iou: number; mae: number; maxF: number; meanF: number; sMeasure: number; eMeasure: number; wF: number };

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}' (all options are --name value)`);
  if (args.crop > args.size) throw new UsageError(`--crop (${args.crop}) must be ≤ --size (${args.size})`);
  if (args.init && args.resume) throw new UsageError('give --init or --resume, not both');
  const devicesArg = await checkDevicesArg(parseDevicesArg(args.devices));
  const K = deviceCount(devicesArg);
  if (K > args.batch) throw new UsageError(`--devices asks for ${K} devices but --batch is ${args.batch}; every device needs at least one image`);
  if (args.replay && K > 1) throw new UsageError(`--replay runs on one device; --devices asks for ${K}`);
  if (args.data) checkInputDir('--data', args.data);
  if (args.init) checkInputFile('--init', args.init);
  if (args.resume) {
    // refuse a wrong or corrupt checkpoint before the device opens (shapes are checked on load)
    const meta = resumeMeta(args.resume, '; use --init to start from plain weights') as { model?: string; variant?: string };
    if ((meta.model && meta.model !== args.model) || (meta.variant && meta.variant !== args.variant)) {
      throw new UsageError(`--resume '${args.resume}' holds ${meta.model} (${meta.variant}); give --model ${meta.model} --variant ${meta.variant}`);
    }
  }

  // ---- data (before the device: a bad folder is a usage error) ----------------------------------
  let folder: CheckedSodFolder | null = null;
  if (args.data) {
    try {
      folder = openSodFolder(args.data, args.size, args['on-bad-image'] as BadImagePolicy, (l) => console.log(`warning: ${l}`));
    } catch (e) {
      throw new UsageError(`--data: ${(e as Error).message}`);
    }
    console.log(
      `data: ${args.data}: ${folder.trainCount} training and ${folder.heldOutCount} held-out pairs; ${folder.skipped()} skipped (unreadable); ${folder.unmatchedImages} images without a mask, ${folder.unmatchedMasks} masks without an image (unused)`,
    );
  }
  prepareOutDir('--out', args.out);
  const HELD_OUT = 1_000_000;
  const trainPair = (i: number): SodPair => (folder ? folder.train(i) : syntheticSample(args.seed, i, args.size));
  const evalPair = (i: number): SodPair => (folder ? folder.heldOut(i) : syntheticSample(args.seed, HELD_OUT + i, args.crop));
  const evalCount = folder ? Math.min(args['eval-count'], folder.heldOutCount) : args['eval-count'];

  // ---- model and state --------------------------------------------------------------------------
  // one device as a bare count: today's path, untouched; an adapter list or several devices: src/cli/parallel-trainer.ts
  const device = 'count' in devicesArg && K === 1 ? await init({ sleepWhileWaiting: true }) : await initOn(devicesArg);
  console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
  const model = u2net({ model: args.model as U2NetName, variant: args.variant as U2NetVariant });
  const [initKey, dataKey] = random.split(random.key(args.seed));
  const opt = optim.adam({ lr: args.lr, betas: [0.9, 0.999], eps: 1e-8, groups: [{ match: 'outconv', lrScale: args['fuse-lr-scale'] }] });
  const meta = { model: args.model, variant: args.variant };
  const lastPath = join(args.out, 'last.safetensors'),
    bestPath = join(args.out, 'best.safetensors');

  let { params, state } = model.init(initKey);
  let optState = opt.init(params);
  let start = 0;
  let best = { iou: -Infinity, mae: Infinity };
  if (args.resume) {
    const ck = await loadResume(args.resume, { params, state, optState });
    ({ params, state, optState } = ck);
    start = ck.step;
    best = await bestSoFar(bestPath);
    console.log(`resumed from ${args.resume} at iteration ${start}${Number.isFinite(best.iou) ? `; best held-out IoU so far ${best.iou.toFixed(3)}` : ''}`);
    if (start >= args.iters) throw new UsageError(`--resume: '${args.resume}' is at iteration ${start} already; give --iters > ${start}`);
  } else if (args.init) {
    try {
      ({ params, state, optState } = await initialWeights(
        args.init,
        args.model as U2NetName,
        args.variant as U2NetVariant,
        initKey,
        { params, state, optState },
        opt,
      ));
    } catch (e) {
      throw new UsageError(`--init: ${firstLine(e)}`);
    }
    console.log(`initialised from ${args.init}`);
  }

  const nParams = tree.tensors(params).reduce((s, t) => s + t.size, 0);
  console.log(`${args.model} (${args.variant}): ${nParams.toLocaleString()} parameters; batch ${args.batch}, crop ${args.crop}, ${args.iters} iterations`);
  let dp: ParallelTrainer | null = null;
  if (K > 1) {
    const settings = { ...U2NET_REPLICA_DEFAULTS, model: args.model, variant: args.variant, lr: args.lr, fuseLrScale: args['fuse-lr-scale'] };
    dp = await openParallelTrainer({
      devices: devicesArg,
      threads: args.threads,
      syncBatchNorm: args['sync-bn'],
      replica: args.threads ? u2netReplicaUrl(settings) : u2netReplica(settings),
      start: { params, state, optState, step: start },
      seed: args.seed,
    });
    console.log(`data parallel: ${dp.describe()}`);
  }
  /** Brings the trainer's weights to this device (for evaluation, checkpoints and the finiteness checks). */
  const pull = async () => {
    if (dp) ({ params, state, optState } = await dp.pull({ params, state, optState }));
  };

  const step = valueAndGrad(
    (p: any, st: any, x: Tensor, y: Tensor) => {
      const out = model.apply(p, st, x, { training: true });
      const sides = out.logits.map((l) => u2netLoss([l], y));
      return [sides.reduce((a, b) => add(a, b)), { state: out.state, sides }];
    },
    { hasAux: true },
  );

  // --replay: forward, losses and backward recorded once and replayed (fixed batch and crop); Adam stays eager
  const graphed = args.replay
    ? captureStep((p: any, st: any, x: Tensor, y: Tensor) => {
        const [[loss, aux], grads] = step(p, st, x, y);
        return { loss, sides: aux.sides as Tensor[], state: aux.state, grads };
      })
    : null;

  async function evaluate(iteration: number): Promise<Scores> {
    const ev = new SodEvaluator({ range: 'unit' });
    const panels: { image: Float32Array; pred: Float32Array; mask: Float32Array; size: number }[] = [];
    let finite = true;
    for (let i = 0; i < evalCount; i++) {
      const pair = evalPair(i);
      const probs = tidy(() => {
        const x = tensor(pair.image, { shape: [1, 3, pair.height, pair.width] });
        return sigmoid(model.apply(params, state, x, { training: false }).logits[0]);
      });
      const pred = Float32Array.from(await probs.data());
      probs.dispose();
      if (!pred.every(Number.isFinite)) {
        finite = false;
        break;
      } // reported below as a diverged run
      ev.add(pred, pair.mask, pair.height, pair.width);
      if (i < 4) panels.push({ image: pair.image, pred, mask: pair.mask, size: pair.height });
    }
    const r = finite ? ev.result() : null;
    const scores: Scores = r
      ? { iou: r.IoU, mae: r.MAE, maxF: r.maxFm, meanF: r.meanFm, sMeasure: r.Smeasure, eMeasure: r.meanEm, wF: r.wFmeasure }
      : { iou: NaN, mae: NaN, maxF: NaN, meanF: NaN, sMeasure: NaN, eMeasure: NaN, wF: NaN };
    const tag = iteration < 0 ? 'final' : `iter ${iteration}`;
    console.log(
      `eval (${tag}, ${evalCount} held-out): IoU ${scores.iou.toFixed(3)}  MAE ${scores.mae.toFixed(4)}  maxF ${scores.maxF.toFixed(3)}  meanF ${scores.meanF.toFixed(3)}  S ${scores.sMeasure.toFixed(3)}  meanE ${scores.eMeasure.toFixed(3)}  wF ${scores.wF.toFixed(3)}`,
    );
    if (!Object.values(scores).every(Number.isFinite))
      throw stops.stopped(
        `the held-out evaluation ${iteration < 0 ? 'at the end' : `at iteration ${iteration}`} is not finite (IoU ${scores.iou}, MAE ${scores.mae}): the weights diverged`,
      );
    if (iteration >= 0) await writePanels(join(args.out, `stage-${String(iteration).padStart(6, '0')}.png`), panels);
    return scores;
  }

  const stops = new RunStops(args.resume, start, args.lr, bestPath, () => (Number.isFinite(best.iou) ? `IoU ${best.iou.toFixed(3)}` : null));

  const progress = new Progress(args.iters - start, 'train');
  const t0 = performance.now();
  let seen = 0;
  try {
    for (let it = start; it < args.iters; it++) {
      if (args['time-limit'] && (performance.now() - t0) / 1000 > args['time-limit']) {
        console.log(`time limit reached at iteration ${it}`);
        break;
      }
      const pairs = Array.from({ length: args.batch }, (_, k) => trainPair(it * args.batch + k));
      const batch = assembleBatch(pairs, { crop: args.crop, flip: args.flip as Flip, key: random.foldIn(dataKey, it) });
      let loss: number;
      if (dp) {
        ({ loss } = await dp.step({
          image: { data: batch.images, shape: [args.batch, 3, args.crop, args.crop] },
          mask: { data: batch.masks, shape: [args.batch, 1, args.crop, args.crop] },
        }));
        seen += args.batch;
        stops.checkLoss(loss, it + 1, progress);
        progress.tick(it - start + 1, { loss }, args.batch);
      } else {
        const oldState = state;
        const r = tidy(() => {
          if (graphed) {
            const x = tensor(batch.images, { shape: [args.batch, 3, args.crop, args.crop] });
            const y = tensor(batch.masks, { shape: [args.batch, 1, args.crop, args.crop] });
            const g = graphed(params, state, x, y);
            const u = opt.update(g.grads, optState, params, { donate: true });
            return { loss: g.loss, sides: g.sides, state: g.state, params: u.params, optState: u.state };
          }
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
        loss = await r.loss.item();
        r.loss.dispose();
        r.sides.forEach((t) => t.dispose());
        stops.checkLoss(loss, it + 1, progress);
        progress.tick(it - start + 1, { loss, ...Object.fromEntries(sides.map((v, i) => [`d${i}`, v])) }, args.batch);
      }
      const { evalDue, ckptDue } = dueAfter(it + 1, args.iters, args['eval-every'], args['ckpt-every']);
      if (!evalDue && !ckptDue) continue;
      await pull();
      await stops.checkWeights([params, state], it + 1, loss, progress);
      const scores = evalDue ? await evaluate(it + 1) : null;
      if (ckptDue) {
        await saveTrainingCheckpoint(lastPath, { params, state, optState, step: it + 1, meta });
        stops.saved(lastPath, it + 1);
      }
      // best by held-out IoU; a tie (early runs sit at IoU 0) goes to the lower MAE
      if (scores && (scores.iou > best.iou || (scores.iou === best.iou && scores.mae < best.mae))) {
        best = { iou: scores.iou, mae: scores.mae };
        await saveTrainingCheckpoint(bestPath, { params, state, optState, step: it + 1, meta: { ...meta, iou: scores.iou, mae: scores.mae } });
        console.log(`best held-out IoU so far: ${best.iou.toFixed(3)} (MAE ${best.mae.toFixed(4)}) → ${bestPath}`);
      }
    }
    progress.done();
    await pull();
    console.log(
      `trained ${seen} images in ${((performance.now() - t0) / 1000).toFixed(1)} s; live GPU memory ${(memory().liveBytes / 2 ** 20).toFixed(1)} MiB`,
    );
    if (!(await allFinite([params, state]))) throw stops.stopped('the weights became non-finite');
    await evaluate(-1);
  } catch (e) {
    if (e instanceof RunStopped || e instanceof BadImageError) {
      console.error(`webgrad train-u2net: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    graphed?.dispose();
    await dp?.close();
  }
  return 0;
}

/** The held-out scores recorded in an existing best checkpoint (to keep comparing after --resume). */
async function bestSoFar(path: string): Promise<{ iou: number; mae: number }> {
  const meta = await checkpointMeta(path);
  const iou = Number(meta?.iou),
    mae = Number(meta?.mae);
  return Number.isFinite(iou) && Number.isFinite(mae) ? { iou, mae } : { iou: -Infinity, mae: Infinity };
}

async function initialWeights(
  path: string,
  name: U2NetName,
  variant: U2NetVariant,
  key: ReturnType<typeof random.key>,
  cur: { params: any; state: any; optState: any },
  opt: ReturnType<typeof optim.adam>,
) {
  const { loadInitialWeights } = await import('../io/load-weights');
  if (variant === 'standard') {
    const { params, state } = await loadInitialWeights(path, cur.params, cur.state);
    return { params, state, optState: cur.optState };
  }
  // a standard checkpoint initialises a compact variant by averaging (src/models/u2net/variants.ts)
  const { convertU2netVariant } = await import('../models/u2net/variants');
  const standard = u2net({ model: name }).init(key);
  const loaded = await loadInitialWeights(path, standard.params, standard.state);
  const converted = convertU2netVariant(loaded.params, variant);
  const kept = new Set(tree.tensors(converted));
  tree.tensors(loaded.params).forEach((t) => {
    if (!kept.has(t)) t.dispose();
  });
  tree.dispose([cur.params, cur.state, cur.optState.slots]);
  return { params: converted, state: loaded.state, optState: opt.init(converted) };
}
