/**
 * U²-Net and U²-NetP (Qin et al., 2020) for training and eval: the interpreter of the layout in
 * graph.ts that initialises the parameters (original PyTorch names, so official state_dicts load by
 * key) and runs the forward with BatchNorm in training or eval mode. `apply` returns the 7 logit
 * maps, fused first. Compact variants swap each 3×3 conv for a 2-group or a depthwise-separable one.
 * Without a gradient trace (inference) every intermediate is freed right after its last reader.
 */
import type { Key } from '../../base/random';
import { split } from '../../base/random';
import type { Tensor } from '../../tensor/tensor';
import type { Device } from '../../kernels/webgpu/device';
import { add, sigmoid } from '../../tensor/ops/elementwise';
import { concat, narrow } from '../../tensor/ops/layout';
import { maxPool2d } from '../../tensor/ops/pool';
import { upsampleLike } from '../../tensor/ops/resize';
import { conv2d as convOp } from '../../tensor/ops/conv';
import { conv2d, batchNorm2d } from '../../nn/index';
import type { Ctx, Params, State } from '../../nn/module';
import { disposeUnlessTraced as drop } from '../../nn/dispose';
import { binaryCrossEntropyWithLogits } from '../../tensor/ops/losses';

import { u2netGraph, runU2NetGraph, rebnconvVariant, type KeyPath, type RebnconvNode, type U2NetGraph, type U2NetName, type U2NetVariant } from './graph';

export { U2NET_CONFIG, type U2NetName, type U2NetVariant, type StageSpec } from './graph';

/** Configuration of {@link u2net}: the model (u2net or u2netp), the variant and the channel counts. */
export interface U2NetConfig {
  /** 'u2net' (default, 44M parameters) or 'u2netp' (the 1.1M-parameter small one). */
  model?: U2NetName;
  /** The block variant: the original convs, or grouped / depthwise-separable ones. */
  variant?: U2NetVariant;
  /** Channels of the input (default 3). */
  inChannels?: number;
  /** Channels of each saliency map (default 1). */
  outChannels?: number;
  /** Decoder concats larger than this many bytes are never built: their conv is split by input channel (default: the device's largest binding). */
  maxConcatBytes?: number;
}

// ---- REBNCONV: 3×3 conv (standard, grouped or separable) + BN + ReLU ----------------------------

function conv3x3Init(key: Key, cin: number, cout: number, variant: U2NetVariant, device?: Device): Params {
  const o = { device };
  if (variant === 'separable') {
    const [k1, k2] = split(key);
    return {
      depthwise: conv2d({ inChannels: cin, outChannels: cin, kernelSize: 3, groups: cin }).init(k1, o).params,
      pointwise: conv2d({ inChannels: cin, outChannels: cout, kernelSize: 1 }).init(k2, o).params,
    };
  }
  return conv2d({ inChannels: cin, outChannels: cout, kernelSize: 3, groups: variant === 'grouped' ? 2 : 1 }).init(key, o).params;
}

/**
 * The 3×3 conv of the channel concat of `parts`. When the concat would be larger than `maxBytes`
 * (lavapipe binds at most 128 MiB: stage1d's 128-channel input at 288² batch 4 is 170 MB), the conv
 * is split by input channels instead — conv(cat(a, b), W) = conv(a, W_a) + conv(b, W_b) — so the
 * big tensor is never built. Below the limit one concat + one conv costs fewer dispatches.
 */
