/**
 * webgrad's pretrained U²-NetP against onnxruntime (CPU) on a folder of images, at 320×320 after the default
 * preprocessing: the largest and the mean absolute difference of the fused sigmoid mask, per image and overall.
 *   npx tsx scripts/onnx-agreement.ts .cache/u2net-official/images
 */
import { readdirSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { init, random, sigmoid, tensor, tidy } from '../src/node';
import { u2net } from '../src/models/u2net/model';
import { fetchU2netpOnnx, pretrainedU2netp } from '../src/sod/node/pretrained';
import { loadInitialWeights } from '../src/io/load-weights';
import { readImage } from '../src/io/images';
import { u2netPreprocess } from '../src/sod/preprocess';
const dir = process.argv[2];
if (!dir) {
  console.error('usage: npx tsx scripts/onnx-agreement.ts IMAGES');
  process.exit(2);
}
await init();
const model = u2net({ model: 'u2netp' });
const fresh = model.init(random.key(0));
const { params, state } = await loadInitialWeights(await pretrainedU2netp(), fresh.params, fresh.state);
const session = await ort.InferenceSession.create(await fetchU2netpOnnx(), { executionProviders: ['cpu'] });
const files = readdirSync(dir)
  .filter((n) => /\.(png|jpe?g)$/i.test(n))
  .sort();
let all = 0,
  meanSum = 0;
for (const f of files) {
  const x = u2netPreprocess(readImage(`${dir}/${f}`));
  const m = tidy(() => sigmoid(model.apply(params, state, tensor(x, { shape: [1, 3, 320, 320] }), { training: false }).logits[0]));
  const ours = (await m.data()) as Float32Array;
  m.dispose();
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 320, 320]) });
  const ref = out[session.outputNames[0]].data as Float32Array;
  let max = 0,
    s = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i] - ours[i]);
    max = Math.max(max, d);
    s += d;
  }
  all = Math.max(all, max);
  meanSum += s / ref.length;
  console.log(`${f}\tmax |Δ| ${max.toExponential(2)}\tmean |Δ| ${(s / ref.length).toExponential(2)}`);
}
console.log(`${files.length} images: largest |Δ| ${all.toExponential(2)}, mean |Δ| ${(meanSum / files.length).toExponential(2)}`);
process.exit(0);
