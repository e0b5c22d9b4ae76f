/**
 * Transfer learning with a torchvision-compatible ResNet (the recipe of torchvision's fine-tuning
 * tutorial): new head, phase 1 trains only the head on a frozen backbone, phase 2 unfreezes
 * everything with differential learning rates (head ×10), StepLR, cross-entropy with optional
 * label smoothing, and the BEST checkpoint by validation top-1 kept (written atomically).
 *
 *   npm run finetune:resnet -- --data DIR [--init resnet18.pth] [options]     # train
 *   npm run finetune:resnet -- predict --ckpt runs/finetune-resnet/best.safetensors a.jpg b.png
 *
 * Data: an image folder, one sub-folder per class (`DIR/<class>/*.png|jpg`), or `DIR/train/<class>`
 * and `DIR/val/<class>`; without a val folder `--val-split` of each class (shuffled by --seed) is held
 * out. The class-index map is saved as `classes.json` beside the checkpoint.
 * Training augmentation (torchvision's recipe): random resized crop (area/aspect sampling), random
 * rotation, horizontal and vertical flips with probabilities --hflip/--vflip, colour jitter
 * (brightness, contrast, saturation, hue) and random grayscale, then ImageNet normalisation. By default
 * it runs on the GPU (--augment-on gpu): each batch's decoded images are padded into one canvas, crop,
 * flips and rotation compose into one affine resampling per image (`affineResample`), then
 * `colorJitter` and `normalize`, three dispatches a batch; --augment-on host does the same on the CPU
 * (no hue). Validation: resize the shorter side to --resize, centre crop --size.
 * Without --init the whole network trains from scratch (no phase 1).
 * Weights: --init takes a torchvision state_dict (.pth) or safetensors; `fc.*` is dropped when its shape
 * differs (a new head for these classes). --planes makes a width-reduced network (not torchvision's).
 * --pretrained imagenet starts from Keras's ImageNet ResNet-50 (`pretrainedResNet50Weights`, fetched once
 * into $WEBGRAD_CACHE): the model becomes that ResNet-50 layout (v1 strides, conv biases, BN eps 1e-3) and
 * the normalisation Keras's 'caffe' one. Keras fed BGR, ×255, minus [103.939, 116.779, 123.68]; here conv1's
 * input channels are reversed once instead, so the pipeline stays RGB and the normalisation is
 * mean [123.68, 116.779, 103.939]/255, std 1/255 (the same numbers, in RGB order).
 */
