/**
 * The fully convolutional network of d2l's chapter "Fully Convolutional Networks" (Long et al. 2015):
 * a ResNet cut after its K-th stage, a 1×1 convolution to the classes, and a transposed convolution
 * that brings the class maps back to the input's size, initialised as a bilinear upsampler.
 */
import { ArgumentError, fmtShape } from '../base/shape';
import type { Key } from '../base/random';
import { split } from '../base/random';
import type { Device } from '../kernels/webgpu/device';
import { type ResNetConfig, type ResNetModel, resnet } from '../models/resnet';
import { disposeUnlessTraced as drop } from '../nn/dispose';
import { conv2d, convTranspose2d } from '../nn/index';
import type { Ctx, Params, State } from '../nn/module';
import { requireTensor } from '../tensor/require-tensor';
import type { Tensor } from '../tensor/tensor';
import * as tree from '../tensor/tree';
import { bilinearKernel } from './bilinear-kernel';

/** Configuration of {@link fcn}. */
export interface FcnConfig {
  /** Output classes (e.g. 19 Cityscapes train ids, 21 Pascal VOC classes). */
  numClasses: number;
  /**
   * The backbone: a ResNet configuration (default `{ model: 'resnet18' }`, d2l's choice), or a built
   * ResNetModel (e.g. the pretrained ImageNet ResNet-50's, so its parameters fit).
   */
  backbone?: ResNetConfig | ResNetModel;
  /**
   * ResNet stages kept (default 4, d2l's: output stride 32). The features have stride 4, 8, 16 or 32 for 1, 2, 3
   * or 4 stages; the later stages are neither built nor run.
   */
  stages?: 1 | 2 | 3 | 4;
  /**
   * Run the backbone's BatchNorm layers in evaluation mode even when training (running statistics used and
   * left unchanged), as one does with a frozen pretrained backbone and small batches (default false).
   */
  freezeBackboneBatchNorm?: boolean;
}

/** Options of {@link FcnModel.init}. */
export interface FcnInitOptions {
  /** Where the parameters live (default: the default device). */
  device?: Device;
  /**
   * Backbone parameters and state to use instead of a random initialisation (torchvision keys, e.g. a
   * pretrained ResNet's). The FCN takes the entries it uses (`conv1`, `bn1`, `layer1`…`layerK`; the same
   * tensors, not copies); `fc` and later stages are left to the caller.
   */
  backbone?: { params: Params; state: State };
}

/** A fully convolutional network built by {@link fcn}: `init` and `apply` like a layer. */
export interface FcnModel {
  /** The resolved configuration. */
  readonly config: { numClasses: number; stages: 1 | 2 | 3 | 4; freezeBackboneBatchNorm: boolean };
  /** The ResNet whose first `stages` stages are the backbone. */
  readonly backbone: ResNetModel;
  /** Output stride of the backbone's features (4, 8, 16 or 32); input sizes must be multiples of it. */
  readonly stride: number;
  /** Channels of the backbone's features (the classifier's input). */
  readonly featureChannels: number;
  /**
   * New parameters `{ backbone, classifier, upsample }` and state `{ backbone }`: the ResNet's (torchvision keys,
   * without `fc` and the stages not kept), a 1×1 conv and a transposed conv with PyTorch's default
   * initialisation, the latter's weight then set to {@link bilinearKernel}.
   */
  init(key: Key, options?: FcnInitOptions): { params: Params; state: State };
  /**
   * Logits (B, numClasses, H, W) for images (B, inChannels, H, W), and the new state (with
   * `freezeBackboneBatchNorm`, the `state` passed in, unchanged: do not dispose it as an old state).
   * The same as {@link FcnModel.head} on {@link FcnModel.features}.
   */
  apply(params: Params, state: State, x: Tensor, ctx: Ctx): { y: Tensor; state: State };
  /**
   * The backbone alone: its last kept stage's map `y` (B, featureChannels, H/stride, W/stride) for images
   * (B, inChannels, H, W), and the new state as {@link FcnModel.apply} gives it. Reads `params.backbone` and
   * `state.backbone` only. With a frozen backbone (eval mode or `freezeBackboneBatchNorm`) these features can be
   * computed once per image and the head trained on them.
   */
  features(params: Params, state: State, x: Tensor, ctx: Ctx): { y: Tensor; state: State };
  /**
   * The head alone: logits (B, numClasses, h·stride, w·stride) from backbone features (B, featureChannels, h, w),
   * through the 1×1 `classifier` and the transposed conv `upsample`. Reads `params.classifier` and
   * `params.upsample` only, so `{ classifier, upsample }` without the backbone will do (e.g. to differentiate
   * the head alone).
   */
  head(params: Params, features: Tensor): Tensor;
}

