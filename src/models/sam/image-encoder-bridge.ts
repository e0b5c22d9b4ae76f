/**
 * Where sam.ts reaches the ViT image encoder (src/models/sam/image-encoder.ts, written alongside). Until that file
 * lands, every call throws a clear error; the prompt encoder and mask decoder work without it.
 */
import type { Key } from '../../base/random';
import type { Device } from '../../kernels/webgpu/device';
import type { Params } from '../../nn/module';
import type { Tensor } from '../../tensor/tensor';
import type { SamConfig } from './config';

const notYet = (what: string): never => {
  throw new Error(`sam: the image encoder is not yet part of this build (${what})`);
};

/** The image encoder's state_dict keys and shapes (without the `image_encoder.` prefix). */
export const shapes = (_cfg: SamConfig): [string, number[]][] => notYet('imageEncoderParamShapes');
/** New image-encoder parameters. */
export const init = (_cfg: SamConfig, _key: Key, _device?: Device): Params => notYet('initImageEncoder');
/** The image encoder's forward. */
export const apply = (_cfg: SamConfig, _p: Params, _x: Tensor): Tensor => notYet('applyImageEncoder');