import { readdirSync, statSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import {
  init,
  tensor,
  tidy,
  valueAndGrad,
  tree,
  optim,
  schedules,
  random,
  crossEntropy,
  softmax,
  loadSafetensors,
  writeFileAtomic,
  affineResample,
  colorJitter,
  normalize,
  sampleGeometry,
  Tensor,
  type Key,
} from '../src/node';
import { loadStateDict } from '../src/formats';
import { resnet, isResNetHead, type ResNetName, type ResNetConfig } from '../src/models/resnet';
import { KERAS_CAFFE_MEAN_BGR } from '../src/models/keras-preprocess';
import { pretrainedResNet50Weights } from '../src/io/pretrained-resnet50';
import { HostTensor } from '../src/formats/host-tensor';
import { readImage, pixelsToCHW } from '../src/io/images';
import { readStateDict } from '../src/io/load-weights';
import { saveTrainingCheckpoint } from '../src/io/training-checkpoint';
import { resizeBilinearCHW } from '../src/train/data/resize-host';
import { parseArgsOrExit, UsageError } from '../src/cli/args';
import { DEVICES_HELP, checkDevicesArg, deviceCount, parseDevicesArg } from '../src/cli/devices-arg';
import { initOn, openParallelTrainer, type ParallelTrainer } from '../src/cli/parallel-trainer';
import { RESNET_REPLICA_DEFAULTS, resnetReplica, resnetReplicaUrl } from '../src/cli/replicas/resnet';
import { mulberry32 } from '../src/base/mulberry32';

const args = parseArgsOrExit(
  process.argv.slice(2),
  {
    data: { default: '', help: 'image folder (class per sub-folder, or train/ and val/ inside)' },
    'val-split': { default: 0.2, help: 'fraction of each class held out when there is no val/ folder' },
    'max-per-class': { default: 0, help: 'use at most this many training images per class (0 = all)' },
    model: { default: 'resnet18', help: 'resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, …' },
    planes: { default: '', help: 'stage widths, e.g. 16,32,64,128 (default torchvision 64,128,256,512)' },
    init: { default: '', help: 'pretrained weights (.pth state_dict or .safetensors, torchvision keys)' },
    pretrained: { default: '', help: "'imagenet': Keras's ImageNet ResNet-50 (fetched once; implies its layout and normalisation)", choices: ['', 'imagenet'] },
    size: { default: 224, help: 'training crop / evaluation size' },
    resize: { default: 0, help: 'evaluation: resize shorter side to this, then centre crop (default size·256/224)' },
    'frozen-epochs': { default: 2, help: 'phase 1 epochs (backbone frozen, only the head trains; needs --init)' },
    epochs: { default: 6, help: 'phase 2 epochs (everything trains)' },
    optimizer: { default: 'sgd', help: 'sgd (momentum) or adam' },
    lr: { default: 0.01, help: 'phase 2 learning rate of the backbone' },
    'head-lr-scale': { default: 10, help: 'phase 2: the head learns this many times faster (with --init)' },
    'head-lr': { default: 0, help: 'phase 1 learning rate of the head (default lr × head-lr-scale)' },
    momentum: { default: 0.9, help: 'SGD momentum' },
    'weight-decay': { default: 1e-4, help: 'weight decay' },
    'step-size': { default: 4, help: 'StepLR: multiply the lr by --gamma every this many epochs (per phase)' },
    gamma: { default: 0.1, help: 'StepLR factor' },
    'label-smoothing': { default: 0, help: 'cross-entropy label smoothing' },
    batch: { default: 32, help: 'batch size' },
    augment: { default: true, help: 'training augmentation (--augment=false to turn off)' },
    'crop-scale': { default: '0.08,1', help: 'random resized crop: area fraction range' },
    'augment-on': { default: 'gpu', help: 'where training augmentation runs: gpu (affineResample, colorJitter, normalize kernels) or host' },
    rotate: { default: 10, help: 'random rotation range in degrees (±)' },
    hflip: { default: 0.5, help: 'probability of a horizontal flip' },
    vflip: { default: 0, help: 'probability of a vertical flip' },
    jitter: { default: 0.2, help: 'colour jitter strength (brightness, contrast, saturation)' },
    hue: { default: 0, help: 'colour jitter hue range in turns (±, at most 0.5; gpu augmentation only)' },
    grayscale: { default: 0.1, help: 'probability of random grayscale' },
    mean: { default: '0.485,0.456,0.406', help: 'normalisation mean (ImageNet default)' },
    std: { default: '0.229,0.224,0.225', help: 'normalisation std' },
    seed: { default: 0, help: 'seed for splits, initialisation and augmentation' },
    out: { default: 'runs/finetune-resnet', help: 'output folder (best.safetensors, classes.json, summary.json)' },
    ckpt: { default: '', help: 'predict: the checkpoint (classes.json beside it)' },
    topk: { default: 5, help: 'predict: classes to print per image' },
    devices: { default: '1', help: DEVICES_HELP },
    threads: { default: true, help: 'with several devices: one worker thread per device (--threads=false: all in this thread)' },
    'sync-bn': { default: false, help: 'with several devices: BatchNorm statistics over the whole batch (default: per device, as DDP)' },
  },
  'usage: finetune-resnet [predict] [options] [images…]',
  'finetune-resnet',
);

const nums = (s: string) => s.split(',').map(Number);
/** 0.5 → '50.0%'; NaN (no training accuracy with several devices) → '—' */
const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '—');
let MEAN = nums(args.mean),
  STD = nums(args.std);
/** A bad --devices is one line and exit code 2, like every other option. */
async function usage<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`finetune-resnet: ${e.message}`);
    process.exit(2);
  }
}
const devicesArg = await usage(() => checkDevicesArg(parseDevicesArg(args.devices)));
const K = deviceCount(devicesArg);
if (K > args.batch)
  await usage(() => {
    throw new UsageError(`--devices asks for ${K} devices but --batch is ${args.batch}; every device needs at least one image`);
  });
// one device as a bare count: today's path (init()); otherwise the trainer's devices (src/cli/parallel-trainer.ts)
if ('count' in devicesArg && K === 1) await init();
else await usage(() => initOn(devicesArg));
if (args._[0] === 'predict') {
  await predict(args._.slice(1));
  process.exit(0);
}

// ---- data -------------------------------------------------------------------------------------
const IMG = new Set(['.png', '.jpg', '.jpeg']);
const subdirs = (d: string) =>
  readdirSync(d)
    .filter((n) => !n.startsWith('.') && statSync(join(d, n)).isDirectory())
    .sort();
