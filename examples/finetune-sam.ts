/**
 * Fine-tuning Segment Anything with its image encoder frozen (the write-up's recipe), in a page of code: the
 * synthetic street scenes (in memory, Cityscapes train ids), a small random-init SAM (the same code runs the
 * published vit_b: `sam('vit_b')` and its checkpoint through `loadSamCheckpoint`), then
 *   1. custom layers on the frozen image embeddings for the 19 classes, validated with the stream metrics (mIoU);
 *   2. the mask decoder trained from prompts drawn from the ground-truth objects (jittered boxes, random points)
 *      with SAM's loss (focal + dice 20:1 + the IoU head's MSE).
 *
 * From random weights the semantic head's validation mIoU rises within a few epochs; the mask decoder learns far
 * slower (SAM's 20:1 focal weighting first drives every mask to background), which the published checkpoint avoids
 * by starting from a trained decoder.
 *
 *   npm run finetune:sam                     # both, a few minutes on a CPU adapter
 *   npm run finetune:sam -- --epochs 8       # longer
 * The command-line tool with checkpoints, panels and Cityscapes folders is `webgrad train-sam`.
 */
import { init, random, tree } from '../src/node';
import { finetuneSam, sam, samConfig } from '../src/sam';
import { CITYSCAPES_CLASSES, syntheticSegmentationDataset } from '../src/segmentation';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!(Number.isInteger(v) && v > 0)) {
    console.error(`finetune-sam: --${name} must be a positive integer; got '${process.argv[i + 1]}'`);
    process.exit(2);
  }
  return v;
};
const epochs = arg('epochs', 4);

await init();
// a 2-block ViT at 256² with 64-wide embeddings on a 16×16 grid; the decoder keeps SAM's structure at width 64
const config = samConfig('vit_b', {
  encoder: { imgSize: 256, embedDim: 64, depth: 2, numHeads: 2, windowSize: 8, globalAttnIndexes: [1] },
  promptEmbedDim: 64,
  decoder: { mlpDim: 256, iouHeadHiddenDim: 64 },
});
const model = sam(config);
const { params, state } = model.init(random.key(0));
const size = [128, 256] as const;
const train = syntheticSegmentationDataset({ length: 32, size, seed: 0 });
const val = syntheticSegmentationDataset({ length: 8, size, seed: 0, offset: 10_000 });

for (const task of ['semantic', 'prompt'] as const) {
  console.log(`\n== task ${task}: ${task === 'semantic' ? 'a 19-class head on the frozen embeddings' : 'the mask decoder from ground-truth prompts'}`);
  const result = await finetuneSam({
    model,
    params,
    state,
    task,
    train,
    val,
    epochs,
    batch: 4,
    lr: 3e-3,
    promptsPerImage: 4,
    log: () => {},
    onEpoch: (r) =>
      console.log(
        `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(3)}, val mIoU ${r.scores.meanIoU.toFixed(3)}${r.maskIou === undefined ? '' : `, box-prompt mask IoU ${r.maskIou.toFixed(3)}`} (${r.seconds.toFixed(0)} s)`,
      ),
  });
  const last = result.history.at(-1)!.scores;
  const best = last.classIoU
    .map((v, c) => [CITYSCAPES_CLASSES[c], v] as const)
    .filter(([, v]) => v > 0.3)
    .map(([n, v]) => `${n} ${v.toFixed(2)}`);
  console.log(
    `classes above 0.3 IoU: ${best.join(', ') || 'none yet'}; encoder ran on ${result.encoder.images} images once (${result.encoder.seconds.toFixed(1)} s)`,
  );
  tree.dispose(result.trained);
}
tree.dispose([params, state]);