function conv3x3Cat(p: Params, parts: Tensor[], dilation: number, maxBytes: number): Tensor {
  const [N, , H, W] = parts[0].shape;
  const channels = parts.map((t) => t.shape[1]);
  const total = channels.reduce((a, b) => a + b, 0);
  if (parts.length === 1) return conv3x3(p, parts[0], dilation);
  if (N * total * H * W * 4 <= maxBytes) {
    const cat = concat(parts, 1);
    const y = conv3x3(p, cat, dilation);
    drop(cat);
    return y;
  }
  const offsets = channels.map((_, i) => channels.slice(0, i).reduce((a, b) => a + b, 0));
  const opts = { padding: dilation, dilation };
  if ('depthwise' in p) {
    // pointwise(cat(dw(a), dw(b))) = pw_a(dw_a(a)) + pw_b(dw_b(b))
    const dw = p.depthwise as Params,
      pw = p.pointwise as Params;
    const terms = parts.map((x, i) => {
      const h = convOp(x, narrow(dw.weight as Tensor, 0, offsets[i], channels[i]), {
        bias: narrow(dw.bias as Tensor, 0, offsets[i], channels[i]),
        ...opts,
        groups: channels[i],
      });
      return convOp(h, narrow(pw.weight as Tensor, 1, offsets[i], channels[i]), { bias: i === 0 ? (pw.bias as Tensor) : undefined });
    });
    return terms.reduce((a, b) => add(a, b));
  }
  const w = p.weight as Tensor,
    b = p.bias as Tensor;
  const groups = total / w.shape[1];
  if (groups === 1) {
    return parts.map((x, i) => convOp(x, narrow(w, 1, offsets[i], channels[i]), { bias: i === 0 ? b : undefined, ...opts })).reduce((a, c) => add(a, c));
  }
  // grouped: each part must be whole groups (U²-Net's decoder halves are exactly the 2 groups)
  const cg = w.shape[1],
    og = w.shape[0] / groups;
  if (channels.some((c, i) => c % cg || offsets[i] % cg)) return conv3x3(p, concat(parts, 1), dilation);
  return concat(
    parts.map((x, i) => {
      const g0 = offsets[i] / cg,
        gs = channels[i] / cg;
      return convOp(x, narrow(w, 0, g0 * og, gs * og), { bias: narrow(b, 0, g0 * og, gs * og), ...opts, groups: gs });
    }),
    1,
  );
}

function conv3x3(p: Params, x: Tensor, dilation: number): Tensor {
  if ('depthwise' in p) {
    const dw = p.depthwise as Params,
      pw = p.pointwise as Params;
    const h = convOp(x, dw.weight as Tensor, { bias: dw.bias as Tensor, padding: dilation, dilation, groups: x.shape[1] });
    const y = convOp(h, pw.weight as Tensor, { bias: pw.bias as Tensor });
    drop(h);
    return y;
  }
  const w = p.weight as Tensor;
  return convOp(x, w, { bias: p.bias as Tensor, padding: dilation, dilation, groups: x.shape[1] / w.shape[1] });
}

/** The REBNCONV's BatchNorm, with the ReLU fused into its kernel. */
const rebnconvBn = (n: RebnconvNode) => batchNorm2d({ numFeatures: n.outChannels, activation: 'relu' });

// ---- params by path ------------------------------------------------------------------------------

const at = (tree: Params | State, path: string): Params | undefined => path.split('.').reduce<Params | undefined>((t, k) => t?.[k] as Params | undefined, tree);

function put(tree: Params | State, path: string, value: Params | State): void {
  const keys = path.split('.');
  let t = tree;
  for (const k of keys.slice(0, -1)) t = (t[k] ??= {}) as Params;
  t[keys[keys.length - 1]] = value;
}

/** The key at `path` below `root` (splits memoised: the 119 convs share their stage's split). */
function keyFinder(root: Key): (path: KeyPath) => Key {
  const memo = new Map<string, Key[]>();
  return (path) => {
    let k = root,
      id = '';
    for (const [count, index] of path) {
      id += `/${count}`;
      let ks = memo.get(id);
      if (!ks) memo.set(id, (ks = split(k, count)));
      k = ks[index];
      id += `.${index}`;
    }
    return k;
  };
}

const pool = (x: Tensor) => maxPool2d(x, { kernelSize: 2, stride: 2, ceilMode: true });

// ---- the whole network -------------------------------------------------------------------------

/** U²-Net as a model: `init` and `apply` like a layer, plus its configuration and graph. */
export interface U2NetModel {
  /** The resolved configuration. */
  config: Required<Omit<U2NetConfig, 'maxConcatBytes'>> & Pick<U2NetConfig, 'maxConcatBytes'>;
  /** The layout every interpreter (this forward, folded inference, ONNX export/import) reads. */
  graph: U2NetGraph;
  /** New parameters and BatchNorm state, initialised as the reference implementation's PyTorch layers are. */
  init(key: Key, options?: { device?: Device }): { params: Params; state: State };
  /** The 7 logit maps [d0 (fused), d1, …, d6], each [N, outChannels, H, W]. */
  apply(params: Params, state: State, x: Tensor, ctx: Ctx): { logits: Tensor[]; state: State };
}

