/**
 * Train d2l's TinySSD (its SSD chapter) on the built-in synthetic detection set: coloured shapes on
 * textured backgrounds, generated from code, so nothing is downloaded. The same as `webgrad train-ssd`
 * (src/cli/train-ssd.ts), which holds the loop: anchors labelled on the GPU (multiboxTarget), d2l's SSD
 * loss, held-out mAP@0.5 with multiboxDetection every --eval-every iterations, panels of predicted and
 * true boxes, atomic checkpoints and --resume.
 *
 *   npm run train:ssd -- --time-limit 480          # or: npx tsx examples/train-ssd.ts --time-limit 480
 *   npm run train:ssd -- --help                    # every option
 */
import { main } from '../src/cli/main';

process.exitCode = await main(['train-ssd', ...process.argv.slice(2)]);
