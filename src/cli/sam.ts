/**
 * `webgrad sam`: Segment Anything on one image, with prompts or the automatic mask generator.
 *   webgrad sam photo.jpg --point 200,150 --point 260,90,0 --checkpoint sam_vit_b_01ec64.pth --out masks
 *   webgrad sam photo.jpg --box 40,30,400,300 --checkpoint sam_vit_b_01ec64.pth --out masks
 *   webgrad sam photo.jpg --auto --checkpoint sam_vit_b_01ec64.pth --cache .cache/sam --out masks
 * Prompts are in the image's pixels; a point's label is 1 (foreground, the default) or 0 (background). Writes into
 * --out: NAME.mask-K.png (each predicted mask, grey 0/255) and NAME.overlay.png (the best mask by predicted IoU over
 * the photo, prompts marked); with --auto, NAME.auto-K.png per mask, NAME.auto.json (the records: bbox XYWH, area,
 * predicted IoU, stability score, point, crop box) and NAME.overlay.png (every mask in its own colour, largest
 * first). --cache DIR keeps image embeddings (safetensors) so a second run on the same image skips the encoder.
 * Without --checkpoint the model has random weights: the masks are meaningless (shapes and plumbing only); --model
 * tiny is a small configuration for tests.
 */
import { writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { init, random, tree } from '../node';
import { readImage, writePng, type RGBAImage } from '../io/images';
import { samConfig, type SamConfig } from '../models/sam/config';
import { sam, type SamParams, type SamState } from '../models/sam/sam';
import { loadSamCheckpoint } from '../sam/node/checkpoint';
import { SamAutomaticMaskGenerator } from '../sam/amg';
import { setImageCached, weightsIdentity } from '../sam/node/embedding-cache';
import { SamPredictor } from '../sam/predictor';
import type { ImageBytes } from '../sam/transforms';
import { parseArgs, UsageError } from './args';
import { checkInputFile, prepareOutDir } from './paths';

const USAGE = 'usage: webgrad sam IMAGE (--point x,y[,label] ... | --box x1,y1,x2,y2 | --auto) [options] --out DIR';
const MODELS = ['vit_b', 'vit_l', 'vit_h', 'tiny'] as const;
const SPEC = {
  point: { default: '', help: 'a point prompt x,y[,label] in image pixels (label 1 fg, 0 bg); repeat for more' },
  box: { default: '', help: 'a box prompt x1,y1,x2,y2 in image pixels' },
  auto: { default: false, help: 'automatic mask generation (a grid of point prompts) instead of prompts' },
  single: { default: false, help: 'one mask instead of three (multimask_output=False)' },
  model: { default: 'vit_b', help: "configuration (tiny: the official fixture's small one, for tests)", choices: MODELS },
  checkpoint: { default: '', help: 'official .pth checkpoint (e.g. sam_vit_b_01ec64.pth); empty = random weights' },
  seed: { default: 0, help: 'seed of the random weights (without --checkpoint)', int: true, min: 0 },
  cache: { default: '', help: 'folder caching image embeddings (safetensors); empty = none' },
  out: { default: '', help: 'folder for the masks and the overlay (required)' },
  'points-per-side': { default: 32, help: '--auto: grid points a side', int: true, min: 1, max: 256 },
  'points-per-batch': { default: 64, help: '--auto: prompts decoded at once', int: true, min: 1, max: 4096 },
  'pred-iou-thresh': { default: 0.88, help: '--auto: keep masks with predicted IoU above this', min: 0 },
  'stability-thresh': { default: 0.95, help: '--auto: keep masks with stability score at least this', min: 0 },
  'box-nms-thresh': { default: 0.7, help: '--auto: box IoU of duplicates', min: 0, max: 1 },
  'crop-n-layers': { default: 0, help: '--auto: crop layers', int: true, min: 0, max: 4 },
  'min-region-area': { default: 0, help: '--auto: remove islands and holes smaller than this (pixels)', int: true, min: 0 },
} as const;

/** The configuration the tests use: the official fixture's tiny model (test/fixtures/sam-official/tiny.json). */
const TINY: SamConfig = samConfig('vit_b', {
  encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 3, numHeads: 2, mlpRatio: 4, windowSize: 3, globalAttnIndexes: [1] },
  promptEmbedDim: 16,
  maskInChans: 16,
  decoder: { depth: 2, mlpDim: 32, numHeads: 2, numMultimaskOutputs: 3, iouHeadDepth: 3, iouHeadHiddenDim: 16 },
});

