/**
 * Neural style transfer (d2l, "Neural Style Transfer"), with the ImageNet ResNet-50's stage outputs in
 * place of VGG-19's layers:
 *
 *   npm run style-transfer                                  # chelsea.png in a procedural brush-stroke style
 *   npm run style-transfer -- --style test/fixtures/coffee.jpg --size 150 --steps 200 --lr-step 50
 *
 * The recipe is d2l's: the synthesised image is the only parameter, initialised with the content image;
 * content loss (MSE of features) on one layer, style loss (MSE of Gram matrices) on several, total
 * variation against noise; Adam with StepLR (×0.8 every --lr-step steps). Layers (ResNet stages, strides 4, 8, 16):
 * content = layer2 (stride 8, like d2l's conv4_4 of VGG-19), style = layer1, layer2, layer3 (d2l takes the
 * first conv of each VGG block; ResNet's stages are its blocks). Only the first three stages are computed.
 * The image is optimised in [0, 1] RGB and the network's preprocessing is applied inside the loss, so
 * the learning rate is in pixel units (d2l's 0.3 is in ImageNet-normalised units, about 0.07 of a pixel range).
 * Defaults for a short run on 2 CPU cores: 96×144 (d2l: 300×450), 30 steps with the lr ×0.8 every 10 (d2l: 500,
 * every 50), lr 0.05, weights content 1, style 3e5, TV 10 (d2l: 1, 1e4, 10; ResNet-50's stage Grams are smaller
 * than VGG-19's: at 1e4 the style term barely changes the image in a short run).
 *
 * Writes OUT/result.png (the synthesised image), OUT/progress.png (content | style | snapshots at
 * evenly spaced steps | result) and OUT/summary.json (settings, seconds, the loss history).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { init, random, tensor, normalize, pretrainedResNet50, type Tensor } from '../src/node';
import { preprocessKerasResNet } from '../src/models';
import { resnet } from '../src/models/resnet';
import { readImage, pixelsToCHW, chwToPixels, writePng } from '../src/io/images';
import { writeFileAtomic } from '../src/io/files';
import { resizeBilinearCHW } from '../src/train/data/resize-host';
import { parseArgsOrExit } from '../src/cli/args';
import { mulberry32 } from '../src/base/mulberry32';
import { valueNoise, hsv } from '../src/base/procedural';
import { styleTransfer, type StepLosses } from './style-transfer-core';

const args = parseArgsOrExit(
  process.argv.slice(2),
  {
    content: { default: 'test/fixtures/chelsea.png', help: 'content image (PNG or JPEG)' },
    style: { default: 'procedural', help: "style image (PNG or JPEG), or 'procedural' for a generated brush-stroke texture" },
    size: { default: 96, int: true, min: 32, max: 1024, help: 'height of the synthesised image; the width keeps the content aspect ratio' },
    steps: { default: 30, int: true, min: 1, help: 'Adam steps (d2l: 500 epochs of one step; 30 keeps the default run to a few minutes on 2 CPU cores)' },
    lr: { default: 0.05, min: 0, minExclusive: true, help: "Adam learning rate in [0, 1] pixel units (d2l's 0.3 is in normalised units)" },
    'lr-step': { default: 10, int: true, min: 1, help: 'StepLR: multiply the lr by --lr-gamma every this many steps (d2l: 50 of 500)' },
    'lr-gamma': { default: 0.8, min: 0, max: 1, help: 'StepLR factor (d2l: 0.8)' },
    'content-weight': { default: 1, min: 0, help: 'content loss weight (d2l: 1)' },
    'style-weight': { default: 3e5, min: 0, help: "style loss weight (d2l: 1e4 for VGG-19; ResNet-50's stage Grams are smaller, tuned to 3e5)" },
    'tv-weight': { default: 10, min: 0, help: 'total variation weight (d2l: 10)' },
    weights: {
      default: 'imagenet',
      choices: ['imagenet', 'random'],
      help: "feature network: imagenet (Keras's pretrained ResNet-50) or random (a random-init ResNet-50)",
    },
    snapshots: { default: 5, int: true, min: 0, max: 20, help: 'intermediate images in the progress strip' },
    seed: { default: 0, int: true, help: 'seed of the procedural style and of a random network' },
    out: { default: 'runs/style-transfer', help: 'output folder' },
  },
  'usage: style-transfer [options]',
  'style-transfer',
);

await init();
const t0 = performance.now();

// ---- images -----------------------------------------------------------------------------------
interface Planes {
  data: Float32Array; // [3, h, w] in [0, 1]
  h: number;
  w: number;
}
/** A missing or unreadable image is a usage error: one line, exit code 2. */
function readOrExit(path: string) {
  try {
    return readImage(path);
  } catch (e) {
    console.error(`style-transfer: cannot read '${path}': ${String((e as Error).message ?? e).split('\n')[0]}`);
    process.exit(2);
  }
}

