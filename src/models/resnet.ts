/**
 * ResNet-18/34/50/101/152 and ResNeXt (He et al., 2016; Xie et al., 2017) with torchvision's exact
 * structure (v1.5: a bottleneck's stride sits on its 3×3 conv) and state_dict keys (`conv1.weight`,
 * `bn1.running_mean`, `layer1.0.conv1.weight`, `layer2.0.downsample.0.weight`,
 * `layer2.0.downsample.1.running_var`, `fc.weight`, …), so torchvision checkpoints load by key.
 * The layers are a pure fold over stage configs (torchvision's `_make_layer` mutates `self.inplanes`
 * instead). Initialisation as torchvision: convs kaiming_normal (fan_out, relu), BatchNorm weight 1
 * and bias 0, fc the default nn.Linear init; `zeroInitResidual` zeroes each block's last BN weight.
 * Three options describe the Caffe/Keras ResNet-50 (v1: stride on the bottleneck's first 1×1 conv, convs
 * with biases, BN epsilon 1e-3) with the same keys plus `….bias` on every conv: {@link KERAS_RESNET50_CONFIG}.
 */
import type { Key } from '../base/random';
import { split } from '../base/random';
import type { Tensor } from '../tensor/tensor';
import type { Device } from '../kernels/webgpu/device';
import { add, relu } from '../tensor/ops/elementwise';
import { maxPool2d, adaptiveAvgPool2d } from '../tensor/ops/pool';
import { flatten } from '../tensor/ops/layout';
import { conv2d as convOp } from '../tensor/ops/conv';
import { linear as linearOp } from '../tensor/ops/matmul';
import { batchNorm2d, linear } from '../nn/index';
import { kaimingNormal } from '../nn/init';
import { full } from '../tensor/ops/creation';
import type { Ctx, Params, State } from '../nn/module';
import { disposeUnlessTraced as drop } from '../nn/dispose';

/** The torchvision ResNet architectures {@link resnet} can build. */
export type ResNetName = 'resnet18' | 'resnet34' | 'resnet50' | 'resnet101' | 'resnet152' | 'resnext50_32x4d' | 'resnext101_32x8d' | 'wide_resnet50_2';
/**
 * The residual block: `basic` (two 3×3 convs, ResNet-18/34) or `bottleneck` (1×1, 3×3, 1×1; ResNet-50 and
 * deeper).
 */
export type BlockKind = 'basic' | 'bottleneck';

/** Block kind and blocks per stage, as torchvision's builders. */
export const RESNET_CONFIG: Record<ResNetName, { block: BlockKind; layers: [number, number, number, number]; groups?: number; widthPerGroup?: number }> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
  resnet152: { block: 'bottleneck', layers: [3, 8, 36, 3] },
  resnext50_32x4d: { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 },
  resnext101_32x8d: { block: 'bottleneck', layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 },
  wide_resnet50_2: { block: 'bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 128 },
};

/**
 * Configuration of {@link resnet}: the architecture, the number of classes and initialisation choices, as
 * torchvision's builder arguments.
 */
export interface ResNetConfig {
  /** A torchvision architecture (default 'resnet18'); `block`/`layers` override its table entry. */
  model?: ResNetName;
  /** Override the block kind of `model`. */
  block?: BlockKind;
  /** Override the blocks per stage of `model`. */
  layers?: [number, number, number, number];
  /** Output classes of `fc` (default 1000). */
  numClasses?: number;
  /** Zero the last BN weight of every block so each residual branch starts as the identity (default false). */
  zeroInitResidual?: boolean;
  /** ResNeXt cardinality (bottleneck only; default 1). */
  groups?: number;
  /** Bottleneck width per group (default 64; 4 with 32 groups is ResNeXt-50 32×4d). */
  widthPerGroup?: number;
  /** Input channels of conv1 (default 3). */
  inChannels?: number;
  /**
   * Planes of the four stages (default [64, 128, 256, 512], torchvision's). Not a torchvision option:
   * smaller values give a width-reduced network for small images and CPU-bound demos; the stem has
   * planes[0] channels. Key names and structure are unchanged.
   */
  planes?: [number, number, number, number];
  /**
   * Put a downsampling bottleneck's stride on its first 1×1 conv (ResNet v1 as Caffe and Keras built it)
   * instead of its 3×3 conv (torchvision's v1.5). Default false. Bottleneck only.
   */
  strideIn1x1?: boolean;
  /** Every conv carries a bias (`conv1.bias`, `layer1.0.conv1.bias`, `layer1.0.downsample.0.bias`, …), as Keras's; default false. */
  convBias?: boolean;
  /** Epsilon of every BatchNorm (default 1e-5, PyTorch's; Keras's ResNet-50 uses 1e-3). */
  bnEps?: number;
}

