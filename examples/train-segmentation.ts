/**
 * Train d2l's fully convolutional network (its FCN section) for semantic segmentation on the Cityscapes
 * layout: by default on synthetic street scenes written once as Cityscapes folders (nothing to download but
 * the ImageNet ResNet-50 weights), or on the real set with --data. The same as `webgrad train-segmentation`
 * (src/cli/train-segmentation.ts), which holds the loop: a frozen ImageNet ResNet-50 cut after 2 stages,
 * features cached after the first epoch, per-pixel cross-entropy (255 ignored), validation mIoU with the
 * stream metrics and panels after every epoch, atomic checkpoints and --resume.
 *
 *   npm run train:segmentation -- --time-limit 420       # or: npx tsx examples/train-segmentation.ts --time-limit 420
 *   npm run train:segmentation -- --help                 # every option
 */
import { main } from '../src/cli/main';

process.exitCode = await main(['train-segmentation', ...process.argv.slice(2)]);
