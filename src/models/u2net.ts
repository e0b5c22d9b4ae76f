/**
 * U²-Net and U²-NetP (Qin et al., 2020) with the original parameter names, so official state_dicts
 * load by key. One generic RSU(height, dilated) block over config tables; every REBNCONV is a 3×3
 * conv (padding = dilation) + BatchNorm + ReLU; encoders max-pool 2×2 with ceil mode and decoders
 * upsample bilinearly (alignCorners false) to the skip's size. `apply` returns the 7 logit maps,
 * fused first. Compact variants swap each 3×3 conv for a 2-group or a depthwise-separable one.
 */
import type { Key } from '../tensor/random';
import { split } from '../tensor/random';
import type { Tensor } from '../tensor/tensor';
import type { Device } from '../kernels/webgpu/device';
import { add, sigmoid } from '../tensor/ops/elementwise';
import { concat, narrow } from '../tensor/ops/layout';
import { maxPool2d } from '../tensor/ops/pool';
import { upsampleLike } from '../tensor/ops/resize';
import { conv2d as convOp } from '../tensor/ops/conv';
import { conv2d, batchNorm2d } from '../nn/index';
import type { Ctx } from '../nn/module';
import { isRecording } from '../tensor/tape';
import { binaryCrossEntropyWithLogits } from '../tensor/ops/losses';

export type U2NetVariant = 'standard' | 'grouped' | 'separable';
export type U2NetName = 'u2net' | 'u2netp';

/** [height, inChannels, midChannels, outChannels, dilated] per stage. */
type StageSpec = [number, number, number, number, boolean];

export const U2NET_CONFIG: Record<U2NetName, { stages: Record<string, StageSpec>; sides: number[] }> = {
  u2net: {
    stages: {
      stage1: [7, 3, 32, 64, false], stage2: [6, 64, 32, 128, false], stage3: [5, 128, 64, 256, false], stage4: [4, 256, 128, 512, false],
      stage5: [4, 512, 256, 512, true], stage6: [4, 512, 256, 512, true],
      stage5d: [4, 1024, 256, 512, true], stage4d: [4, 1024, 128, 256, false], stage3d: [5, 512, 64, 128, false], stage2d: [6, 256, 32, 64, false], stage1d: [7, 128, 16, 64, false],
    },
    sides: [64, 64, 128, 256, 512, 512],
  },
  u2netp: {
    stages: {
      stage1: [7, 3, 16, 64, false], stage2: [6, 64, 16, 64, false], stage3: [5, 64, 16, 64, false], stage4: [4, 64, 16, 64, false],
      stage5: [4, 64, 16, 64, true], stage6: [4, 64, 16, 64, true],
      stage5d: [4, 128, 16, 64, true], stage4d: [4, 128, 16, 64, false], stage3d: [5, 128, 16, 64, false], stage2d: [6, 128, 16, 64, false], stage1d: [7, 128, 16, 64, false],
    },
    sides: [64, 64, 64, 64, 64, 64],
  },
};

export interface U2NetConfig {
  model?: U2NetName; variant?: U2NetVariant; inChannels?: number; outChannels?: number;
  /** Decoder concats larger than this many bytes are never built: their conv is split by input channel (default: the device's largest binding). */
  maxConcatBytes?: number;
}

type P = { [k: string]: Tensor | P };

/**
 * Frees intermediates as soon as their last reader has run when no gradient trace needs them
 * (inference): U²-NetP's 320² forward otherwise holds every activation until the enclosing tidy ends.
 */
const drop = (...ts: Tensor[]) => { if (!isRecording()) for (const t of ts) t.dispose(); };

// ---- REBNCONV: 3×3 conv (standard, grouped or separable) + BN + ReLU ----------------------------

/** Whether a 3×3 conv from `cin` to `cout` can use the variant (2 groups need even channel counts). */
const variantFor = (v: U2NetVariant, cin: number, cout: number): U2NetVariant => (v === 'grouped' && (cin % 2 || cout % 2) ? 'standard' : v);

