/**
 * TinySSD, the small single-shot multibox detector of d2l's SSD chapter (section 14.7, `TinySSD` in its
 * PyTorch code): a base network of three down-sampling blocks (3→16→32→64 channels, ÷8), two
 * down-sampling blocks 64→128 and 128→128, one more 128→128, and a global max pool: five feature
 * maps (32², 16², 8², 4², 1² for a 256² input). Each feature map has a 3×3 class predictor
 * (anchors·(classes+1) channels) and a 3×3 box predictor (anchors·4 channels); their outputs are moved
 * channels-last, flattened and concatenated in scale order, as d2l's `flatten_pred` / `concat_preds`.
 *
 * Parameter paths are d2l's state_dict keys: `blk_0.0.0.weight` (base net, first block, first conv),
 * `blk_0.2.4.running_var`, `blk_1.3.bias`, `cls_0.weight`, `bbox_4.bias`, … A down-sampling block is
 * d2l's `nn.Sequential(conv, bn, relu, conv, bn, relu, maxpool)`, so its convs are `0` and `3` and its
 * BatchNorms `1` and `4`; convs keep PyTorch's default bias and initialisation, as d2l does.
 *
 * The anchors are not made here (models sit below the detection layer): {@link TinySsdOutput.featureSizes}
 * gives the five feature sizes, and `tinySsdAnchors` (`@webgrad/core/detection`) turns them into d2l's
 * `multibox_prior` anchors with the model's `sizes` and `ratios`.
 */
import { split, type Key } from '../base/random';
import { ArgumentError, fmtShape } from '../base/shape';
import type { Device } from '../kernels/webgpu/device';
import type { Tensor } from '../tensor/tensor';
import { conv2d as convOp } from '../tensor/ops/conv';
import { maxPool2d, adaptiveMaxPool2d } from '../tensor/ops/pool';
import { permute, concat } from '../tensor/ops/layout';
import { reshape } from '../tensor/ops/shape-ops';
import { batchNorm2d, conv2d } from '../nn/index';
import type { Ctx, Params, State } from '../nn/module';
import { disposeUnlessTraced as drop } from '../nn/dispose';
import { requireTensor } from '../tensor/require-tensor';

/** d2l's anchor sizes of the five scales (fractions of the image side): 0.2 to 0.88 evenly, and the geometric means with the next. */
export const TINY_SSD_SIZES: readonly (readonly number[])[] = [
  [0.2, 0.272],
  [0.37, 0.447],
  [0.54, 0.619],
  [0.71, 0.79],
  [0.88, 0.961],
];
/** d2l's anchor aspect ratios (width/height), the same at every scale. */
export const TINY_SSD_RATIOS: readonly (readonly number[])[] = Array.from({ length: 5 }, () => [1, 2, 0.5]);

/** Input channels of each scale's predictors (d2l's `idx_to_in_channels`). */
const SCALE_CHANNELS = [64, 128, 128, 128, 128];
/** The base network's channel steps (d2l's `num_filters`). */
const BASE_CHANNELS = [3, 16, 32, 64];

/** Configuration of {@link tinySsd}. */
export interface TinySsdConfig {
  /** Object classes, without the background (d2l's banana set has 1). */
  numClasses: number;
  /** Anchor sizes per scale, five lists (default d2l's {@link TINY_SSD_SIZES}). */
  sizes?: readonly (readonly number[])[];
  /** Anchor aspect ratios per scale, five lists (default d2l's {@link TINY_SSD_RATIOS}). */
  ratios?: readonly (readonly number[])[];
}

/** What {@link TinySsdModel.apply} returns. */
export interface TinySsdOutput {
  /** Class logits (B, A, numClasses + 1), class 0 the background, anchors in d2l's order. */
  clsPreds: Tensor;
  /** Box offsets (B, A·4), four per anchor, in d2l's `offset_boxes` encoding. */
  bboxPreds: Tensor;
  /** Height and width of the five feature maps, for the anchors. */
  featureSizes: [number, number][];
  /** The new BatchNorm state. */
  state: State;
}