const imagesIn = (d: string) =>
  readdirSync(d)
    .filter((n) => IMG.has(extname(n).toLowerCase()))
    .sort()
    .map((n) => join(d, n));

function shuffle<T>(xs: T[], r: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

interface Item {
  path: string;
  label: number;
}
function listFolder(root: string): { classes: string[]; train: Item[]; val: Item[] } {
  if (!root || !existsSync(root)) throw new Error(`--data: folder '${root}' not found (want DIR/<class>/*.png|jpg or DIR/train/<class> + DIR/val/<class>)`);
  const hasSplit = existsSync(join(root, 'train')) && existsSync(join(root, 'val'));
  const trainRoot = hasSplit ? join(root, 'train') : root;
  const classes = subdirs(trainRoot);
  if (classes.length < 2) throw new Error(`--data: '${trainRoot}' has ${classes.length} class folder(s); need at least 2`);
  const r = mulberry32(args.seed + 17);
  const train: Item[] = [],
    val: Item[] = [];
  classes.forEach((c, label) => {
    let files = shuffle(imagesIn(join(trainRoot, c)), r);
    if (!files.length) throw new Error(`--data: class folder '${join(trainRoot, c)}' has no .png/.jpg images`);
    if (hasSplit) {
      if (existsSync(join(root, 'val', c))) val.push(...imagesIn(join(root, 'val', c)).map((path) => ({ path, label })));
    } else {
      const nVal = Math.max(1, Math.round(files.length * args['val-split']));
      val.push(...files.slice(0, nVal).map((path) => ({ path, label })));
      files = files.slice(nVal);
    }
    if (args['max-per-class'] > 0) files = files.slice(0, args['max-per-class']);
    train.push(...files.map((path) => ({ path, label })));
  });
  if (hasSplit) for (const c of subdirs(join(root, 'val'))) if (!classes.includes(c)) throw new Error(`--data: val class '${c}' has no train folder`);
  return { classes, train, val };
}

/** Decodes an image, resizes its shorter side to `short` (bilinear), returns 8-bit CHW (RGB). */
function loadResized(path: string, short: number): { data: Uint8Array; h: number; w: number } {
  const img = readImage(path);
  const s = short / Math.min(img.width, img.height);
  const h = Math.max(1, Math.round(img.height * s)),
    w = Math.max(1, Math.round(img.width * s));
  const f = resizeBilinearCHW(pixelsToCHW(img, 3), 3, img.height, img.width, h, w);
  return { data: Uint8Array.from(f, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255)), h, w };
}

/** Centre crop `size` of a decoded image, normalised into `out` at `off`. */
function centreCrop(img: { data: Uint8Array; h: number; w: number }, size: number, out: Float32Array, off: number) {
  const y0 = Math.floor((img.h - size) / 2),
    x0 = Math.floor((img.w - size) / 2);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const yy = Math.min(img.h - 1, Math.max(0, y0 + y)),
          xx = Math.min(img.w - 1, Math.max(0, x0 + x));
        out[off + (c * size + y) * size + x] = (img.data[(c * img.h + yy) * img.w + xx] / 255 - MEAN[c]) / STD[c];
      }
}

/**
 * Random resized crop + rotation + flip as one inverse map (output pixel → source point, bilinear,
 * zero outside), then colour jitter, random grayscale and normalisation.
 */