function conv3x3Init(key: Key, cin: number, cout: number, variant: U2NetVariant, device?: Device): P {
  const o = { device };
  if (variant === 'separable') {
    const [k1, k2] = split(key);
    return {
      depthwise: conv2d({ inChannels: cin, outChannels: cin, kernelSize: 3, groups: cin }).init(k1, o).params as P,
      pointwise: conv2d({ inChannels: cin, outChannels: cout, kernelSize: 1 }).init(k2, o).params as P,
    };
  }
  return conv2d({ inChannels: cin, outChannels: cout, kernelSize: 3, groups: variant === 'grouped' ? 2 : 1 }).init(key, o).params as P;
}

/**
 * The 3×3 conv of the channel concat of `parts`. When the concat would be larger than `maxBytes`
 * (lavapipe binds at most 128 MiB: stage1d's 128-channel input at 288² batch 4 is 170 MB), the conv
 * is split by input channels instead — conv(cat(a, b), W) = conv(a, W_a) + conv(b, W_b) — so the
 * big tensor is never built. Below the limit one concat + one conv costs fewer dispatches.
 */
function conv3x3Cat(p: P, parts: Tensor[], dilation: number, maxBytes: number): Tensor {
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
    const dw = p.depthwise as P, pw = p.pointwise as P;
    const terms = parts.map((x, i) => {
      const h = convOp(x, narrow(dw.weight as Tensor, 0, offsets[i], channels[i]), { bias: narrow(dw.bias as Tensor, 0, offsets[i], channels[i]), ...opts, groups: channels[i] });
      return convOp(h, narrow(pw.weight as Tensor, 1, offsets[i], channels[i]), { bias: i === 0 ? pw.bias as Tensor : undefined });
    });
    return terms.reduce((a, b) => add(a, b));
  }
  const w = p.weight as Tensor, b = p.bias as Tensor;
  const groups = total / w.shape[1];
  if (groups === 1) {
    return parts.map((x, i) => convOp(x, narrow(w, 1, offsets[i], channels[i]), { bias: i === 0 ? b : undefined, ...opts })).reduce((a, c) => add(a, c));
  }
  // grouped: each part must be whole groups (U²-Net's decoder halves are exactly the 2 groups)
  const cg = w.shape[1], og = w.shape[0] / groups;
  if (channels.some((c, i) => c % cg || offsets[i] % cg)) return conv3x3(p, concat(parts, 1), dilation);
  return concat(parts.map((x, i) => {
    const g0 = offsets[i] / cg, gs = channels[i] / cg;
    return convOp(x, narrow(w, 0, g0 * og, gs * og), { bias: narrow(b, 0, g0 * og, gs * og), ...opts, groups: gs });
  }), 1);
}

function conv3x3(p: P, x: Tensor, dilation: number): Tensor {
  if ('depthwise' in p) {
    const dw = p.depthwise as P, pw = p.pointwise as P;
    const h = convOp(x, dw.weight as Tensor, { bias: dw.bias as Tensor, padding: dilation, dilation, groups: x.shape[1] });
    const y = convOp(h, pw.weight as Tensor, { bias: pw.bias as Tensor });
    drop(h);
    return y;
  }
  const w = p.weight as Tensor;
  return convOp(x, w, { bias: p.bias as Tensor, padding: dilation, dilation, groups: x.shape[1] / w.shape[1] });
}

interface Built { params: P; state: P; }

function rebnconvInit(key: Key, cin: number, cout: number, variant: U2NetVariant, device?: Device): Built {
  const bn = batchNorm2d({ numFeatures: cout }).init(key, { device });
  return { params: { conv_s1: conv3x3Init(key, cin, cout, variantFor(variant, cin, cout), device), bn_s1: bn.params as P }, state: { bn_s1: bn.state as P } };
}