/** TinySSD as a model: `init` like a layer; `apply` gives class and box predictions for every anchor. */
export interface TinySsdModel {
  /** Object classes (without the background). */
  numClasses: number;
  /** Anchor sizes per scale. */
  sizes: number[][];
  /** Anchor aspect ratios per scale. */
  ratios: number[][];
  /** Anchors per feature-map pixel at each scale (sizes + ratios − 1). */
  anchorsPerPixel: number[];
  /** New parameters and BatchNorm state, initialised as PyTorch's defaults (d2l's PyTorch code adds none of its own). */
  init(key: Key, options?: { device?: Device }): { params: Params; state: State };
  /** Runs the network on images (B, 3, H, W), H and W ≥ 64. */
  apply(params: Params, state: State, x: Tensor, ctx: Ctx): TinySsdOutput;
  /** The five feature sizes for an H×W input (max pools floor, the last scale is 1×1). */
  featureSizes(height: number, width: number): [number, number][];
  /** Anchors per image for an H×W input: Σ feature pixels × anchors per pixel (5444 for 256² with d2l's settings). */
  numAnchors(height: number, width: number): number;
}

// ---- layers ---------------------------------------------------------------------------------------

/** d2l's down_sample_blk: (conv3×3 → BN → ReLU) × 2 → maxpool 2; children named as its nn.Sequential. */
function downSampleInit(key: Key, cin: number, cout: number, device?: Device): { params: Params; state: State } {
  const [k0, k3] = split(key);
  const bn = () => batchNorm2d({ numFeatures: cout }).init([0, 0], { device });
  const b1 = bn(),
    b4 = bn();
  return {
    params: {
      0: conv2d({ inChannels: cin, outChannels: cout, kernelSize: 3, padding: 1 }).init(k0, { device }).params,
      1: b1.params,
      3: conv2d({ inChannels: cout, outChannels: cout, kernelSize: 3, padding: 1 }).init(k3, { device }).params,
      4: b4.params,
    },
    state: { 1: b1.state, 4: b4.state },
  };
}

function downSample(p: Params, s: State, x: Tensor, ctx: Ctx): { y: Tensor; state: State } {
  const state: State = {};
  let h = x;
  for (const [conv, bn] of [
    ['0', '1'],
    ['3', '4'],
  ]) {
    const c = p[conv] as Params;
    const z = convOp(h, c.weight as Tensor, { bias: c.bias as Tensor, padding: 1 });
    if (h !== x) drop(h);
    const r = batchNorm2d({ numFeatures: z.shape[1], activation: 'relu' }).apply(p[bn] as Params, s[bn] as State, z, ctx);
    drop(z);
    state[bn] = r.state;
    h = r.y;
  }
  const y = maxPool2d(h, { kernelSize: 2 });
  drop(h);
  return { y, state };
}

/** d2l's flatten_pred: (B, C, H, W) → channels last → (B, H·W·C). */
function flattenPred(pred: Tensor): Tensor {
  const t = permute(pred, [0, 2, 3, 1]);
  const y = reshape(t, [pred.shape[0], -1]);
  if (y !== t) drop(t);
  return y;
}

function checkScales(what: 'sizes' | 'ratios', v: unknown): number[][] {
  const ok = Array.isArray(v) && v.length === 5 && v.every((l) => Array.isArray(l) && l.length > 0 && l.every((n) => typeof n === 'number' && n > 0));
  if (!ok) throw new ArgumentError('tinySsd', what, `is ${JSON.stringify(v)}`, 'five non-empty lists of positive numbers (one per scale)');
  return (v as number[][]).map((l) => [...l]);
}

// ---- the network ----------------------------------------------------------------------------------

/**
 * TinySSD (d2l's SSD chapter) for `numClasses` object classes: five scales, class and box predictors per
 * scale, d2l's anchor sizes and ratios by default and its parameter names.
 *
 * @example
 * ```ts
 * import { init, random, zeros } from '@webgrad/core/node';
 * import { tinySsd } from '@webgrad/core/models';
 * await init();
 * const net = tinySsd({ numClasses: 1 });
 * const { params, state } = net.init(random.key(0));
 * const out = net.apply(params, state, zeros([2, 3, 256, 256]), { training: false });
 * console.log(out.clsPreds.shape, out.bboxPreds.shape); // [2, 5444, 2] [2, 21776]
 * ```
 */
