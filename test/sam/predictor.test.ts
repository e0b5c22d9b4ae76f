/**
 * SamPredictor: plumbing with a stand-in model whose masks are known (discs around the prompt), bad input, and
 * memory across predict calls.
 */
import { describe, expect, it } from 'vitest';
import { memory, tensor } from '../../src/node';
import { SamPredictor } from '../../src/sam/predictor';
import { getPreprocessShape } from '../../src/sam/transforms';
import { fakeSam } from './fake-model';

const image = (w: number, h: number) => ({ width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7) % 256) });

describe('SamPredictor (stand-in model)', () => {
  it('predict: masks at the original size around the point, IoUs, low-res logits; single-mask output; logits', async () => {
    const { model, params, state } = fakeSam();
    const p = new SamPredictor(model, params, state);
    p.setImage(image(90, 60));
    expect(p.originalSize).toEqual([60, 90]);
    expect(p.inputSize).toEqual(getPreprocessShape(60, 90, 64));
    expect(p.getImageEmbedding().shape).toEqual([1, 16, 8, 8]);
    const r = await p.predict({ pointCoords: [[45, 30]], pointLabels: [1] });
    expect(r.shape).toEqual([3, 60, 90]);
    expect(Array.from(r.iouPredictions)).toEqual([0.5, 0.9, 0.95].map(Math.fround));
    expect(r.lowResShape).toEqual([3, 32, 32]);
    // disc of radius 6 input-frame pixels = 6·90/64 ≈ 8.4 image pixels around (45, 30)
    const at = (m: number, x: number, y: number) => r.masks[m * 60 * 90 + y * 90 + x];
    expect(at(0, 45, 30)).toBe(1);
    expect(at(0, 45 + 11, 30)).toBe(0);
    expect(at(1, 45 + 11, 30)).toBe(1);
    let area0 = 0;
    for (let i = 0; i < 60 * 90; i++) area0 += r.masks[i];
    expect(Math.abs(area0 - Math.PI * ((6 * 90) / 64) ** 2) / area0).toBeLessThan(0.15);
    const one = await p.predict({
      pointCoords: [45, 30],
      pointLabels: [1],
      multimaskOutput: false,
      returnLogits: true,
      maskInput: r.lowResMasks.subarray(0, 32 * 32),
    });
    expect(one.shape).toEqual([1, 60, 90]);
    expect(one.masks).toBeInstanceOf(Float32Array);
    expect(one.masks[30 * 90 + 45]).toBeGreaterThan(0);
    // the mask input as a device tensor [1, L, L] gives the same
    const mi = tensor(r.lowResMasks.subarray(0, 32 * 32), { shape: [1, 32, 32] });
    const viaTensor = await p.predict({ pointCoords: [45, 30], pointLabels: [1], multimaskOutput: false, returnLogits: true, maskInput: mi });
    expect(viaTensor.masks).toEqual(one.masks);
    await expect(p.predict({ maskInput: tensor(new Float32Array(32 * 32), { shape: [32, 32] }) })).rejects.toThrow(
      /argument 'maskInput' has shape \[32, 32\] \(float32\); expected float32 \[1, 32, 32\]/,
    );
    mi.dispose();
    // a box prompt: the disc widens to cover the box
    const b = await p.predict({ box: [20, 10, 70, 50] });
    expect(b.masks[1 * 60 * 90 + 12 * 90 + 22]).toBe(1);
    p.dispose();
  });

  it('bad input is one line naming the argument; no image set is an error', async () => {
    const { model, params, state } = fakeSam();
    const p = new SamPredictor(model, params, state);
    await expect(p.predict({ pointCoords: [[1, 2]], pointLabels: [1] })).rejects.toThrow(/^SamPredictor.predict: no image set; call setImage first$/);
    p.setImage(image(20, 10));
    const cases: [object, RegExp][] = [
      [{ pointCoords: [[1, 2]] }, /SamPredictor.predict: argument 'pointLabels' is missing with pointCoords given/],
      [{ pointLabels: [1] }, /SamPredictor.predict: argument 'pointCoords' is missing with pointLabels given/],
      [{ pointCoords: [[1, 2]], pointLabels: [1, 0] }, /argument 'pointLabels' has 2 labels for 1 points/],
      [{ pointCoords: [[1, 2]], pointLabels: [2] }, /argument 'pointLabels' contains 2; expected 1 \(foreground\)/],
      [{ box: [1, 2, 3] }, /SamPredictor.predict: argument 'box' is \[1, 2, 3\] \(3 values\); expected x1, y1, x2, y2/],
      [{ maskInput: new Float32Array(10) }, /argument 'maskInput' has 10 values; expected 1×32×32/],
      [{ points: [[1, 2]] }, /argument 'options' has unknown key 'points'/],
    ];
    for (const [o, re] of cases) {
      const e = await p.predict(o as never).catch((x: Error) => x);
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message).toMatch(re);
      expect((e as Error).message.split('\n').length).toBe(1);
    }
    expect(() => p.setImage({ width: 3, height: 3, data: new Uint8Array(5) })).toThrow(/SamPredictor.setImage: argument 'image.data' has 5 bytes/);
    expect(() => p.setEmbedding(tensor([1]), [10, 20])).toThrow(/SamPredictor.setEmbedding: argument 'embedding' has shape \[1\]; expected \[1, 16, 8, 8\]/);
    p.dispose();
  });

  it('nothing leaks across predict calls; setImage replaces the embedding; reset frees it', async () => {
    const { model, params, state } = fakeSam();
    const p = new SamPredictor(model, params, state);
    const base = memory().liveTensors;
    p.setImage(image(40, 30));
    const held = memory().liveTensors;
    expect(held - base).toBe(2); // the embedding and the dense positional encoding
    for (let i = 0; i < 3; i++) {
      await p.predict({ pointCoords: [[10 + i, 10]], pointLabels: [1] });
      await p.predict({ box: [1, 1, 20, 20], multimaskOutput: false }).catch(() => undefined);
      expect(memory().liveTensors).toBe(held);
    }
    // a failing call leaks nothing either
    await p.predict({ pointCoords: [[1, 2]], pointLabels: [7] }).catch(() => undefined);
    expect(memory().liveTensors).toBe(held);
    const coords = tensor([[[5, 5]], [[20, 20]]]);
    const labels = tensor([[1], [1]], { dtype: 'int32' });
    const t = p.predictTorch({ pointCoords: coords, pointLabels: labels });
    expect(t.masks.shape).toEqual([2, 3, 30, 40]);
    expect(t.masks.dtype).toBe('bool');
    expect(t.iouPredictions.shape).toEqual([2, 3]);
    expect(t.lowResMasks.shape).toEqual([2, 3, 32, 32]);
    for (const x of [t.masks, t.iouPredictions, t.lowResMasks, coords, labels]) x.dispose();
    p.setImage(image(50, 30));
    expect(memory().liveTensors).toBe(held);
    // setEmbedding takes a cached embedding (owned by the predictor from then on)
    const e = tensor(new Float32Array(16 * 64), { shape: [1, 16, 8, 8] });
    p.setEmbedding(e, [30, 50]);
    expect(p.getImageEmbedding()).toBe(e);
    expect(memory().liveTensors).toBe(held);
    p.setEmbedding(e, [30, 50]); // the same tensor again: kept, nothing leaks
    expect(memory().liveTensors).toBe(held);
    expect(() => p.setEmbedding(e, [30, 50], [30, 80])).toThrow(/SamPredictor.setEmbedding: argument 'inputSize' is \[30, 80\]; expected sides ≤ imgSize 64/);
    p.reset();
    expect(memory().liveTensors).toBe(base);
    expect(p.isImageSet).toBe(false);
  });
});