/** BatchNorm with the ReLU fused into its kernel (only momentum and eps of the config matter to apply). */
const BN_RELU = batchNorm2d({ numFeatures: 0, activation: 'relu' });

function rebnconv(p: P, s: P, x: Tensor[], dilation: number, ctx: Ctx, maxBytes: number): { y: Tensor; state: P } {
  const h = conv3x3Cat(p.conv_s1 as P, x, dilation, maxBytes);
  const r = BN_RELU.apply(p.bn_s1 as any, s.bn_s1 as any, h, ctx);
  drop(h);
  return { y: r.y, state: { bn_s1: r.state as P } };
}

// ---- RSU(height, dilated) ------------------------------------------------------------------------

/** Dilation of encoder conv i (1-based) and decoder conv id. */
const encDilation = (L: number, dilated: boolean, i: number) => (dilated ? 2 ** (i - 1) : i === L ? 2 : 1);
const decDilation = (dilated: boolean, i: number) => (dilated ? 2 ** (i - 1) : 1);

function rsuInit(key: Key, [L, cin, mid, cout, dilated]: StageSpec, variant: U2NetVariant, device?: Device): Built {
  const keys = split(key, 2 * L);
  const params: P = {}, state: P = {};
  const put = (name: string, b: Built) => { params[name] = b.params; state[name] = b.state; };
  put('rebnconvin', rebnconvInit(keys[0], cin, cout, variant, device));
  for (let i = 1; i <= L; i++) put(`rebnconv${i}`, rebnconvInit(keys[i], i === 1 ? cout : mid, mid, variant, device));
  for (let i = L - 1; i >= 1; i--) put(`rebnconv${i}d`, rebnconvInit(keys[L + i], 2 * mid, i === 1 ? cout : mid, variant, device));
  return { params, state };
}

const pool = (x: Tensor) => maxPool2d(x, { kernelSize: 2, stride: 2, ceilMode: true });

function rsu(p: P, s: P, x: Tensor[], [L, , , , dilated]: StageSpec, ctx: Ctx, maxBytes: number): { y: Tensor; state: P } {
  const state: P = {};
  const block = (name: string, input: Tensor[], dilation: number) => {
    const r = rebnconv(p[name] as P, s[name] as P, input, dilation, ctx, maxBytes);
    state[name] = r.state;
    return r.y;
  };
  const hxin = block('rebnconvin', x, 1);
  const enc: Tensor[] = [];
  let hx = hxin;
  for (let i = 1; i <= L; i++) {
    const pooled = i > 1 && !dilated && i < L;
    hx = pooled ? pool(enc[i - 2]) : i > 1 ? enc[i - 2] : hx;
    enc.push(block(`rebnconv${i}`, [hx], encDilation(L, dilated, i)));
    if (pooled) drop(hx);
  }
  let d = enc[L - 1];
  for (let i = L - 1; i >= 1; i--) {
    const skip = enc[i - 1];
    const up = dilated || i === L - 1 ? d : upsampleLike(d, skip);
    const next = block(`rebnconv${i}d`, [up, skip], decDilation(dilated, i));
    drop(...new Set([up, d, skip]));
    d = next;
  }
  const y = add(d, hxin);
  drop(d, hxin);
  return { y, state };
}

// ---- the whole network -------------------------------------------------------------------------

export interface U2NetModel {
  config: Required<Omit<U2NetConfig, 'maxConcatBytes'>> & Pick<U2NetConfig, 'maxConcatBytes'>;
  init(key: Key, options?: { device?: Device }): { params: P; state: P };
  /** The 7 logit maps [d0 (fused), d1, …, d6], each [N, outChannels, H, W]. */
  apply(params: P, state: P, x: Tensor, ctx: Ctx): { logits: Tensor[]; state: P };
}