/** Decodes and resizes to h×w: halvings first (each a 2×2 average), so a large shrink does not alias, then bilinear. */
function loadResized(path: string, h: number, w: number): Planes {
  const img = readOrExit(path);
  let data = pixelsToCHW(img, 3),
    ch = img.height,
    cw = img.width;
  while (ch >= 2 * h && cw >= 2 * w) {
    data = resizeBilinearCHW(data, 3, ch, cw, Math.floor(ch / 2), Math.floor(cw / 2));
    ch = Math.floor(ch / 2);
    cw = Math.floor(cw / 2);
  }
  return { data: resizeBilinearCHW(data, 3, ch, cw, h, w), h, w };
}

/**
 * A painterly texture: short brush strokes (stripes whose direction and phase wander with value noise)
 * in colours drawn from a smooth hue field: strong, multi-scale structure for the Gram matrices to carry.
 */
function brushTexture(h: number, w: number, seed: number): Planes {
  const r = mulberry32(seed);
  const cell = Math.max(4, Math.round(h / 4));
  const hue = valueNoise(r, h, w, cell, 3, Float64Array);
  const angle = valueNoise(r, h, w, cell, 2, Float64Array);
  const phase = valueNoise(r, h, w, Math.max(2, cell / 2), 2, Float64Array);
  const period = Math.max(4, h / 16);
  const data = new Float32Array(3 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const a = angle[i] * 2 * Math.PI;
      const stripe = 0.5 + 0.5 * Math.sin((2 * Math.PI * (x * Math.cos(a) + y * Math.sin(a))) / period + 8 * phase[i]);
      const [cr, cg, cb] = hsv(0.5 + 0.6 * hue[i], 0.75, 0.3 + 0.7 * stripe);
      data[i] = cr;
      data[h * w + i] = cg;
      data[2 * h * w + i] = cb;
    }
  }
  return { data, h, w };
}

const probe = readOrExit(args.content);
const H = args.size,
  W = Math.max(1, Math.round((probe.width / probe.height) * H));
const content = loadResized(args.content, H, W);
const style = args.style === 'procedural' ? brushTexture(H, W, args.seed) : loadResized(args.style, H, W);
const asTensor = (p: Planes) => tensor(p.data, { shape: [1, 3, p.h, p.w] });

// ---- the feature network: ResNet-50, stages 1..3 ------------------------------------------------
// imagenet: Keras's ResNet-50 (fetched once into the cache), fed its own 'caffe' preprocessing;
// random: a torchvision-initialised ResNet-50 with ImageNet normalisation (no download; features are not meaningful)
async function featureNetwork() {
  if (args.weights === 'imagenet') return { ...(await pretrainedResNet50({ log: (l) => console.log(l) })), preprocess: preprocessKerasResNet };
  const model = resnet({ model: 'resnet50' });
  return { model, ...model.init(random.key(args.seed)), preprocess: (x: Tensor) => normalize(x) };
}
const { model, params, state, preprocess } = await featureNetwork();
/** Image in [0, 1] → [layer1, layer2, layer3] (stage 4 is not computed). No tidy: under the gradient trace the tape owns the intermediates. */
const extract = (x: Tensor): Tensor[] => model.features(params, state, preprocess(x), { training: false }, { stages: 3 }).stages;
const CONTENT_LAYERS = [1],
  STYLE_LAYERS = [0, 1, 2];

