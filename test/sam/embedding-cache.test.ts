/** The embedding cache: a second setImage of the same image under the same model and weights skips the encoder. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memory } from '../../src/node';
import { embeddingCacheKey, embeddingCachePath, setImageCached } from '../../src/sam/node/embedding-cache';
import { SamPredictor } from '../../src/sam/predictor';
import { fakeSam } from './fake-model';

const dir = mkdtempSync(join(tmpdir(), 'sam-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const image = (seed: number) => ({ width: 30, height: 20, data: Uint8Array.from({ length: 30 * 20 * 3 }, (_, i) => (i * seed) % 256) });

describe('SAM embedding cache', () => {
  it('miss writes the embedding; a hit loads it without the encoder and predicts the same; keys depend on pixels, config, weights', async () => {
    const { model, params, state } = fakeSam();
    let encoderRuns = 0;
    const counted = {
      ...model,
      imageEncoder: (p: never, x: never) => {
        encoderRuns++;
        return model.imageEncoder(p, x);
      },
    };
    const p = new SamPredictor(counted, params, state);
    const base = memory().liveTensors;
    const a = await setImageCached(p, image(7), { dir, weightsId: 'w1' });
    expect(a.hit).toBe(false);
    expect(encoderRuns).toBe(1);
    expect(readdirSync(dir)).toEqual([`${a.key}.safetensors`]);
    const first = await p.predict({ pointCoords: [[15, 10]], pointLabels: [1] });
    const emb1 = Array.from(await p.getImageEmbedding().data());
    const b = await setImageCached(p, image(7), { dir, weightsId: 'w1' });
    expect(b).toEqual({ ...a, hit: true });
    expect(encoderRuns).toBe(1);
    expect(Array.from(await p.getImageEmbedding().data())).toEqual(emb1);
    expect(p.originalSize).toEqual([20, 30]);
    const second = await p.predict({ pointCoords: [[15, 10]], pointLabels: [1] });
    expect(second.masks).toEqual(first.masks);
    expect(memory().liveTensors - base).toBe(2);
    // other pixels, other weights, other config → other keys
    const k = embeddingCacheKey(image(7), model.config, 'w1');
    expect(k).toBe(a.key);
    expect(embeddingCacheKey(image(11), model.config, 'w1')).not.toBe(k);
    expect(embeddingCacheKey(image(7), model.config, 'w2')).not.toBe(k);
    expect(embeddingCacheKey(image(7), { ...model.config, maskThreshold: 1 }, 'w1')).not.toBe(k);
    expect(embeddingCacheKey(image(7), model.config, 'w1', 'BGR')).not.toBe(k);
    // a damaged file is a miss and is rewritten
    writeFileSync(embeddingCachePath(dir, k), 'garbage');
    const c = await setImageCached(p, image(7), { dir, weightsId: 'w1' });
    expect(c.hit).toBe(false);
    expect(encoderRuns).toBe(2);
    expect((await setImageCached(p, image(7), { dir, weightsId: 'w1' })).hit).toBe(true);
    p.dispose();
    expect(memory().liveTensors).toBe(base);
    expect(() => embeddingCacheKey(image(7), model.config, '')).toThrow(/embeddingCacheKey: argument 'weightsId'/);
  });
});
