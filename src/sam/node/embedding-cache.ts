/**
 * SAM image embeddings cached on disk: the encoder is nearly all of a prediction's cost, so an image seen before
 * (same pixels, same model configuration, same weights) loads its embedding from `<dir>/<key>.safetensors` instead
 * of running the encoder. Files are written atomically (a crash leaves the old file or the new one); a file that
 * cannot be read or does not match (shape, sizes) is treated as a miss and rewritten.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ArgumentError } from '../../base/shape';
import { toTensor } from '../../formats/host-tensor';
import { loadSafetensors, saveSafetensors } from '../../io/files';
import type { SamConfig } from '../../models/sam/config';
import type { SamPredictor } from '../predictor';
import { getPreprocessShape, imageChannels, type ImageBytes } from '../transforms';

/** Bumped when the file layout or the preprocessing changes, so older files are not read as hits. */
const VERSION = 'webgrad-sam-embedding-v1';

/**
 * The cache key of an image under a model: SHA-256 (hex) over the format version, the configuration, the weights'
 * identity, the image format and size, and the pixel bytes.
 */
export function embeddingCacheKey(image: ImageBytes, config: SamConfig, weightsId: string, imageFormat: 'RGB' | 'BGR' = 'RGB'): string {
  const ch = imageChannels('embeddingCacheKey', image);
  if (typeof weightsId !== 'string' || weightsId === '')
    throw new ArgumentError('embeddingCacheKey', 'weightsId', `is ${JSON.stringify(weightsId)}`, 'a non-empty string');
  const h = createHash('sha256');
  h.update(`${VERSION}\n${JSON.stringify(config)}\n${weightsId}\n${imageFormat} ${image.width}x${image.height}x${ch}\n`);
  h.update(image.data);
  return h.digest('hex');
}

/** An identity for a weights file that changes when the file does: name, size and modification time. */
export async function weightsIdentity(path: string): Promise<string> {
  const s = await stat(path);
  return `${basename(resolve(path))}:${s.size}:${Math.round(s.mtimeMs)}`;
}

/** Where the embedding of `key` lives in `dir`. */
export const embeddingCachePath = (dir: string, key: string): string => join(dir, `${key}.safetensors`);

/**
 * The image's embedding in the predictor: loaded from `dir` when cached (a hit), else computed with
 * `predictor.setImage` and written there. Returns whether it was a hit and the file.
 *
 * @example
 * ```ts
 * import { init, random, setImageCached } from '@webgrad/core/node';
 * import { sam, samConfig, SamPredictor } from '@webgrad/core/sam';
 * await init();
 * const model = sam(samConfig('vit_b', { encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, windowSize: 3, globalAttnIndexes: [1] } }));
 * const { params, state } = model.init(random.key(0));
 * const predictor = new SamPredictor(model, params, state);
 * const image = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).fill(90) };
 * // weightsId: e.g. await weightsIdentity('sam_vit_b_01ec64.pth') for a checkpoint
 * const first = await setImageCached(predictor, image, { dir: '/tmp/sam-cache', weightsId: 'random-seed-0' });
 * const again = await setImageCached(predictor, image, { dir: '/tmp/sam-cache', weightsId: 'random-seed-0' });
 * console.log(first.hit, again.hit); // false true (the second skipped the encoder)
 * predictor.dispose();
 * ```
 */
export async function setImageCached(
  predictor: SamPredictor,
  image: ImageBytes,
  options: { dir: string; weightsId: string; imageFormat?: 'RGB' | 'BGR' },
): Promise<{ hit: boolean; path: string; key: string }> {
  const fn = 'setImageCached';
  if (typeof options?.dir !== 'string' || options.dir === '') throw new ArgumentError(fn, 'options.dir', `is ${JSON.stringify(options?.dir)}`, 'a folder path');
  const format = options.imageFormat ?? 'RGB';
  const cfg = predictor.model.config;
  const key = embeddingCacheKey(image, cfg, options.weightsId, format);
  const path = embeddingCachePath(options.dir, key);
  const originalSize: [number, number] = [image.height, image.width];
  const inputSize = getPreprocessShape(image.height, image.width, cfg.encoder.imgSize);
  const E = cfg.encoder.imgSize / cfg.encoder.patchSize;
  const want = [1, cfg.promptEmbedDim, E, E];
  const cached = await loadSafetensors(path).catch(() => null);
  const t = cached?.tensors.embedding;
  const meta = cached?.metadata ?? {};
  if (t && t.dtype === 'float32' && t.shape.join() === want.join() && meta.originalSize === originalSize.join(',') && meta.inputSize === inputSize.join(',')) {
    predictor.setEmbedding(toTensor(t, predictor.device), originalSize, inputSize);
    return { hit: true, path, key };
  }
  predictor.setImage(image, format);
  await saveSafetensors(
    path,
    { embedding: predictor.getImageEmbedding() },
    { format: VERSION, originalSize: originalSize.join(','), inputSize: inputSize.join(',') },
  );
  return { hit: false, path, key };
}