// ---- run --------------------------------------------------------------------------------------
mkdirSync(args.out, { recursive: true });
const snapshotAt = new Set(Array.from({ length: args.snapshots }, (_, k) => Math.round(((k + 1) * args.steps) / (args.snapshots + 1)) - 1));
const snapshots: { step: number; pixels: Float32Array }[] = [];
const fmt = (l: StepLosses) => `content ${l.content.toFixed(3)}, style ${l.style.toFixed(3)}, TV ${l.tv.toFixed(3)}, total ${l.total.toFixed(3)}`;
const contentT = asTensor(content),
  styleT = asTensor(style);
console.log(
  `style-transfer: ${args.content} in the style of ${args.style}, ${H}×${W}, ResNet-50 (${args.weights}), ${args.steps} steps, lr ${args.lr} ×${args['lr-gamma']}/${args['lr-step']}, weights content ${args['content-weight']} style ${args['style-weight']} TV ${args['tv-weight']}`,
);
let tStep = performance.now();
const { image, history } = await styleTransfer({
  extract,
  content: contentT,
  style: styleT,
  contentLayers: CONTENT_LAYERS,
  styleLayers: STYLE_LAYERS,
  weights: { content: args['content-weight'], style: args['style-weight'], tv: args['tv-weight'] },
  lr: args.lr,
  lrStepSize: args['lr-step'],
  lrGamma: args['lr-gamma'],
  steps: args.steps,
  async onStep(step, losses, img) {
    if ((step + 1) % 10 === 0 || step === 0 || step === args.steps - 1) {
      const now = performance.now();
      console.log(`step ${String(step + 1).padStart(4)}: ${fmt(losses)}  (${((now - tStep) / 1000).toFixed(1)} s)`);
      tStep = now;
    }
    if (snapshotAt.has(step)) snapshots.push({ step: step + 1, pixels: (await img.data()) as Float32Array }); // (1, 3, H, W): CHW order
  },
});
const result = (await image.data()) as Float32Array;
image.dispose();
contentT.dispose();
styleT.dispose();
const seconds = (performance.now() - t0) / 1000;

// ---- outputs ----------------------------------------------------------------------------------
await writePng(join(args.out, 'result.png'), chwToPixels(result, 3, H, W), W, H, 3);
/** content | style | snapshots… | result, side by side with 4-pixel white gaps. */
const panels = [content.data, style.data, ...snapshots.map((s) => s.pixels), result];
const GAP = 4,
  SW = panels.length * W + (panels.length - 1) * GAP;
const strip = new Uint8Array(SW * H * 3).fill(255);
panels.forEach((p, k) => {
  const px = chwToPixels(p, 3, H, W);
  for (let y = 0; y < H; y++) strip.set(px.subarray(y * W * 3, (y + 1) * W * 3), (y * SW + k * (W + GAP)) * 3);
});
await writePng(join(args.out, 'progress.png'), strip, SW, H, 3);
const summary = {
  content: args.content,
  style: args.style,
  size: [H, W],
  network: `resnet50 (${args.weights})`,
  contentLayers: CONTENT_LAYERS.map((i) => `layer${i + 1}`),
  styleLayers: STYLE_LAYERS.map((i) => `layer${i + 1}`),
  steps: args.steps,
  lr: args.lr,
  lrStep: args['lr-step'],
  lrGamma: args['lr-gamma'],
  weights: { content: args['content-weight'], style: args['style-weight'], tv: args['tv-weight'] },
  seconds: Math.round(seconds * 10) / 10,
  progressStrip: ['content', 'style', ...snapshots.map((s) => `step ${s.step}`), `result (step ${args.steps})`],
  first: history[0],
  last: history[history.length - 1],
  history,
};
await writeFileAtomic(join(args.out, 'summary.json'), new TextEncoder().encode(`${JSON.stringify(summary, null, 1)}\n`));
console.log(`first step: ${fmt(history[0])}`);
console.log(`last step:  ${fmt(history[history.length - 1])}`);
console.log(`wrote ${join(args.out, 'result.png')}, ${join(args.out, 'progress.png')} and summary.json in ${seconds.toFixed(1)} s`);