/**
 * Keras's ResNet-50 (keras.applications, Caffe layout) as a {@link resnet} configuration: ResNet v1 (stride on
 * the first 1×1 conv), convs with biases, BatchNorm epsilon 1e-3. Weights converted by the Keras reader load by
 * torchvision's keys.
 */
export const KERAS_RESNET50_CONFIG: ResNetConfig = { model: 'resnet50', strideIn1x1: true, convBias: true, bnEps: 1e-3 };

interface Built {
  params: Params;
  state: State;
}

const EXPANSION: Record<BlockKind, number> = { basic: 1, bottleneck: 4 };

/** One residual block's shape: input channels, planes, stride, and whether it projects its shortcut. */
export interface BlockSpec {
  inplanes: number;
  planes: number;
  stride: number;
  downsample: boolean;
}

/**
 * The blocks of the four stages as a pure fold: each stage starts from the previous stage's output
 * channels; its first block carries the stride and a 1×1 projection when the shape changes.
 */
export function resnetBlocks(block: BlockKind, layers: readonly number[], planes: readonly number[], stem: number): BlockSpec[][] {
  const e = EXPANSION[block];
  return layers.reduce<{ inplanes: number; stages: BlockSpec[][] }>(
    ({ inplanes, stages }, n, i) => {
      const stride = i === 0 ? 1 : 2;
      const blocks = Array.from(
        { length: n },
        (_, j): BlockSpec => ({
          inplanes: j === 0 ? inplanes : planes[i] * e,
          planes: planes[i],
          stride: j === 0 ? stride : 1,
          downsample: j === 0 && (stride !== 1 || inplanes !== planes[i] * e),
        }),
      );
      return { inplanes: planes[i] * e, stages: [...stages, blocks] };
    },
    { inplanes: stem, stages: [] },
  ).stages;
}

// ---- layers ---------------------------------------------------------------------------------------

/** Bias-free conv weight [out, in/groups, k, k] with kaiming_normal_(mode='fan_out', nonlinearity='relu'). */
const convWeight = (key: Key, cout: number, cin: number, k: number, groups: number, device?: Device) =>
  kaimingNormal(key, [cout, cin / groups, k, k], { mode: 'fanOut', nonlinearity: 'relu', device });

/** A conv's parameters: the kaiming weight, plus a zero bias when the configuration asks for one. */
const convInit = (key: Key, cout: number, cin: number, k: number, groups: number, bias: boolean, device?: Device): Params =>
  bias
    ? { weight: convWeight(key, cout, cin, k, groups, device), bias: full([cout], 0, { device }) }
    : { weight: convWeight(key, cout, cin, k, groups, device) };

function bnInit(c: number, device: Device | undefined, zero = false): Built {
  const bn = batchNorm2d({ numFeatures: c }).init([0, 0], { device });
  if (zero) {
    (bn.params.weight as Tensor).dispose();
    bn.params.weight = full([c], 0, { device });
  }
  return { params: bn.params, state: bn.state };
}

/** conv (with its bias when it has one) → BN, with the ReLU fused into the BN kernel when `relu`. Intermediates are freed unless traced. */
function convBn(
  p: Params,
  s: State,
  conv: string,
  bn: string,
  x: Tensor,
  o: { stride?: number; padding?: number; groups?: number; relu?: boolean; eps: number },
  ctx: Ctx,
  state: State,
): Tensor {
  const cp = p[conv] as Params;
  const w = cp.weight as Tensor;
  const h = convOp(x, w, { stride: o.stride ?? 1, padding: o.padding ?? 0, groups: o.groups ?? 1, bias: cp.bias as Tensor | undefined });
  const r = batchNorm2d({ numFeatures: w.shape[0], eps: o.eps, activation: o.relu ? 'relu' : 'none' }).apply(p[bn] as Params, s[bn] as State, h, ctx);
  drop(h);
  state[bn] = r.state;
  return r.y;
}