const EXPANSION = { basic: 1, bottleneck: 4 } as const;

const isResNetModel = (b: unknown): b is ResNetModel => typeof (b as ResNetModel | undefined)?.features === 'function';

/** The top-level backbone entries the first `stages` stages use (everything but `fc` and later `layerN`). */
function used(name: string, stages: number): boolean {
  if (name === 'fc') return false;
  const m = /^layer(\d)$/.exec(name);
  return !m || Number(m[1]) <= stages;
}

/**
 * d2l's FCN over a ResNet: the backbone's first `stages` stages (torchvision's ResNet-18 and all four by
 * default, output stride s = 32), a 1×1 conv `classifier` to `numClasses` maps, and a transposed conv
 * `upsample` (kernel 2s, stride s, padding s/2, numClasses → numClasses, with bias as d2l's nn.ConvTranspose2d)
 * whose weight starts as {@link bilinearKernel}, so the untrained head upsamples bilinearly. Logits come out at
 * the input's size; inputs must be multiples of s (d2l crops its images to 320×480 for the same reason).
 *
 * Parameter paths (dotted, as the optimizer's groups see them): `backbone.conv1.weight`, `backbone.bn1.weight`,
 * `backbone.layer1.0.conv1.weight`, … (torchvision's ResNet keys under `backbone.`, no `fc`, no stage past
 * `stages`), `classifier.weight` (numClasses, C, 1, 1), `classifier.bias`, `upsample.weight` (numClasses,
 * numClasses, 2s, 2s), `upsample.bias`; the BatchNorm statistics are in the state under the same `backbone.`
 * keys. Freeze the backbone or give it a smaller learning rate with the optimizers' parameter groups, e.g.
 * `optim.adam({ lr, groups: [{ match: 'backbone', frozen: true }] })` or `{ match: 'backbone', lrScale: 0.1 }`
 * (the tutorial's head ×10 is `lr` for the head and lrScale 0.1 for the backbone). With a frozen backbone,
 * differentiate only the head (close over `params.backbone`) so no backbone gradient is computed, or run the two
 * halves apart: `features` once per image, then `head` on the stored features.
 *
 * @example
 * ```ts
 * import { init, random, rand } from '@webgrad/core/node';
 * import { fcn } from '@webgrad/core/segmentation';
 * await init();
 * const net = fcn({ numClasses: 19, stages: 3 }); // ResNet-18 up to layer3: stride 16
 * const { params, state } = net.init(random.key(0));
 * const { y } = net.apply(params, state, rand(random.key(1), [2, 3, 64, 128]), { training: false });
 * console.log(y.shape); // [2, 19, 64, 128]
 * ```
 */
