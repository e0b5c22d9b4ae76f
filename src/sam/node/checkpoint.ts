/**
 * The official Segment Anything checkpoints (`sam_vit_b_01ec64.pth`, 375 MB; vit_h 2.56 GB) loaded
 * tensor by tensor: the file is read range by range (`openPth` over a file handle), every tensor is
 * checked against the model's state_dict keys and shapes before any data is read, then uploaded to the
 * device and its host bytes dropped. Peak host memory ≈ the pickle plus the largest tensor.
 */
import type { Device } from '../../kernels/webgpu/device';
import { loadPthTrees } from '../../io/stream-weights';
import type { SamConfig, SamName } from '../../models/sam/config';
import { samParamShapes, type SamParams, type SamState } from '../../models/sam/sam';

/** Options of {@link loadSamCheckpoint}. */
export interface LoadSamCheckpointOptions {
  /** Device the weights are uploaded to (default: the default device). */
  device?: Device;
}

/** State_dict keys that are buffers (the model's state), not parameters. */
const SAM_STATE_KEYS = new Set(['prompt_encoder.pe_layer.positional_encoding_gaussian_matrix']);

/** SAM's Sam module registers pixel_mean/pixel_std with persistent=False: torch never saves them, but tolerate files that do. */
const SAM_IGNORED_KEYS = new Set(['pixel_mean', 'pixel_std']);

/**
 * Loads an official SAM checkpoint (a `torch.save` of `Sam.state_dict()`, e.g. `sam_vit_b_01ec64.pth`)
 * for `config` as the `{ params, state }` that `sam(config).init()` returns. The file is never in memory
 * whole: each tensor is read, uploaded and dropped in turn. Keys missing from the file, keys the model
 * does not have, and tensors of another shape fail with one error listing a few of each, before any
 * upload.
 *
 * @example
 * ```ts
 * import { init, loadSamCheckpoint, random, savePth, zeros } from '@webgrad/core/node';
 * import { sam, samConfig } from '@webgrad/core/models';
 * import { stateDict } from '@webgrad/core/formats';
 * await init();
 * // the real thing: await loadSamCheckpoint('sam_vit_b_01ec64.pth', 'vit_b'); here a tiny model saved first
 * const cfg = samConfig('vit_b', { encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, windowSize: 3, globalAttnIndexes: [1] } });
 * const model = sam(cfg);
 * const fresh = model.init(random.key(0));
 * await savePth('/tmp/sam-tiny.pth', stateDict(fresh.params, fresh.state));
 * const { params } = await loadSamCheckpoint('/tmp/sam-tiny.pth', cfg);
 * console.log(model.imageEncoder(params.image_encoder, zeros([1, 3, 64, 64])).shape); // [1, 256, 8, 8]
 * ```
 */
export async function loadSamCheckpoint(
  path: string,
  config: SamConfig | SamName,
  options: LoadSamCheckpointOptions = {},
): Promise<{ params: SamParams; state: SamState }> {
  const expected = samParamShapes(config);
  const name = typeof config === 'string' ? `SAM ${config}` : 'the given SAM configuration';
  const { params, state } = await loadPthTrees(path, expected, {
    device: options.device,
    isState: (k) => SAM_STATE_KEYS.has(k),
    ignore: (k) => SAM_IGNORED_KEYS.has(k),
    what: `loadSamCheckpoint: ${path} does not fit ${name}`,
  });
  return { params: params as unknown as SamParams, state: state as unknown as SamState };
}
