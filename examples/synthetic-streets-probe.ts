/**
 * How hard are the synthetic street scenes? A probe, not a model: a five-layer CNN from scratch (no
 * pretraining, stride 8, bilinear upsampling) trained with Adam on 64×128 scenes with the segmentation
 * augmentation (scale, crop, flip, colour jitter) for a time budget, then pixel accuracy and mean IoU on
 * held-out scenes (classes present in them). The data pipeline end to end: syntheticSegmentationDataset →
 * segmentationBatch → augmentSegmentation → per-pixel cross-entropy with ignore index 255.
 *
 *   npx tsx examples/synthetic-streets-probe.ts [seconds = 240]
 */
import { argmax, crossEntropy, init, interpolate, nn, optim, random, relu, tidy, valueAndGrad, type Tensor } from '../src/node';
import { CITYSCAPES_CLASSES, augmentSegmentation, segmentationBatch, syntheticSegmentationDataset } from '../src/segmentation';

const device = await init();
const seconds = Number(process.argv[2] ?? 240);
const [H, W] = [64, 128];
const B = 8,
  C = CITYSCAPES_CLASSES.length;

const conv = (inChannels: number, outChannels: number, o: { stride?: number; dilation?: number } = {}) =>
  nn.conv2d({ inChannels, outChannels, kernelSize: 3, stride: o.stride ?? 1, padding: o.dilation ?? 1, dilation: o.dilation ?? 1 });
const net = nn.sequential(
  conv(3, 24, { stride: 2 }),
  nn.lambda(relu),
  conv(24, 48, { stride: 2 }),
  nn.lambda(relu),
  conv(48, 64, { stride: 2 }),
  nn.lambda(relu),
  conv(64, 64, { dilation: 2 }),
  nn.lambda(relu),
  nn.conv2d({ inChannels: 64, outChannels: C, kernelSize: 1 }),
);
let { params } = net.init(random.key(0));
const opt = optim.adam({ lr: 3e-3 });
let optState = opt.init(params);
const logits = (p: typeof params, x: Tensor) => interpolate(net.apply(p, {}, x, { training: true }).y, { size: [H, W], mode: 'bilinear' });

const train = syntheticSegmentationDataset({ length: 400, size: [H, W], seed: 1 });
const val = syntheticSegmentationDataset({ length: 24, size: [H, W], seed: 1, offset: 100_000 });

const t0 = Date.now();
let step = 0;
while ((Date.now() - t0) / 1000 < seconds) {
  const raw = segmentationBatch(Array.from({ length: B }, (_, k) => train.get((step * B + k) % train.length)));
  const batch = augmentSegmentation(raw, random.foldIn(random.key(1), step), {
    size: [H, W],
    scale: [0.75, 1.5],
    hflip: 0.5,
    color: { brightness: 0.3, contrast: 0.3, saturation: 0.3 },
  });
  raw.images.dispose();
  raw.masks.dispose();
  const out = tidy(() => {
    const [loss, grads] = valueAndGrad((p: typeof params) => crossEntropy(logits(p, batch.images), batch.masks, { ignoreIndex: 255 }))(params);
    return { loss, ...opt.update(grads, optState, params, { donate: true }) };
  });
  ({ params, state: optState } = out);
  batch.images.dispose();
  batch.masks.dispose();
  if (step % 50 === 0) console.log(`step ${step}  ${((Date.now() - t0) / 1000).toFixed(0)} s  loss ${(await out.loss.data())[0].toFixed(3)}`);
  out.loss.dispose();
  step++;
}

// confusion matrix on the host (rows: ground truth, columns: prediction), ignore 255
const confusion = new Float64Array(C * C);
for (let i = 0; i < val.length; i += B) {
  const b = segmentationBatch(Array.from({ length: Math.min(B, val.length - i) }, (_, k) => val.get(i + k)));
  const pred = tidy(() => argmax(logits(params, b.images), 1));
  const [p, t] = [await pred.data(), await b.masks.data()];
  for (let j = 0; j < p.length; j++) if (t[j] !== 255) confusion[t[j] * C + p[j]]++;
  for (const x of [pred, b.images, b.masks]) x.dispose();
}
let right = 0,
  total = 0;
const iou: string[] = [];
let iouSum = 0;
for (let c = 0; c < C; c++) {
  let row = 0,
    col = 0;
  for (let k = 0; k < C; k++) {
    row += confusion[c * C + k];
    col += confusion[k * C + c];
  }
  right += confusion[c * C + c];
  total += row;
  if (row === 0) continue;
  const v = confusion[c * C + c] / (row + col - confusion[c * C + c]);
  iouSum += v;
  iou.push(`${CITYSCAPES_CLASSES[c]} ${v.toFixed(2)}`);
}
console.log(
  `${step} steps in ${seconds} s: pixel accuracy ${(right / total).toFixed(3)}, mean IoU ${(iouSum / iou.length).toFixed(3)} over ${iou.length} classes`,
);
console.log(iou.join(', '));
device.destroy();
