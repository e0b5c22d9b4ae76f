/**
 * SamPredictor and SamAutomaticMaskGenerator with the official tiny model's weights (tiny.pth) against the official
 * predictor's and generator's outputs on chelsea.png resized to 135×90 (float32 runs of facebookresearch/segment-anything).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { memory, tensor, tree } from '../../src/node';
import { toTensor, type HostTensor } from '../../src/formats/host-tensor';
import { sam, type SamModel, type SamParams, type SamState } from '../../src/models/sam/sam';
import { samConfig } from '../../src/models/sam/config';
import type { Params } from '../../src/nn/module';
import { SamAutomaticMaskGenerator } from '../../src/sam/amg';
import { SamPredictor } from '../../src/sam/predictor';
import { subtree, tinyFixture, values } from './tiny-fixture';

/** Largest |got − want| / (atol + rtol·|want|). */
function worst(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i])));
  return w;
}

describe('SAM predictor and generator vs the official implementation (tiny model, chelsea 135×90)', () => {
  let model: SamModel;
  let params: SamParams;
  let state: SamState;
  let cases: Record<string, HostTensor>;
  let image: { width: number; height: number; data: Uint8Array };

  beforeAll(async () => {
    const f = await tinyFixture();
    cases = f.cases;
    const j = JSON.parse(readFileSync('test/fixtures/sam-official/tiny.json', 'utf8')).config;
    model = sam(samConfig('vit_b', { promptEmbedDim: j.promptEmbedDim, maskInChans: j.maskInChans, encoder: j.encoder, decoder: j.decoder }));
    const pe = subtree(f.state_dict, 'prompt_encoder.');
    const { pe_layer, ...peParams } = pe as Params & { pe_layer: SamState['prompt_encoder']['pe_layer'] };
    params = { image_encoder: subtree(f.state_dict, 'image_encoder.'), prompt_encoder: peParams, mask_decoder: subtree(f.state_dict, 'mask_decoder.') };
    state = { prompt_encoder: { pe_layer } };
    image = { width: 135, height: 90, data: Uint8Array.from(values(cases['pred.image'])) };
  });

  /** The official embedding of the image (pred.features), so the prompt path is checked on its own. */
  const officialEmbedding = () => toTensor(cases['pred.features'], undefined, 'float32');

  it('setImage (resize, preprocess, encoder) gives the official embedding', async (ctx) => {
    const p = new SamPredictor(model, params, state);
    try {
      p.setImage(image);
    } catch (e) {
      // until the encoder is wired into sam() (src/models/sam/image-encoder-bridge.ts)
      if (/not yet part of this build/.test((e as Error).message)) ctx.skip();
      throw e;
    }
    expect(p.inputSize).toEqual([43, 64]);
    expect(worst(await p.getImageEmbedding().data(), values(cases['pred.features']), 1e-4, 1e-3)).toBeLessThan(1);
    // a tensor image (resized on the device, within rounding of PIL's bytes) gives nearly the same embedding
    const p2 = new SamPredictor(model, params, state);
    const hwc = values(cases['pred.image']);
    const chw = new Float32Array(3 * 90 * 135);
    for (let i = 0; i < 90 * 135; i++) for (let c = 0; c < 3; c++) chw[c * 90 * 135 + i] = hwc[3 * i + c];
    const t = tensor(chw, { shape: [3, 90, 135] });
    p2.setImage(t);
    expect(p2.inputSize).toEqual([43, 64]);
    expect(worst(await p2.getImageEmbedding().data(), values(cases['pred.features']), 0.05, 0.05)).toBeLessThan(1);
    t.dispose();
    p2.dispose();
    // the whole pipeline from pixels: the same three masks as the official predictor
    const r = await p.predict({ pointCoords: values(cases['pred.points']), pointLabels: values(cases['pred.labels']), box: values(cases['pred.box']) });
    expect(worst(r.iouPredictions, values(cases['pred.multi.iou']), 1e-4, 1e-3)).toBeLessThan(1);
    const wantLogits = values(cases['pred.multi.logits']);
    const wantMasks = values(cases['pred.multi.masks']);
    for (let i = 0; i < wantMasks.length; i++) if (r.masks[i] !== wantMasks[i]) expect(Math.abs(wantLogits[i])).toBeLessThan(1e-3);
    p.dispose();
  }, 60_000);

  it('predict with points + box (three masks, logits) and with a mask input (one mask)', async () => {
    const p = new SamPredictor(model, params, state);
    const base = memory().liveTensors;
    p.setEmbedding(officialEmbedding(), [90, 135]);
    expect(p.inputSize).toEqual([43, 64]);
    const prompts = { pointCoords: values(cases['pred.points']), pointLabels: values(cases['pred.labels']), box: values(cases['pred.box']) };
    const multi = await p.predict(prompts);
    expect(multi.shape).toEqual([3, 90, 135]);
    expect(worst(multi.iouPredictions, values(cases['pred.multi.iou']), 1e-4, 1e-3)).toBeLessThan(1);
    expect(worst(multi.lowResMasks, values(cases['pred.multi.low_res']), 1e-4, 1e-3)).toBeLessThan(1);
    const logits = await p.predict({ ...prompts, returnLogits: true });
    const wantLogits = values(cases['pred.multi.logits']);
    expect(worst(logits.masks, wantLogits, 1e-4, 1e-3)).toBeLessThan(1);
    // 0/1 masks equal the official ones except where the logit is within float noise of the threshold
    const wantMasks = values(cases['pred.multi.masks']);
    for (let i = 0; i < wantMasks.length; i++) if (multi.masks[i] !== wantMasks[i]) expect(Math.abs(wantLogits[i])).toBeLessThan(1e-3);
    const single = await p.predict({
      pointCoords: values(cases['pred.points']).slice(0, 2),
      pointLabels: values(cases['pred.labels']).slice(0, 1),
      maskInput: Float32Array.from(values(cases['pred.single.mask_input'])),
      multimaskOutput: false,
    });
    expect(single.shape).toEqual([1, 90, 135]);
    expect(worst(single.iouPredictions, values(cases['pred.single.iou']), 1e-4, 1e-3)).toBeLessThan(1);
    expect(worst(single.lowResMasks, values(cases['pred.single.low_res']), 1e-4, 1e-3)).toBeLessThan(1);
    const wantSingle = values(cases['pred.single.masks']);
    let differ = 0;
    for (let i = 0; i < wantSingle.length; i++) differ += single.masks[i] !== wantSingle[i] ? 1 : 0;
    expect(differ).toBeLessThanOrEqual(2);
    expect(memory().liveTensors - base).toBe(2);
    // no prompt at all (the official accepts it: only the no-mask embedding and the output tokens)
    const none = await p.predict({});
    expect(none.shape).toEqual([3, 90, 135]);
    // bad input is one line
    await expect(p.predict({ pointCoords: [[1, 2]], pointLabels: [1], box: [1, 2, 3, 4, 5] })).rejects.toThrow(
      /^SamPredictor.predict: argument 'box' is \[1, 2, 3, 4, 5\] \(5 values\)/,
    );
    expect(memory().liveTensors - base).toBe(2);
    p.dispose();
    expect(memory().liveTensors).toBe(base);
  }, 60_000);

  it('the automatic mask generator finds the official records (points_per_side 4, batches of 8, no IoU/stability filter)', async () => {
    const p = new SamPredictor(model, params, state);
    const before = memory().liveTensors;
    const amg = new SamAutomaticMaskGenerator(p, { pointsPerSide: 4, pointsPerBatch: 8, predIouThresh: 0, stabilityScoreThresh: 0, boxNmsThresh: 0.7 });
    // one crop (the whole image): from the pixels, and from the official embedding through the setImage hook
    const fromPixels = await amg.generate(image);
    const recs = await amg.generate(image, { setImage: (crop) => p.setEmbedding(officialEmbedding(), [crop.height, crop.width]) });
    expect(memory().liveTensors).toBe(before); // each crop's embedding is reset after its masks
    expect(fromPixels.length).toBe(recs.length);
    fromPixels.forEach((r, i) => {
      expect([r.bbox, r.pointCoords, r.cropBox]).toEqual([recs[i].bbox, recs[i].pointCoords, recs[i].cropBox]);
      expect(Math.abs(r.predictedIou - recs[i].predictedIou)).toBeLessThan(1e-4);
    });
    const n = values(cases['auto.count'])[0];
    expect(recs.length).toBe(n);
    const area = values(cases['auto.area']);
    const bbox = values(cases['auto.bbox']);
    const iou = values(cases['auto.predicted_iou']);
    const stab = values(cases['auto.stability_score']);
    const pts = values(cases['auto.point_coords']);
    for (let i = 0; i < n; i++) {
      expect(recs[i].bbox).toEqual(bbox.slice(4 * i, 4 * i + 4));
      expect(Math.abs(recs[i].area - area[i])).toBeLessThanOrEqual(2);
      expect(Math.abs(recs[i].predictedIou - iou[i])).toBeLessThan(1e-3);
      expect(Math.abs(recs[i].stabilityScore - stab[i])).toBeLessThan(1e-3);
      expect(recs[i].pointCoords[0]).toEqual(pts.slice(2 * i, 2 * i + 2));
      expect(recs[i].cropBox).toEqual([0, 0, 135, 90]);
    }
    p.dispose();
    tree.dispose([params, state]);
  }, 60_000);
});