interface Widths {
  block: BlockKind;
  groups: number;
  widthPerGroup: number;
  zeroInitResidual: boolean;
  strideIn1x1: boolean;
  convBias: boolean;
  bnEps: number;
}

/** Convolutions of a block: [name, in, out, kernel, stride, groups]. */
function blockConvs(b: BlockSpec, w: Widths): [string, number, number, number, number, number][] {
  if (w.block === 'basic')
    return [
      ['conv1', b.inplanes, b.planes, 3, b.stride, 1],
      ['conv2', b.planes, b.planes, 3, 1, 1],
    ];
  const width = Math.floor(b.planes * (w.widthPerGroup / 64)) * w.groups;
  const [s1, s3] = w.strideIn1x1 ? [b.stride, 1] : [1, b.stride];
  return [
    ['conv1', b.inplanes, width, 1, s1, 1],
    ['conv2', width, width, 3, s3, w.groups],
    ['conv3', width, b.planes * 4, 1, 1, 1],
  ];
}

function blockInit(key: Key, b: BlockSpec, w: Widths, device?: Device): Built {
  const convs = blockConvs(b, w);
  const keys = split(key, convs.length + 1);
  const params: Params = {},
    state: State = {};
  convs.forEach(([name, cin, cout, k, , g], i) => {
    params[name] = convInit(keys[i], cout, cin, k, g, w.convBias, device);
    const bn = bnInit(cout, device, w.zeroInitResidual && i === convs.length - 1);
    params[`bn${i + 1}`] = bn.params;
    state[`bn${i + 1}`] = bn.state;
  });
  if (b.downsample) {
    const cout = b.planes * EXPANSION[w.block];
    const bn = bnInit(cout, device);
    params.downsample = { 0: convInit(keys[convs.length], cout, b.inplanes, 1, 1, w.convBias, device), 1: bn.params };
    state.downsample = { 1: bn.state };
  }
  return { params, state };
}

function block(p: Params, s: State, x: Tensor, b: BlockSpec, w: Widths, ctx: Ctx): { y: Tensor; state: State } {
  const state: State = {};
  const convs = blockConvs(b, w);
  let h = x;
  convs.forEach(([name, , , k, stride, groups], i) => {
    const next = convBn(p, s, name, `bn${i + 1}`, h, { stride, padding: k === 3 ? 1 : 0, groups, relu: i < convs.length - 1, eps: w.bnEps }, ctx, state);
    if (h !== x) drop(h);
    h = next;
  });
  let identity = x;
  if (b.downsample) {
    const ds: State = {};
    identity = convBn(p.downsample as Params, s.downsample as State, '0', '1', x, { stride: b.stride, eps: w.bnEps }, ctx, ds);
    state.downsample = ds;
  }
  const sum = add(h, identity);
  drop(h);
  if (identity !== x) drop(identity);
  const y = relu(sum);
  drop(sum);
  return { y, state };
}

// ---- the network ----------------------------------------------------------------------------------

/** What `ResNetModel.features` returns: the pooled features, the stage outputs and the new state. */
export interface ResNetFeatures {
  /**
   * Globally average-pooled features [N, C] of the last stage computed (C = 512 for ResNet-18/34, 2048 for the
   * bottleneck nets with all four stages).
   */
  y: Tensor;
  /** The outputs of layer1…layerK (strides 4, 8, 16, 32), K = `stages` (default 4), for detection and segmentation heads. */
  stages: Tensor[];
  /** The new BatchNorm state. */
  state: State;
}

/** Options of `ResNetModel.features`. */
export interface ResNetFeaturesOptions {
  /** Run only the first `stages` stages (default 4); the later stages are not computed. Their parameters may be absent. */
  stages?: 1 | 2 | 3 | 4;
}