export function fcn(config: FcnConfig): FcnModel {
  const fn = 'fcn';
  if (config === null || typeof config !== 'object')
    throw new ArgumentError(fn, 'config', `is ${config === null ? 'null' : typeof config}`, 'an object { numClasses, … }');
  const { numClasses, stages = 4, freezeBackboneBatchNorm = false } = config;
  if (!(Number.isInteger(numClasses) && numClasses > 0)) throw new ArgumentError(fn, 'numClasses', `is ${numClasses}`, 'a positive integer');
  if (![1, 2, 3, 4].includes(stages)) throw new ArgumentError(fn, 'stages', `is ${stages}`, '1, 2, 3 or 4');
  const backbone = isResNetModel(config.backbone) ? config.backbone : resnet(config.backbone ?? { model: 'resnet18' });
  const stride = 2 ** (stages + 1);
  const featureChannels = backbone.config.planes[stages - 1] * EXPANSION[backbone.config.block];
  const classifier = conv2d({ inChannels: featureChannels, outChannels: numClasses, kernelSize: 1 });
  const upsample = convTranspose2d({ inChannels: numClasses, outChannels: numClasses, kernelSize: 2 * stride, stride, padding: stride / 2 });

  /** The backbone's last kept stage and the new state; `where` names the public function in errors. */
  const runBackbone = (where: string, params: Params, state: State, x: Tensor, ctx: Ctx) => {
    requireTensor(where, 'x', x);
    const [H, W] = x.shape.slice(2);
    if (x.ndim !== 4 || H % stride !== 0 || W % stride !== 0)
      throw new ArgumentError(where, 'x', `has shape ${fmtShape(x.shape)}`, `(B, C, H, W) with H and W multiples of the output stride ${stride}`);
    const f = backbone.features(params.backbone as Params, state.backbone as State, x, freezeBackboneBatchNorm ? { ...ctx, training: false } : ctx, {
      stages,
    });
    drop(f.y, ...f.stages.slice(0, stages - 1));
    // frozen BatchNorm passes its statistics through: hand back the caller's state itself (nothing new to free)
    return { y: f.stages[stages - 1], state: freezeBackboneBatchNorm ? state : { backbone: f.state } };
  };
  const head: FcnModel['head'] = (params, f) => {
    const where = 'fcn.head';
    requireTensor(where, 'features', f);
    if (f.ndim !== 4 || f.shape[1] !== featureChannels)
      throw new ArgumentError(where, 'features', `has shape ${fmtShape(f.shape)}`, `(B, ${featureChannels}, h, w): the backbone's features`);
    // the 1×1 conv and the transposed conv have no training-dependent behaviour
    const ctx: Ctx = { training: false };
    const z = classifier.apply(params.classifier as never, {}, f, ctx).y;
    const y = upsample.apply(params.upsample as never, {}, z, ctx).y;
    drop(z);
    return y;
  };

  return {
    config: { numClasses, stages, freezeBackboneBatchNorm },
    backbone,
    stride,
    featureChannels,
    features: (params, state, x, ctx) => runBackbone('fcn.features', params, state, x, ctx),
    head,
    init(key, options = {}) {
      const { device } = options;
      const [kb, kc, ku] = split(key, 3);
      let bp: Params, bs: State;
      if (options.backbone) {
        const given = options.backbone;
        bp = Object.fromEntries(Object.entries(given.params).filter(([k]) => used(k, stages)));
        bs = Object.fromEntries(Object.entries(given.state).filter(([k]) => used(k, stages)));
        for (let i = 1; i <= stages; i++)
          if (!bp[`layer${i}`])
            throw new ArgumentError('fcn.init', 'options.backbone.params', `has no layer${i}`, `the ResNet's parameters up to layer${stages}`);
      } else {
        const r = backbone.init(kb, { device });
        bp = {};
        bs = {};
        for (const [k, v] of Object.entries(r.params)) {
          if (used(k, stages)) bp[k] = v;
          else tree.dispose(v);
        }
        for (const [k, v] of Object.entries(r.state)) {
          if (used(k, stages)) bs[k] = v;
          else tree.dispose(v);
        }
      }
      const cls = classifier.init(kc, { device }).params;
      const up = upsample.init(ku, { device }).params;
      up.weight.dispose();
      up.weight = bilinearKernel(numClasses, numClasses, 2 * stride, { device });
      return { params: { backbone: bp, classifier: cls, upsample: up }, state: { backbone: bs } };
    },
    apply(params, state, x, ctx) {
      const f = runBackbone('fcn.apply', params, state, x, ctx);
      const y = head(params, f.y);
      drop(f.y);
      return { y, state: f.state };
    },
  };
}
