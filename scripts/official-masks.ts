/**
 * remove-bg's masks against reference masks, per image and on average (IoU at 0.5, MAE):
 *   npx tsx scripts/official-masks.ts IMAGES MASKS [--resize bilinear|antialias]
 * IMAGES: a folder of PNG/JPEG images; MASKS: a folder with NAME.png for each image NAME.* (the official
 * U²-Net repository's test_data/test_images and test_data/u2netp_results). Runs `webgrad remove-bg` with
 * the pretrained U²-NetP (and the given --resize) into a temporary folder and compares its NAME.mask.png.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { run } from '../src/cli/remove-bg';
import { readImage } from '../src/io/images';
import { maskAgreement } from '../src/sod/mask-agreement';

const [images, masks, ...rest] = process.argv.slice(2);
if (!images || !masks) {
  console.error('usage: npx tsx scripts/official-masks.ts IMAGES MASKS [--resize bilinear|antialias]');
  process.exit(2);
}
const grey = (path: string) => {
  const img = readImage(path);
  return { w: img.width, h: img.height, v: Float32Array.from({ length: img.width * img.height }, (_, i) => img.data[4 * i] / 255) };
};
const out = mkdtempSync(join(tmpdir(), 'official-masks-'));
try {
  const code = await run([images, '--out', out, ...rest]);
  if (code !== 0) throw new Error(`remove-bg exited with ${code}`);
  const names = readdirSync(images)
    .filter((n) => /\.(png|jpe?g)$/i.test(n))
    .sort();
  let iouSum = 0,
    maeSum = 0;
  console.log('image\tsize\tIoU\tMAE');
  for (const n of names) {
    const stem = basename(n, extname(n));
    const ours = grey(join(out, `${stem}.mask.png`)),
      ref = grey(join(masks, `${stem}.png`));
    if (ours.w !== ref.w || ours.h !== ref.h) throw new Error(`${n}: mask ${ours.w}×${ours.h}, reference ${ref.w}×${ref.h}`);
    const a = maskAgreement(ours.v, ref.v);
    iouSum += a.iou;
    maeSum += a.mae;
    console.log(`${n}\t${ours.w}×${ours.h}\t${a.iou.toFixed(4)}\t${a.mae.toFixed(5)}`);
  }
  console.log(`mean (${names.length} images)\t\t${(iouSum / names.length).toFixed(4)}\t${(maeSum / names.length).toFixed(5)}`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(0);