/** A ResNet as a model: `init` and `apply` like a layer, plus `features` and `replaceHead` for transfer learning. */
export interface ResNetModel {
  /** The resolved configuration. */
  config: Required<Omit<ResNetConfig, 'model'>> & { model: ResNetName | 'custom' };
  /** Blocks of each stage (what the fold produced). */
  blocks: BlockSpec[][];
  /** Channels of the pooled features (the fc's input). */
  featureDim: number;
  /** New parameters and BatchNorm state, initialised as torchvision does. */
  init(key: Key, options?: { device?: Device }): { params: Params; state: State };
  /** Logits [N, numClasses] and the new BatchNorm state. */
  apply(params: Params, state: State, x: Tensor, ctx: Ctx): { y: Tensor; state: State };
  /**
   * Everything up to and including global average pooling (no fc), or only the first `options.stages` stages
   * (their BatchNorm state is returned; the state of the stages not run is passed through unchanged).
   */
  features(params: Params, state: State, x: Tensor, ctx: Ctx, options?: ResNetFeaturesOptions): ResNetFeatures;
  /** A new `fc` for `numClasses` outputs (default nn.Linear init); other leaves are shared with `params`, the old fc is left to the caller. */
  replaceHead(params: Params, numClasses: number, key: Key, options?: { device?: Device }): Params;
}

/**
 * ResNet (He et al. 2016) as torchvision builds it: resnet18 to resnet152, ResNeXt and wide variants, with
 * torchvision's state_dict names so its pretrained weights load directly.
 *
 * @example
 * ```ts
 * import { init, random, zeros, argmax } from '@webgrad/core/node';
 * import { resnet } from '@webgrad/core/models';
 * await init();
 * const model = resnet({ model: 'resnet18', numClasses: 10 });
 * const { params, state } = model.init(random.key(0)); // torchvision's names: conv1.weight, layer1.0.bn1.weight, …
 * const { y } = model.apply(params, state, zeros([2, 3, 64, 64]), { training: false });
 * console.log(y.shape, await argmax(y, 1).data()); // [2, 10], the predicted classes
 * ```
 */