/**
 * U²-Net (Qin et al. 2020) for salient-object detection, with the reference implementation's parameter names so
 * its checkpoints load directly.
 *
 * @example
 * ```ts
 * import { init, random, zeros } from '@webgrad/core/node';
 * import { u2net } from '@webgrad/core/models';
 * await init();
 * const model = u2net({ model: 'u2netp' });
 * const { params, state } = model.init(random.key(0));
 * const { logits } = model.apply(params, state, zeros([1, 3, 64, 64]), { training: false });
 * console.log(logits.length, logits[0].shape); // 7 side outputs, [1, 1, 64, 64]
 * ```
 */
export function u2net(config: U2NetConfig = {}): U2NetModel {
  const c: U2NetModel['config'] = { model: 'u2net', variant: 'standard', inChannels: 3, outChannels: 1, ...config };
  const graph = u2netGraph(c);
  return {
    config: c,
    graph,
    init(key, options = {}) {
      const keyOf = keyFinder(key);
      const device = options.device;
      const params: Params = {},
        state: State = {};
      for (const n of graph.nodes) {
        if (n.op === 'rebnconv') {
          const k = keyOf(n.key);
          const bn = rebnconvBn(n).init(k, { device });
          put(params, n.name, {
            conv_s1: conv3x3Init(k, n.inChannels, n.outChannels, rebnconvVariant(c.variant, n.inChannels, n.outChannels), device),
            bn_s1: bn.params,
          });
          put(state, n.name, { bn_s1: bn.state });
        } else if (n.op === 'conv') {
          put(
            params,
            n.name,
            conv2d({ inChannels: n.inChannels, outChannels: n.outChannels, kernelSize: n.kernelSize, padding: n.padding }).init(keyOf(n.key), { device })
              .params,
          );
        }
      }
      return { params, state };
    },
    apply(params, state, x, ctx) {
      if (x.ndim !== 4 || x.shape[1] !== c.inChannels) {
        throw new Error(`u2net: input must have shape [N, ${c.inChannels}, H, W]; got [${x.shape.join(', ')}]`);
      }
      const newState: State = {};
      const maxBytes = c.maxConcatBytes ?? x.device.maxBindingSize;
      const logits = runU2NetGraph<Tensor>(graph, x, {
        rebnconv(n, xs) {
          const p = at(params, n.name),
            s = at(state, n.name);
          if (!p || !s) throw new Error(`u2net: params or state has no '${n.name}' (is this a ${c.model}?)`);
          const h = conv3x3Cat(p.conv_s1 as Params, xs, n.dilation, maxBytes);
          const r = rebnconvBn(n).apply(p.bn_s1 as Params, s.bn_s1 as State, h, ctx);
          drop(h);
          put(newState, n.name, { bn_s1: r.state });
          return r.y;
        },
        conv(n, xs) {
          const p = at(params, n.name);
          if (!p) throw new Error(`u2net: params has no '${n.name}'`);
          const cat = xs.length === 1 ? xs[0] : concat(xs, 1);
          const y = convOp(cat, p.weight as Tensor, { bias: p.bias as Tensor, padding: n.padding });
          if (cat !== xs[0]) drop(cat);
          return y;
        },
        maxpool: (_n, t) => pool(t),
        upsample: (_n, t, like) => upsampleLike(t, like),
        add: (_n, a, b) => add(a, b),
        free: (t) => drop(t),
      });
      return { logits, state: newState };
    },
  };
}

/** Deep supervision: the sum of BCE-with-logits over the 7 maps (the original sums 7 BCE terms). */
export function u2netLoss(logits: readonly Tensor[], target: Tensor): Tensor {
  return logits.map((l) => binaryCrossEntropyWithLogits(l, target)).reduce((a, b) => add(a, b));
}

/** Saliency probabilities of the fused map (what inference uses). */
export const u2netMask = (logits: readonly Tensor[]): Tensor => sigmoid(logits[0]);