function augment(img: { data: Uint8Array; h: number; w: number }, size: number, r: () => number, out: Float32Array, off: number) {
  const [s0, s1] = nums(args['crop-scale']);
  const area = img.h * img.w;
  let cw = Math.min(img.w, img.h),
    ch = cw,
    cx = img.w / 2,
    cy = img.h / 2;
  for (let t = 0; t < 10; t++) {
    const a = area * (s0 + (s1 - s0) * r());
    const ratio = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * r());
    const w = Math.round(Math.sqrt(a * ratio)),
      h = Math.round(Math.sqrt(a / ratio));
    if (w > 0 && h > 0 && w <= img.w && h <= img.h) {
      const x0 = Math.floor(r() * (img.w - w + 1)),
        y0 = Math.floor(r() * (img.h - h + 1));
      cw = w;
      ch = h;
      cx = x0 + w / 2;
      cy = y0 + h / 2;
      break;
    }
  }
  const flip = r() < args.hflip ? -1 : 1,
    vflip = r() < args.vflip ? -1 : 1;
  const th = ((r() * 2 - 1) * args.rotate * Math.PI) / 180,
    cos = Math.cos(th),
    sin = Math.sin(th);
  const j = args.jitter;
  const bright = 1 + j * (2 * r() - 1),
    contrast = 1 + j * (2 * r() - 1),
    sat = 1 + j * (2 * r() - 1);
  const gray = r() < args.grayscale;
  const n = size * size,
    px = new Float32Array(3 * n);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const u = ((x + 0.5) / size - 0.5) * cw * flip,
        v = ((y + 0.5) / size - 0.5) * ch * vflip;
      const sx = cx + cos * u - sin * v - 0.5,
        sy = cy + sin * u + cos * v - 0.5;
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy),
        tx = sx - x0,
        ty = sy - y0;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => (yy < 0 || yy >= img.h || xx < 0 || xx >= img.w ? 0 : img.data[(c * img.h + yy) * img.w + xx] / 255);
        px[c * n + y * size + x] = (at(y0, x0) * (1 - tx) + at(y0, x0 + 1) * tx) * (1 - ty) + (at(y0 + 1, x0) * (1 - tx) + at(y0 + 1, x0 + 1) * tx) * ty;
      }
    }
  let meanGray = 0;
  for (let i = 0; i < n; i++) meanGray += 0.299 * px[i] + 0.587 * px[n + i] + 0.114 * px[2 * n + i];
  meanGray = (meanGray / n) * bright;
  for (let i = 0; i < n; i++) {
    let rr = px[i] * bright,
      gg = px[n + i] * bright,
      bb = px[2 * n + i] * bright;
    [rr, gg, bb] = [rr, gg, bb].map((v) => (v - meanGray) * contrast + meanGray);
    const g = 0.299 * rr + 0.587 * gg + 0.114 * bb;
    [rr, gg, bb] = gray ? [g, g, g] : [rr, gg, bb].map((v) => (v - g) * sat + g);
    [rr, gg, bb].forEach((v, c) => {
      out[off + c * n + i] = (Math.min(1, Math.max(0, v)) - MEAN[c]) / STD[c];
    });
  }
}

/**
 * The same augmentation on the GPU for a whole batch: the decoded images (of different sizes) are
 * padded into one [B, 3, maxH, maxW] canvas with each image at the top left, so each sample's own
 * crop/flip/rotation matrix (drawn for its own size) addresses it directly; zero fill outside.
 */
function gpuAugment(imgs: { data: Uint8Array; h: number; w: number }[], size: number, key: Key): Tensor {
  const B = imgs.length,
    H = Math.max(...imgs.map((im) => im.h)),
    W = Math.max(...imgs.map((im) => im.w));
  const canvas = new Float32Array(B * 3 * H * W);
  imgs.forEach((im, b) => {
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < im.h; y++) {
        const src = (c * im.h + y) * im.w,
          dst = ((b * 3 + c) * H + y) * W;
        for (let x = 0; x < im.w; x++) canvas[dst + x] = im.data[src + x] / 255;
      }
  });
  const [kGeo, kColour] = random.split(key);
  const theta = new Float32Array(6 * B);
  imgs.forEach((im, b) =>
    theta.set(
      sampleGeometry(random.foldIn(kGeo, b), 1, [im.h, im.w], {
        size,
        crop: 'resizedCrop',
        scale: nums(args['crop-scale']) as [number, number],
        hflip: args.hflip,
        vflip: args.vflip,
        degrees: args.rotate,
      }),
      6 * b,
    ),
  );
  const j = args.jitter;
  return tidy(() => {
    const x = affineResample(tensor(canvas, { shape: [B, 3, H, W] }), theta, { size });
    const jittered =
      j > 0 || args.hue > 0 || args.grayscale > 0
        ? colorJitter(x, kColour, {
            brightness: j || undefined,
            contrast: j || undefined,
            saturation: j || undefined,
            hue: args.hue || undefined,
            grayscale: args.grayscale,
          })
        : x;
    return normalize(jittered, MEAN, STD);
  });
}

// ---- model and weights ---------------------------------------------------------------------------
const { classes, train, val } = listFolder(args.data);
const SIZE = args.size,
  RESIZE = args.resize || Math.round((SIZE * 256) / 224);
