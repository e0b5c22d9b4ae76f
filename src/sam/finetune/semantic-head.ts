/**
 * Custom layers on SAM's frozen image embeddings for semantic segmentation (the write-up's recipe): two 3×3
 * conv–BatchNorm–ReLU blocks and a 1×1 classifier on [B, C, E, E] embeddings, then bilinear upsampling back
 * to the labels' resolution through the encoder's input frame (the embedding grid covers the padded
 * S×S input, of which the resized image fills the top-left corner). Parameter names are those of a
 * PyTorch `nn.Sequential(Conv2d, BatchNorm2d, ReLU, Conv2d, BatchNorm2d, ReLU, Conv2d)`: `0.weight`,
 * `1.running_mean`, `3.weight`, …, `6.bias`; the ReLUs are fused into the BatchNorm kernels.
 */
import { split, type Key } from '../../base/random';
import { ArgumentError, fmtShape } from '../../base/shape';
import type { Device } from '../../kernels/webgpu/device';
import { conv2d } from '../../nn/conv';
import type { Ctx, Params, State } from '../../nn/module';
import { batchNorm2d } from '../../nn/norm';
import { sliceAxes } from '../../tensor/ops/layout';
import { interpolate } from '../../tensor/ops/resize';
import { Tensor } from '../../tensor/tensor';
import { disposeUnlessTraced as drop } from '../../nn/dispose';
import { getPreprocessShape } from '../transforms';

/** Configuration of {@link semanticHead}. */
export interface SemanticHeadConfig {
  /** Channels of the image embeddings (SAM's promptEmbedDim, 256 for the published models). */
  inChannels: number;
  /** Classes (19 for Cityscapes' train ids). */
  numClasses: number;
  /** Channels of the two hidden conv blocks; default 128. */
  hiddenChannels?: number;
}

/** Where the head's logits go: the encoder's input size and the labels' size. */
export interface SemanticHeadOutput {
  /** The encoder's (square) input size S in pixels (config.encoder.imgSize). */
  imgSize: number;
  /** [H, W] of the labels (the original image); the resized image fills the top-left resizeLongestSide(H, W, S) of the input. */
  outputSize: readonly [number, number];
}

/** The head: `init`, and `apply` from embeddings to logits [B, numClasses, H, W]. */
export interface SemanticHead {
  /** The configuration, defaults filled in. */
  readonly config: Required<SemanticHeadConfig>;
  /** New parameters (PyTorch's default initialisation) and BatchNorm statistics. */
  init(key: Key, options?: { device?: Device }): { params: Params; state: State };
  /** Logits at the embedding grid [B, numClasses, E, E] (no upsampling) and the new state. */
  grid(params: Params, state: State, embeddings: Tensor, ctx: Ctx): { y: Tensor; state: State };
  /** Logits [B, numClasses, H, W] at the labels' resolution and the new state. */
  apply(params: Params, state: State, embeddings: Tensor, out: SemanticHeadOutput, ctx: Ctx): { y: Tensor; state: State };
}

/**
 * The semantic head on frozen embeddings.
 *
 * @example
 * ```ts
 * import { init, random, zeros } from '@webgrad/core/node';
 * import { semanticHead } from '@webgrad/core/sam';
 * await init();
 * const head = semanticHead({ inChannels: 32, numClasses: 19, hiddenChannels: 16 });
 * const { params, state } = head.init(random.key(0));
 * const y = head.apply(params, state, zeros([2, 32, 16, 16]), { imgSize: 256, outputSize: [128, 256] }, { training: false }).y;
 * console.log(y.shape); // [2, 19, 128, 256]
 * ```
 */
export function semanticHead(config: SemanticHeadConfig): SemanticHead {
  const fn = 'semanticHead';
  const { inChannels, numClasses, hiddenChannels = 128 } = config ?? ({} as SemanticHeadConfig);
  for (const [k, v] of Object.entries({ inChannels, numClasses, hiddenChannels }))
    if (!(Number.isInteger(v) && v > 0)) throw new ArgumentError(fn, k, `is ${v}`, 'a positive integer');
  const conv1 = conv2d({ inChannels, outChannels: hiddenChannels, kernelSize: 3, padding: 1, bias: false });
  const conv2 = conv2d({ inChannels: hiddenChannels, outChannels: hiddenChannels, kernelSize: 3, padding: 1, bias: false });
  const bn = batchNorm2d({ numFeatures: hiddenChannels, activation: 'relu' });
  const classifier = conv2d({ inChannels: hiddenChannels, outChannels: numClasses, kernelSize: 1 });
  const grid: SemanticHead['grid'] = (p, s, x, ctx) => {
    if (!(x instanceof Tensor) || x.ndim !== 4 || x.shape[1] !== inChannels)
      throw new ArgumentError(
        `${fn}.apply`,
        'embeddings',
        x instanceof Tensor ? `have shape ${fmtShape(x.shape)}` : `are ${typeof x}`,
        `[B, ${inChannels}, E, E]`,
      );
    const a = conv1.apply(p[0] as never, {}, x, ctx).y;
    const b = bn.apply(p[1] as never, s[1] as never, a, ctx);
    drop(a);
    const c = conv2.apply(p[3] as never, {}, b.y, ctx).y;
    drop(b.y);
    const d = bn.apply(p[4] as never, s[4] as never, c, ctx);
    drop(c);
    const y = classifier.apply(p[6] as never, {}, d.y, ctx).y;
    drop(d.y);
    return { y, state: { 1: b.state, 4: d.state } as State };
  };
  return {
    config: { inChannels, numClasses, hiddenChannels },
    init(key, options) {
      const k = split(key, 5);
      const r1 = bn.init(k[1], options),
        r4 = bn.init(k[3], options);
      const params: Params = {
        0: conv1.init(k[0], options).params,
        1: r1.params,
        3: conv2.init(k[2], options).params,
        4: r4.params,
        6: classifier.init(k[4], options).params,
      } as Params;
      return { params, state: { 1: r1.state, 4: r4.state } as State };
    },
    grid,
    apply(p, s, x, out, ctx) {
      const r = grid(p, s, x, ctx);
      const y = upsampleFromGrid(r.y, out.imgSize, out.outputSize);
      if (y !== r.y) drop(r.y);
      return { y, state: r.state };
    },
  };
}

/**
 * Logits on the embedding grid [B, K, E, E] → [B, K, H, W]: bilinear (align_corners false) to the input
 * size S, cropped to the resized image, resized to the labels' [H, W] (as Sam.postprocess_masks does).
 */
export function upsampleFromGrid(logits: Tensor, imgSize: number, outputSize: readonly [number, number]): Tensor {
  const [H, W] = outputSize;
  const [h, w] = getPreprocessShape(H, W, imgSize);
  const full = interpolate(logits, { size: [imgSize, imgSize], mode: 'bilinear', alignCorners: false });
  const crop = h === imgSize && w === imgSize ? full : sliceAxes(full, [null, null, [0, h], [0, w]]);
  if (crop !== full) drop(full);
  if (h === H && w === W) return crop;
  const y = interpolate(crop, { size: [H, W], mode: 'bilinear', alignCorners: false });
  drop(crop);
  return y;
}