export function resnet(config: ResNetConfig = {}): ResNetModel {
  const table = RESNET_CONFIG[config.model ?? 'resnet18'];
  if (!table) throw new Error(`resnet: unknown model '${config.model}'; known: ${Object.keys(RESNET_CONFIG).join(', ')}`);
  const c = {
    model: (config.block || config.layers ? 'custom' : (config.model ?? 'resnet18')) as ResNetName | 'custom',
    block: config.block ?? table.block,
    layers: config.layers ?? table.layers,
    numClasses: config.numClasses ?? 1000,
    zeroInitResidual: config.zeroInitResidual ?? false,
    groups: config.groups ?? table.groups ?? 1,
    widthPerGroup: config.widthPerGroup ?? table.widthPerGroup ?? 64,
    inChannels: config.inChannels ?? 3,
    planes: config.planes ?? ([64, 128, 256, 512] as [number, number, number, number]),
    strideIn1x1: config.strideIn1x1 ?? false,
    convBias: config.convBias ?? false,
    bnEps: config.bnEps ?? 1e-5,
  };
  if (!(typeof c.bnEps === 'number' && c.bnEps > 0 && Number.isFinite(c.bnEps))) throw new Error(`resnet: bnEps must be a positive number; got ${c.bnEps}`);
  if (c.strideIn1x1 && c.block !== 'bottleneck') throw new Error(`resnet: strideIn1x1 applies to bottleneck blocks only; got block '${c.block}'`);
  if (c.block === 'basic' && (c.groups !== 1 || c.widthPerGroup !== 64)) {
    throw new Error(
      `resnet: BasicBlock only supports groups=1 and widthPerGroup=64 (as torchvision); got groups=${c.groups}, widthPerGroup=${c.widthPerGroup}`,
    );
  }
  for (const [name, v] of [
    ['numClasses', c.numClasses],
    ['inChannels', c.inChannels],
    ['groups', c.groups],
    ['widthPerGroup', c.widthPerGroup],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`resnet: ${name} must be a positive integer; got ${v}`);
  }
  if (c.layers.length !== 4 || c.planes.length !== 4)
    throw new Error(`resnet: layers and planes need 4 entries; got layers [${c.layers}] and planes [${c.planes}]`);
  if (c.block === 'bottleneck') {
    const narrow = c.planes.find((p) => Math.floor(p * (c.widthPerGroup / 64)) < 1);
    if (narrow !== undefined)
      throw new Error(`resnet: bottleneck width ⌊planes·widthPerGroup/64⌋ is 0 for planes ${narrow} and widthPerGroup ${c.widthPerGroup}; use more planes`);
  }
  const stem = c.planes[0];
  const blocks = resnetBlocks(c.block, c.layers, c.planes, stem);
  const featureDim = c.planes[3] * EXPANSION[c.block];
  const w: Widths = c;
  const fc = (n: number) => linear({ inFeatures: featureDim, outFeatures: n });

  const features = (params: Params, state: State, x: Tensor, ctx: Ctx, options: ResNetFeaturesOptions = {}): ResNetFeatures => {
    if (x.ndim !== 4 || x.shape[1] !== c.inChannels) {
      throw new Error(`resnet: input must have shape [N, ${c.inChannels}, H, W]; got [${x.shape.join(', ')}]`);
    }
    const depth = options.stages ?? 4;
    if (![1, 2, 3, 4].includes(depth)) throw new Error(`resnet.features: options.stages must be 1, 2, 3 or 4; got ${depth}`);
    const newState: State = { ...state };
    const stem = convBn(params, state, 'conv1', 'bn1', x, { stride: 2, padding: 3, relu: true, eps: c.bnEps }, ctx, newState);
    let h = maxPool2d(stem, { kernelSize: 3, stride: 2, padding: 1 });
    drop(stem);
    const stages: Tensor[] = [];
    blocks.slice(0, depth).forEach((stage, i) => {
      const name = `layer${i + 1}`;
      const lp = params[name] as Params,
        ls = state[name] as State;
      const st: State = {};
      stage.forEach((b, j) => {
        const r = block(lp[j] as Params, ls[j] as State, h, b, w, ctx);
        st[j] = r.state;
        if (j > 0 || i === 0) drop(h); // the stage maps (each stage's last output) are returned
        h = r.y;
      });
      newState[name] = st;
      stages.push(h);
    });
    return { y: flatten(adaptiveAvgPool2d(h, 1), 1), stages, state: newState };
  };

  return {
    config: c,
    blocks,
    featureDim,
    init(key, options = {}) {
      const device = options.device;
      const [kStem, kLayers, kFc] = split(key, 3);
      const params: Params = { conv1: convInit(kStem, stem, c.inChannels, 7, 1, c.convBias, device) };
      const state: State = {};
      const bn1 = bnInit(stem, device);
      params.bn1 = bn1.params;
      state.bn1 = bn1.state;
      const stageKeys = split(kLayers, 4);
      blocks.forEach((stage, i) => {
        const keys = split(stageKeys[i], stage.length);
        const lp: Params = {},
          ls: State = {};
        stage.forEach((b, j) => {
          const r = blockInit(keys[j], b, w, device);
          lp[j] = r.params;
          ls[j] = r.state;
        });
        params[`layer${i + 1}`] = lp;
        state[`layer${i + 1}`] = ls;
      });
      params.fc = fc(c.numClasses).init(kFc, { device }).params as Params;
      return { params, state };
    },
    apply(params, state, x, ctx) {
      const f = features(params, state, x, ctx);
      const head = params.fc as Params;
      return { y: linearOp(f.y, head.weight as Tensor, head.bias as Tensor), state: f.state };
    },
    features,
    replaceHead(params, numClasses, key, options = {}) {
      if (!(Number.isInteger(numClasses) && numClasses > 0)) throw new Error(`resnet.replaceHead: numClasses must be a positive integer; got ${numClasses}`);
      return { ...params, fc: fc(numClasses).init(key, options).params as Params };
    },
  };
}

/** Parameter paths of the backbone (everything but `fc`), e.g. for a frozen optimizer group. */
export const isResNetHead = (path: string) => path === 'fc' || path.startsWith('fc.');