const planes = args.planes ? (nums(args.planes) as [number, number, number, number]) : undefined;
if (args.pretrained && (args.init || planes)) throw new Error('--pretrained imagenet brings its own weights and widths; leave out --init and --planes');
/** Keras's ImageNet ResNet-50: its configuration, and its state_dict with conv1 taking RGB (channels reversed once). */
const imagenet = args.pretrained ? await pretrainedResNet50Weights({ log: console.log }) : undefined;
let layout: ResNetConfig = { model: args.model as ResNetName, planes };
if (imagenet) {
  const { model: m, strideIn1x1, convBias, bnEps } = imagenet.config;
  layout = { model: m, strideIn1x1, convBias, bnEps };
  // (x·255 − mean_bgr) with the channels reversed = RGB normalisation with these numbers
  MEAN = [...KERAS_CAFFE_MEAN_BGR].reverse().map((m) => m / 255);
  STD = [1 / 255, 1 / 255, 1 / 255];
}
const model = resnet({ ...layout, numClasses: classes.length });
const root = random.key(args.seed);
const [initKey] = random.split(root);
let { params, state } = model.init(initKey);
const pretrained = !!args.init || !!imagenet;

/** conv1's [O, 3, kH, kW] weight with its input channels in reverse order (BGR-trained → RGB input). */
function reverseInputChannels(w: HostTensor): HostTensor {
  const [O, I, H, W] = w.shape,
    src = w.data as Float32Array,
    dst = new Float32Array(src.length),
    P = H * W;
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) dst.set(src.subarray((o * I + i) * P, (o * I + i + 1) * P), (o * I + (I - 1 - i)) * P);
  return new HostTensor('float32', [O, I, H, W], dst);
}