const ENCODER = ['stage1', 'stage2', 'stage3', 'stage4', 'stage5', 'stage6'];
const DECODER = ['stage5d', 'stage4d', 'stage3d', 'stage2d', 'stage1d'];

export function u2net(config: U2NetConfig = {}): U2NetModel {
  const c: U2NetModel['config'] = { model: 'u2net', variant: 'standard', inChannels: 3, outChannels: 1, ...config };
  const table = U2NET_CONFIG[c.model];
  const spec = (name: string): StageSpec => {
    const t = table.stages[name];
    return name === 'stage1' ? [t[0], c.inChannels, t[2], t[3], t[4]] : t;
  };
  return {
    config: c,
    init(key, options = {}) {
      const keys = split(key, 20);
      const params: P = {}, state: P = {};
      [...ENCODER, ...DECODER].forEach((name, i) => {
        const b = rsuInit(keys[i], spec(name), c.variant, options.device);
        params[name] = b.params; state[name] = b.state;
      });
      table.sides.forEach((ch, i) => {
        params[`side${i + 1}`] = conv2d({ inChannels: ch, outChannels: c.outChannels, kernelSize: 3, padding: 1 }).init(keys[11 + i], options).params as P;
      });
      params.outconv = conv2d({ inChannels: 6 * c.outChannels, outChannels: c.outChannels, kernelSize: 1 }).init(keys[17], options).params as P;
      return { params, state };
    },
    apply(params, state, x, ctx) {
      if (x.ndim !== 4 || x.shape[1] !== c.inChannels) {
        throw new Error(`u2net: input must have shape [N, ${c.inChannels}, H, W]; got [${x.shape.join(', ')}]`);
      }
      const newState: P = {};
      const maxBytes = c.maxConcatBytes ?? x.device.limits.maxStorageBufferBindingSize;
      const stage = (name: string, input: Tensor[]) => {
        const r = rsu(params[name] as P, state[name] as P, input, spec(name), ctx, maxBytes);
        newState[name] = r.state;
        return r.y;
      };
      const enc: Tensor[] = [];
      let hx = x;
      ENCODER.forEach((name, i) => {
        if (i > 0) hx = pool(enc[i - 1]);
        enc.push(stage(name, [hx]));
        if (i > 0) drop(hx);
      });
      const dec: Tensor[] = [enc[5]]; // hx6, then hx5d … hx1d
      DECODER.forEach((name, j) => {
        const skip = enc[4 - j];
        const up = upsampleLike(dec[j], skip);
        dec.push(stage(name, [up, skip]));
        drop(up, skip);
      });
      // side outputs from hx1d, hx2d, …, hx5d, hx6, each upsampled to d1's size
      const sources = [dec[5], dec[4], dec[3], dec[2], dec[1], dec[0]];
      const side = (i: number) => {
        const p = params[`side${i + 1}`] as P;
        return convOp(sources[i], p.weight as Tensor, { bias: p.bias as Tensor, padding: 1 });
      };
      const d1 = side(0);
      const sides = [d1, ...[1, 2, 3, 4, 5].map((i) => { const raw = side(i); const up = upsampleLike(raw, d1); drop(raw); return up; })];
      drop(...dec);
      const out = params.outconv as P;
      const cat = concat(sides, 1);
      const d0 = convOp(cat, out.weight as Tensor, { bias: out.bias as Tensor });
      drop(cat);
      return { logits: [d0, ...sides], state: newState };
    },
  };
}

/** Deep supervision: the sum of BCE-with-logits over the 7 maps (the original sums 7 BCE terms). */
export function u2netLoss(logits: readonly Tensor[], target: Tensor): Tensor {
  return logits.map((l) => binaryCrossEntropyWithLogits(l, target)).reduce((a, b) => add(a, b));
}

/** Saliency probabilities of the fused map (what inference uses). */
export const u2netMask = (logits: readonly Tensor[]): Tensor => sigmoid(logits[0]);