export function tinySsd(config: TinySsdConfig): TinySsdModel {
  const fn = 'tinySsd';
  if (typeof config !== 'object' || config === null)
    throw new ArgumentError(fn, 'config', `is ${config === null ? 'null' : typeof config}`, '{ numClasses: 1 }');
  const unknown = Object.keys(config).filter((k) => !['numClasses', 'sizes', 'ratios'].includes(k));
  if (unknown.length) throw new ArgumentError(fn, 'config', `has unknown key '${unknown[0]}'`, 'numClasses, sizes or ratios');
  const { numClasses } = config;
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ArgumentError(fn, 'numClasses', `is ${numClasses}`, 'an integer ≥ 1');
  const sizes = checkScales('sizes', config.sizes ?? TINY_SSD_SIZES);
  const ratios = checkScales('ratios', config.ratios ?? TINY_SSD_RATIOS);
  const anchorsPerPixel = sizes.map((s, i) => s.length + ratios[i].length - 1);

  const featureSizes = (height: number, width: number): [number, number][] => {
    const out: [number, number][] = [];
    let h = Math.floor(height / 8),
      w = Math.floor(width / 8);
    out.push([h, w]);
    for (let i = 1; i < 4; i++) out.push([(h = Math.floor(h / 2)), (w = Math.floor(w / 2))]);
    out.push([1, 1]);
    return out;
  };

  function init(key: Key, options: { device?: Device } = {}): { params: Params; state: State } {
    const device = options.device;
    // keys: three base-net blocks, blk_1..blk_3, cls_0..cls_4, bbox_0..bbox_4
    const keys = split(key, 16);
    const params: Params = {},
      state: State = {};
    const base = BASE_CHANNELS.slice(1).map((c, i) => downSampleInit(keys[i], BASE_CHANNELS[i], c, device));
    params.blk_0 = Object.fromEntries(base.map((b, i) => [String(i), b.params]));
    state.blk_0 = Object.fromEntries(base.map((b, i) => [String(i), b.state]));
    for (let i = 1; i < 4; i++) {
      const b = downSampleInit(keys[2 + i], SCALE_CHANNELS[i - 1], 128, device);
      params[`blk_${i}`] = b.params;
      state[`blk_${i}`] = b.state;
    }
    for (let i = 0; i < 5; i++) {
      const cin = SCALE_CHANNELS[i],
        a = anchorsPerPixel[i];
      params[`cls_${i}`] = conv2d({ inChannels: cin, outChannels: a * (numClasses + 1), kernelSize: 3, padding: 1 }).init(keys[6 + i], { device }).params;
      params[`bbox_${i}`] = conv2d({ inChannels: cin, outChannels: a * 4, kernelSize: 3, padding: 1 }).init(keys[11 + i], { device }).params;
    }
    return { params, state };
  }

  function apply(params: Params, state: State, x: Tensor, ctx: Ctx): TinySsdOutput {
    requireTensor(`${fn}.apply`, 'x', x, 'a Tensor (B, 3, H, W)');
    if (x.ndim !== 4 || x.shape[1] !== 3 || x.shape[2] < 64 || x.shape[3] < 64)
      throw new ArgumentError(`${fn}.apply`, 'x', `has shape ${fmtShape(x.shape)}`, '(B, 3, H, W) with H, W ≥ 64 (four halvings must leave 1 pixel)');
    const B = x.shape[0];
    const newState: State = {};
    const cls: Tensor[] = [],
      box: Tensor[] = [];
    let h = x;
    for (let i = 0; i < 5; i++) {
      let y: Tensor;
      if (i === 0) {
        const st: State = {};
        y = h;
        for (let j = 0; j < 3; j++) {
          const r = downSample((params.blk_0 as Params)[j] as Params, (state.blk_0 as State)[j] as State, y, ctx);
          if (y !== x) drop(y);
          y = r.y;
          st[j] = r.state;
        }
        newState.blk_0 = st;
      } else if (i < 4) {
        const r = downSample(params[`blk_${i}`] as Params, state[`blk_${i}`] as State, h, ctx);
        y = r.y;
        newState[`blk_${i}`] = r.state;
      } else y = adaptiveMaxPool2d(h, 1);
      if (h !== x) drop(h);
      h = y;
      const c = params[`cls_${i}`] as Params,
        b = params[`bbox_${i}`] as Params;
      const cp = convOp(h, c.weight as Tensor, { bias: c.bias as Tensor, padding: 1 });
      const bp = convOp(h, b.weight as Tensor, { bias: b.bias as Tensor, padding: 1 });
      cls.push(flattenPred(cp));
      box.push(flattenPred(bp));
      drop(cp, bp);
    }
    if (h !== x) drop(h);
    const catCls = concat(cls, 1);
    drop(...cls);
    const clsPreds = reshape(catCls, [B, -1, numClasses + 1]);
    if (clsPreds !== catCls) drop(catCls);
    const bboxPreds = concat(box, 1);
    drop(...box);
    return { clsPreds, bboxPreds, featureSizes: featureSizes(x.shape[2], x.shape[3]), state: newState };
  }

  return {
    numClasses,
    sizes,
    ratios,
    anchorsPerPixel,
    init,
    apply,
    featureSizes,
    numAnchors: (height, width) => featureSizes(height, width).reduce((s, [h, w], i) => s + h * w * anchorsPerPixel[i], 0),
  };
}