if (pretrained) {
  const sd = await readStateDict(imagenet ? imagenet.path : args.init);
  if (imagenet) sd['conv1.weight'] = reverseInputChannels(sd['conv1.weight']);
  const fcFits = ['weight', 'bias'].every((k) => sd[`fc.${k}`] && sd[`fc.${k}`].shape[0] === classes.length);
  const kept = Object.fromEntries(Object.entries(sd).filter(([k]) => fcFits || !isResNetHead(k)));
  const p = loadStateDict(params, kept, { strict: false }),
    s = loadStateDict(state, kept, { strict: false });
  const missing = [...p.missing, ...s.missing].filter((k) => !isResNetHead(k) && !k.endsWith('num_batches_tracked'));
  const bad = [...p.shapeMismatch, ...s.shapeMismatch];
  if (missing.length || bad.length)
    throw new Error(
      `${imagenet ? '--pretrained imagenet' : `--init ${args.init}`}: does not fit ${args.model}${planes ? ` with planes ${planes}` : ''}: ${missing.length} missing (${missing.slice(0, 5).join(', ')}), ${bad.length} of another shape (${bad
        .slice(0, 5)
        .map((b) => b.key)
        .join(', ')})`,
    );
  const replaced = tree.tensors([params, state]).filter((t, i) => tree.tensors([p.params, s.params])[i] !== t);
  replaced.forEach((t) => t.dispose());
  params = p.params;
  state = s.params;
  console.log(
    `initialised from ${imagenet ? `${imagenet.path} (Keras ImageNet ResNet-50, conv1 taking RGB)` : args.init}${fcFits ? '' : ` (new ${classes.length}-class head; the file's fc was dropped)`}`,
  );
}
const nParams = tree.tensors(params).reduce((s, t) => s + t.size, 0);
console.log(
  `${imagenet ? 'resnet50 (Keras layout)' : args.model}${planes ? ` planes [${planes}]` : ''}: ${nParams.toLocaleString()} parameters; ${classes.length} classes; ${train.length} train / ${val.length} val images; size ${SIZE}`,
);

const t0load = performance.now();
const trainImgs = train.map((it) => loadResized(it.path, RESIZE));
const valX = new Float32Array(val.length * 3 * SIZE * SIZE);
val.forEach((it, i) => centreCrop(loadResized(it.path, RESIZE), SIZE, valX, i * 3 * SIZE * SIZE));
console.log(`decoded images in ${((performance.now() - t0load) / 1000).toFixed(1)} s`);

// ---- training ---------------------------------------------------------------------------------
const stepsPerEpoch = Math.ceil(train.length / args.batch);
const ce = (logits: Tensor, t: Tensor) => crossEntropy(logits, t, { labelSmoothing: args['label-smoothing'] });
/** Loss of the head given a fixed backbone (phase 1: only the head is differentiated, the backbone's backward never runs). */
const headStep = valueAndGrad(
  (head: any, backbone: any, st: any, x: Tensor, t: Tensor) => {
    const out = model.apply({ ...backbone, fc: head }, st, x, { training: true });
    return [ce(out.y, t), { state: out.state, logits: out.y }];
  },
  { hasAux: true },
);
const fullStep = valueAndGrad(
  (p: any, st: any, x: Tensor, t: Tensor) => {
    const out = model.apply(p, st, x, { training: true });
    return [ce(out.y, t), { state: out.state, logits: out.y }];
  },
  { hasAux: true },
);

function makeOptimizer(lr: number, phase: 1 | 2) {
  const schedule = schedules.stepLR(lr, { stepSize: args['step-size'] * stepsPerEpoch, gamma: args.gamma });
  const groups =
    phase === 1 ? [{ match: isResNetHead }, { match: () => true, frozen: true }] : [{ match: isResNetHead, lrScale: pretrained ? args['head-lr-scale'] : 1 }];
  const wd = args['weight-decay'];
  return args.optimizer === 'adam'
    ? optim.adam({ lr: schedule, weightDecay: wd, groups })
    : optim.sgd({ lr: schedule, momentum: args.momentum, weightDecay: wd, groups });
}

/** top-1 and top-5 hits of a [B, K] logits block against labels. */
function hits(logits: Float32Array, labels: number[], K: number): [number, number] {
  let h1 = 0,
    h5 = 0;
  labels.forEach((y, b) => {
    const row = logits.subarray(b * K, (b + 1) * K);
    const rank = row.reduce((n, v) => n + (v > row[y] ? 1 : 0), 0);
    if (rank === 0) h1++;
    if (rank < 5) h5++;
  });
  return [h1, h5];
}

async function evaluate(): Promise<{ loss: number; top1: number; top5: number }> {
  let loss = 0,
    h1 = 0,
    h5 = 0;
  const per = 3 * SIZE * SIZE;
  for (let i = 0; i < val.length; i += args.batch) {
    const B = Math.min(args.batch, val.length - i);
    const labels = val.slice(i, i + B).map((v) => v.label);
    const r = tidy(() => {
      const x = tensor(valX.subarray(i * per, (i + B) * per), { shape: [B, 3, SIZE, SIZE] });
      const y = model.apply(params, state, x, { training: false }).y;
      return { y, loss: crossEntropy(y, tensor(Int32Array.from(labels), { shape: [B] }), { reduction: 'sum' }) };
    });
    const logits = Float32Array.from(await r.y.data());
    loss += await r.loss.item();
    const [a, b] = hits(logits, labels, classes.length);
    h1 += a;
    h5 += b;
    r.y.dispose();
    r.loss.dispose();
  }
  return { loss: loss / val.length, top1: h1 / val.length, top5: h5 / val.length };
}

mkdirSync(args.out, { recursive: true });
await writeFileAtomic(join(args.out, 'classes.json'), new TextEncoder().encode(`${JSON.stringify(classes, null, 2)}\n`));

const phases: { phase: 1 | 2; epochs: number; lr: number }[] = [];
if (pretrained && args['frozen-epochs'] > 0) phases.push({ phase: 1, epochs: args['frozen-epochs'], lr: args['head-lr'] || args.lr * args['head-lr-scale'] });
phases.push({ phase: 2, epochs: args.epochs, lr: args.lr });

const best = { top1: -1, top5: 0, epoch: 0 };
const history: Record<string, number>[] = [];
let epoch = 0,
  globalStep = 0;
const tStart = performance.now();
const augRng = mulberry32(args.seed * 7919 + 1);
const augKey = random.foldIn(root, 7919);
if (args['augment-on'] !== 'gpu' && args['augment-on'] !== 'host') throw new Error(`--augment-on must be 'gpu' or 'host'; got '${args['augment-on']}'`);
const onGpu = args.augment && args['augment-on'] === 'gpu';
if (args.augment && !onGpu && args.hue > 0) throw new Error('--hue needs --augment-on gpu (the host augmentation has no hue jitter)');
let augSeconds = 0;
for (const { phase, epochs, lr } of phases) {
  const opt = makeOptimizer(lr, phase);
  let optState = opt.init(params);
  console.log(
    phase === 1 ? `phase 1: backbone frozen, head lr ${lr}` : `phase 2: all layers, lr ${lr}${pretrained ? ` (head ×${args['head-lr-scale']})` : ''}`,
  );
  // several devices: the replica (src/cli/replicas/resnet.ts) carries this phase's optimizer, one trainer per phase
  let dp: ParallelTrainer | null = null;
  if (K > 1) {
    const settings = {
      ...RESNET_REPLICA_DEFAULTS,
      model: layout.model ?? 'resnet18',
      planes: planes ?? null,
      numClasses: classes.length,
      strideIn1x1: layout.strideIn1x1 ?? false,
      convBias: layout.convBias ?? false,
      bnEps: layout.bnEps ?? 1e-5,
      optimizer: args.optimizer,
      lr,
      momentum: args.momentum,
      weightDecay: args['weight-decay'],
      stepSize: args['step-size'] * stepsPerEpoch,
      gamma: args.gamma,
      labelSmoothing: args['label-smoothing'],
      phase,
      headLrScale: pretrained ? args['head-lr-scale'] : 1,
    };
    dp = await usage(() =>
      openParallelTrainer({
        devices: devicesArg,
        threads: args.threads,
        syncBatchNorm: args['sync-bn'],
        replica: args.threads ? resnetReplicaUrl(settings) : resnetReplica(settings),
        start: { params, state, optState, step: 0 },
        seed: args.seed,
      }),
    );
    console.log(`data parallel: ${dp.describe()}`);
  }
  for (let e = 0; e < epochs; e++) {
    epoch++;
    const te = performance.now();
    const lrNow = opt.learningRate(optState),
      lrHead = opt.learningRate(optState, 'fc.weight');
    const order = shuffle(
      train.map((_, i) => i),
      augRng,
    );
    let lossSum = 0,
      h1 = 0,
      h5 = 0;
    for (let s = 0; s < order.length; s += args.batch) {
      const idx = order.slice(s, s + args.batch),
        B = idx.length;
      // a last batch smaller than the device count cannot be split: it is left out (as drop_last)
      if (dp && B < K) continue;
      const ta = performance.now();
      let xb: Float32Array | Tensor;
      if (onGpu)
        xb = gpuAugment(
          idx.map((k) => trainImgs[k]),
          SIZE,
          random.foldIn(augKey, globalStep),
        );
      else {
        const per = 3 * SIZE * SIZE;
        xb = new Float32Array(B * per);
        idx.forEach((k, b) =>
          args.augment ? augment(trainImgs[k], SIZE, augRng, xb as Float32Array, b * per) : centreCrop(trainImgs[k], SIZE, xb as Float32Array, b * per),
        );
      }
      augSeconds += (performance.now() - ta) / 1000;
      const labels = idx.map((k) => train[k].label);
      if (dp) {
        const image = xb instanceof Tensor ? Float32Array.from(await xb.data()) : xb;
        if (xb instanceof Tensor) xb.dispose();
        const r = await dp.step({ image: { data: image, shape: [B, 3, SIZE, SIZE] }, label: { data: Int32Array.from(labels), shape: [B] } });
        globalStep++;
        lossSum += r.loss * B;
        // the replicas' logits stay on their devices: no training accuracy with several devices
        h1 = h5 = NaN;
        continue;
      }
      const oldState = state;
      const r = tidy(() => {
        const x = xb instanceof Float32Array ? tensor(xb, { shape: [B, 3, SIZE, SIZE] }) : xb,
          t = tensor(Int32Array.from(labels), { shape: [B] });
        if (phase === 1) {
          const { fc, ...backbone } = params;
          const [[loss, aux], g] = headStep(fc, backbone, state, x, t);
          // frozen parameters are neither updated nor donated
          const u = opt.update({ fc: g }, optState, params, { donate: true });
          return { loss, logits: aux.logits as Tensor, state: aux.state, params: u.params, optState: u.state };
        }
        const [[loss, aux], g] = fullStep(params, state, x, t);
        const u = opt.update(g, optState, params, { donate: true });
        return { loss, logits: aux.logits as Tensor, state: aux.state, params: u.params, optState: u.state };
      });
      tree.dispose(oldState);
      if (xb instanceof Tensor) xb.dispose();
      ({ params, state, optState } = r);
      globalStep++;
      lossSum += (await r.loss.item()) * B;
      const [a, b] = hits(Float32Array.from(await r.logits.data()), labels, classes.length);
      h1 += a;
      h5 += b;
      r.loss.dispose();
      r.logits.dispose();
    }
    if (dp) ({ params, state, optState } = await dp.pull({ params, state, optState }));
    const v = await evaluate();
    const secs = (performance.now() - te) / 1000;
    const row = {
      epoch,
      phase,
      trainLoss: lossSum / train.length,
      trainTop1: h1 / train.length,
      trainTop5: h5 / train.length,
      valLoss: v.loss,
      valTop1: v.top1,
      valTop5: v.top5,
      lr: lrNow,
      lrHead,
      seconds: secs,
    };
    history.push(row);
    const improved = v.top1 > best.top1;
    console.log(
      `epoch ${String(epoch).padStart(2)} [phase ${phase}]  train loss ${row.trainLoss.toFixed(4)} top1 ${pct(row.trainTop1)} top5 ${pct(row.trainTop5)}  |  val loss ${v.loss.toFixed(4)} top1 ${(100 * v.top1).toFixed(1)}% top5 ${(100 * v.top5).toFixed(1)}%  |  lr ${lrNow.toPrecision(3)} head ${lrHead.toPrecision(3)}  ${secs.toFixed(1)} s${improved ? '  *best' : ''}`,
    );
    if (improved) {
      Object.assign(best, { top1: v.top1, top5: v.top5, epoch });
      await saveTrainingCheckpoint(join(args.out, 'best.safetensors'), {
        params,
        state,
        optState,
        step: globalStep,
        meta: {
          model: layout.model,
          planes: planes ?? null,
          strideIn1x1: layout.strideIn1x1 ?? false,
          convBias: layout.convBias ?? false,
          bnEps: layout.bnEps ?? 1e-5,
          numClasses: classes.length,
          size: SIZE,
          resize: RESIZE,
          mean: MEAN,
          std: STD,
          epoch,
          valTop1: v.top1,
          valTop5: v.top5,
        },
      });
    }
  }
  await dp?.close();
  tree.dispose(optState.slots);
}
const total = (performance.now() - tStart) / 1000;
const nImages = history.length ? train.length * history.length : 0;
console.log(
  `training: ${(nImages / total).toFixed(1)} images/s overall (incl. evaluation); batch preparation ${augSeconds.toFixed(1)} s (${args.augment ? `augmentation on the ${onGpu ? 'GPU' : 'host'}` : 'no augmentation'})`,
);
console.log(
  `best val top1 ${(100 * best.top1).toFixed(2)}% (top5 ${(100 * best.top5).toFixed(2)}%) at epoch ${best.epoch}; ${total.toFixed(1)} s; checkpoint ${join(args.out, 'best.safetensors')}`,
);
await writeFileAtomic(
  join(args.out, 'summary.json'),
  new TextEncoder().encode(
    `${JSON.stringify({ best, history, seconds: total, augmentOn: args.augment ? args['augment-on'] : 'off', augmentSeconds: augSeconds, train: train.length, val: val.length, classes, pretrained: args.init || (imagenet ? 'imagenet' : null) }, null, 2)}\n`,
  ),
);
process.exit(0);

// ---- predict ---------------------------------------------------------------------------------------
async function predict(files: string[]) {
  if (!args.ckpt) throw new Error('predict needs --ckpt PATH (a best.safetensors written by training)');
  if (!files.length) throw new Error('predict needs image files after the options');
  const { metadata } = await loadSafetensors(args.ckpt);
  const meta = JSON.parse(metadata?.meta ?? '{}');
  if (!meta.numClasses) throw new Error(`${args.ckpt}: no model description in its metadata (was it written by finetune-resnet?)`);
  const classesPath = join(dirname(args.ckpt), 'classes.json');
  const names: string[] = existsSync(classesPath)
    ? JSON.parse(readFileSync(classesPath, 'utf8'))
    : Array.from({ length: meta.numClasses }, (_, i) => String(i));
  const m = resnet({
    model: meta.model,
    planes: meta.planes ?? undefined,
    numClasses: meta.numClasses,
    strideIn1x1: meta.strideIn1x1,
    convBias: meta.convBias,
    bnEps: meta.bnEps,
  });
  const fresh = m.init(random.key(0));
  const { loadInitialWeights } = await import('../src/io/load-weights');
  const { params: p, state: s } = await loadInitialWeights(args.ckpt, fresh.params, fresh.state);
  const size = meta.size as number;
  for (const f of files) {
    MEAN = meta.mean;
    STD = meta.std;
    const x = new Float32Array(3 * size * size);
    centreCrop(loadResized(f, meta.resize), size, x, 0);
    const probs = tidy(() => softmax(m.apply(p, s, tensor(x, { shape: [1, 3, size, size] }), { training: false }).y, 1));
    const pr = Float32Array.from(await probs.data());
    probs.dispose();
    const top = [...pr.keys()].sort((a, b) => pr[b] - pr[a]).slice(0, args.topk);
    console.log(`${f}: ${top.map((k) => `${names[k]} ${(100 * pr[k]).toFixed(1)}%`).join(', ')}`);
  }
  tree.dispose([p, s]);
}