function numbers(flag: string, raw: string, counts: number[]): number[] {
  const v = raw.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
  if (!counts.includes(v.length) || !v.every(Number.isFinite))
    throw new UsageError(`--${flag} must be ${counts.join(' or ')} comma-separated numbers; got '${raw}'`);
  return v;
}

/** Pulls every `--point V` / `--point=V` out of argv (parseArgs keeps only the last of a repeated option). */
function takePoints(argv: string[]): { rest: string[]; points: string[] } {
  const rest: string[] = [];
  const points: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--point') {
      if (argv[i + 1] === undefined) throw new UsageError('--point needs a value');
      points.push(argv[++i]);
    } else if (a.startsWith('--point=')) points.push(a.slice(8));
    else rest.push(a);
  }
  return { rest, points };
}

/** Distinct colours (golden-ratio hues), RGB 0–255. */
function colour(i: number): [number, number, number] {
  const h = (i * 0.618033988749895 + 0.1) % 1;
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (1 - 0.75 * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/** The photo with each mask blended in its colour (alpha 0.5), masks painted in the given order. */
function overlay(img: RGBAImage, masks: Uint8Array[], marks: { x: number; y: number; fg: boolean }[] = [], box?: number[]): Uint8Array {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = data[4 * i + c];
  masks.forEach((m, k) => {
    const col = colour(k);
    for (let i = 0; i < w * h; i++) if (m[i]) for (let c = 0; c < 3; c++) out[3 * i + c] = Math.round(0.5 * out[3 * i + c] + 0.5 * col[c]);
  });
  const put = (x: number, y: number, col: number[]) => {
    if (x >= 0 && y >= 0 && x < w && y < h) for (let c = 0; c < 3; c++) out[3 * (y * w + x) + c] = col[c];
  };
  for (const { x, y, fg } of marks)
    for (let d = -4; d <= 4; d++) {
      const col = fg ? [0, 255, 0] : [255, 0, 0];
      put(Math.round(x) + d, Math.round(y), col);
      put(Math.round(x), Math.round(y) + d, col);
    }
  if (box) {
    const [x1, y1, x2, y2] = box.map(Math.round);
    for (let x = x1; x <= x2; x++) {
      put(x, y1, [0, 255, 0]);
      put(x, y2, [0, 255, 0]);
    }
    for (let y = y1; y <= y2; y++) {
      put(x1, y, [0, 255, 0]);
      put(x2, y, [0, 255, 0]);
    }
  }
  return out;
}

const grey = (m: Uint8Array): Uint8Array => m.map((v) => (v ? 255 : 0));

export async function run(argv: string[]): Promise<number> {
  const { rest, points: rawPoints } = takePoints(argv);
  const args = parseArgs(rest, SPEC, USAGE);
  if (args._.length !== 1) throw new UsageError(args._.length === 0 ? 'no input image' : `one image at a time; got ${args._.length}`);
  if (!args.out) throw new UsageError('--out DIR is required');
  const points = rawPoints.map((p) => numbers('point', p, [2, 3]));
  for (const p of points)
    if (p.length === 3 && p[2] !== 0 && p[2] !== 1) throw new UsageError(`--point label must be 1 (foreground) or 0 (background); got ${p[2]}`);
  const box = args.box ? numbers('box', args.box, [4]) : undefined;
  if (args.auto && (points.length || box)) throw new UsageError('--auto takes no --point or --box');
  if (!args.auto && !points.length && !box) throw new UsageError('give --point, --box or --auto');
  const file = checkInputFile('IMAGE', args._[0]);
  if (args.checkpoint) checkInputFile('--checkpoint', args.checkpoint);
  prepareOutDir('--out', args.out);
  if (args.cache) prepareOutDir('--cache', args.cache);
  const img = readImage(file);
  const stem = join(args.out, basename(file, extname(file)));

  const device = await init();
  console.error(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
  const config = args.model === 'tiny' ? TINY : samConfig(args.model as 'vit_b' | 'vit_l' | 'vit_h');
  const model = sam(config);
  let weightsId = `random-init:${args.model}:${args.seed}`;
  let weights: { params: SamParams; state: SamState };
  if (args.checkpoint) {
    // tensor by tensor from the file to the device: the checkpoint is never in memory whole
    weights = await loadSamCheckpoint(args.checkpoint, config);
    weightsId = await weightsIdentity(args.checkpoint);
    console.error(`weights: ${args.checkpoint}`);
  } else {
    weights = model.init(random.key(args.seed));
    console.error(`warning: no --checkpoint: random ${args.model} weights (seed ${args.seed}); the masks are meaningless (shapes and plumbing only)`);
  }
  const { params, state } = weights;
  const predictor = new SamPredictor(model, params, state);
  const t0 = performance.now();
  const setImage = async (image: ImageBytes) => {
    if (!args.cache) return predictor.setImage(image);
    const r = await setImageCached(predictor, image, { dir: args.cache, weightsId });
    console.error(`embedding: ${r.hit ? 'from cache' : 'computed, cached'} (${r.path})`);
  };
  try {
    if (args.auto) {
      const amg = new SamAutomaticMaskGenerator(predictor, {
        pointsPerSide: args['points-per-side'],
        pointsPerBatch: args['points-per-batch'],
        predIouThresh: args['pred-iou-thresh'],
        stabilityScoreThresh: args['stability-thresh'],
        boxNmsThresh: args['box-nms-thresh'],
        cropNLayers: args['crop-n-layers'],
        minMaskRegionArea: args['min-region-area'],
      });
      const recs = await amg.generate(img, { setImage: (crop) => setImage(crop) });
      const masks = recs.map((r) => r.segmentation as Uint8Array);
      for (let k = 0; k < masks.length; k++) await writePng(`${stem}.auto-${k}.png`, grey(masks[k]), img.width, img.height, 1);
      const meta = recs.map(({ segmentation: _, ...r }, k) => ({ id: k, file: `${basename(stem)}.auto-${k}.png`, ...r }));
      writeFileSync(`${stem}.auto.json`, `${JSON.stringify(meta, null, 1)}\n`);
      const byArea = recs.map((r, k) => ({ a: r.area, k })).sort((a, b) => b.a - a.a);
      await writePng(
        `${stem}.overlay.png`,
        overlay(
          img,
          byArea.map(({ k }) => masks[k]),
        ),
        img.width,
        img.height,
        3,
      );
      console.log(
        `${file}: ${img.width}×${img.height}, ${recs.length} masks → ${stem}.{auto-K,overlay}.png, ${stem}.auto.json (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    } else {
      await setImage(img);
      const r = await predictor.predict({
        pointCoords: points.length ? points.map((p) => [p[0], p[1]]) : undefined,
        pointLabels: points.length ? points.map((p) => p[2] ?? 1) : undefined,
        box,
        multimaskOutput: !args.single,
      });
      const [C, H, W] = r.shape;
      const masks = Array.from({ length: C }, (_, k) => (r.masks as Uint8Array).subarray(k * H * W, (k + 1) * H * W));
      for (let k = 0; k < C; k++) await writePng(`${stem}.mask-${k}.png`, grey(masks[k]), W, H, 1);
      let best = 0;
      for (let k = 1; k < C; k++) if (r.iouPredictions[k] > r.iouPredictions[best]) best = k;
      const marks = points.map((p) => ({ x: p[0], y: p[1], fg: (p[2] ?? 1) === 1 }));
      await writePng(`${stem}.overlay.png`, overlay(img, [masks[best]], marks, box), W, H, 3);
      const ious = Array.from(r.iouPredictions, (v) => v.toFixed(3)).join(', ');
      console.log(
        `${file}: ${W}×${H}, ${C} mask(s), predicted IoU [${ious}], best ${best} → ${stem}.{mask-K,overlay}.png (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
  } finally {
    predictor.dispose();
    tree.dispose([params, state]);
  }
  return 0;
}
