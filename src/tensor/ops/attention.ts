/**
 * Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention: softmax(q·kᵀ·scale + bias)·v,
 * with an optional additive bias and SAM's decomposed relative-position bias (one term per key row, one per key
 * column).
 *
 * Fused kernels (src/kernels/wgsl/attention.ts): the forward keeps an online softmax over key tiles and writes the
 * output and each row's logsumexp; the backward recomputes P from the logsumexp in three ops (dQ with the
 * relative-position gradients, dK and dV, and the bias gradient summed to the bias's shape in the kernel). No
 * [Lq, Lk] matrix is ever stored, so the size is bounded by q, k, v and the bias, not by the attention matrix.
 * An unfused path (matmul, softmax, matmul) serves the sizes where its matrix fits and it is faster (`backend`).
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import type { DType } from '../../base/dtype';
import { grid } from '../../kernels/webgpu/device';
import { ATTN_MAX_LEAD, ATTN_ROWS, attentionPlan, attentionTile, padHead, type AttentionVariant } from '../../kernels/wgsl/attention';
import type { Tensor } from '../tensor';
import { defineComposite, defineOp, type Operand, type RefTensor, type TensorMeta } from './define';
import { add, mul, sub } from './elementwise';
import { matmul } from './matmul';
import { reshape } from './shape-ops';
import { softmax } from './softmax';
import { unsqueeze } from './layout';
import { sum } from './reduce';
import { zerosLike } from './creation';
import { refAttention, refAttentionGradBias, refAttentionGradKV, refAttentionGradQ, type RefAttentionExtras } from './ref/attention';

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /** An additive bias broadcastable to `[...batch, Lq, Lk]` (a mask, a position term). */
  bias?: Tensor;
  /**
   * SAM's decomposed relative-position bias: `h` is `[...batch, Lq, kh]` and `w` is `[...batch, Lq, kw]` with
   * `Lk = kh·kw`; logit `(q, i·kw + j)` gets `h[…, q, i] + w[…, q, j]`.
   */
  relPos?: { h: Tensor; w: Tensor };
  /** The logits' scale; default `1/sqrt(D)`, as PyTorch's. */
  scale?: number;
  /**
   * Which implementation: `'fused'` (the flash-attention kernels: no [Lq, Lk] matrix is ever stored), `'unfused'`
   * (matmul, softmax, matmul: stores the matrix) or `'auto'` (default): unfused while the float32 matrix takes at most
   * half the device's largest binding, fused beyond. On lavapipe the unfused path is the faster one wherever it fits
   * (bench/attention.ts), and only the fused one runs SAM's global blocks.
   */
  backend?: 'auto' | 'fused' | 'unfused';
}

/**
 * The ops' attributes. The optional inputs travel as a list after the fixed ones: none, [bias], [relH, relW]
 * or [bias, relH, relW] (the count tells which).
 */
interface AttentionAttrs {
  scale: number;
  kh: number;
  kw: number;
}

function named<T>(extra: readonly T[]): { bias?: T; relH?: T; relW?: T } {
  const hasBias = extra.length === 1 || extra.length === 3;
  const rel = extra.length >= 2 ? extra.slice(-2) : [];
  return { bias: hasBias ? extra[0] : undefined, relH: rel[0], relW: rel[1] };
}

const refExtras = (extra: readonly RefTensor[]): RefAttentionExtras => named(extra);

/** The bias's strides along Lq, Lk and its folded batch axes (0 where it is broadcast). */
interface BiasGeometry {
  sbq: number;
  sbk: number;
  ld: number[];
  ls: number[];
  /** positions each bias element is broadcast to */
  R: number;
}

function biasGeometry(biasShape: readonly number[], full: readonly number[]): BiasGeometry {
  const r = full.length;
  const pad = [...new Array(r - biasShape.length).fill(1), ...biasShape];
  const stride = new Array<number>(r);
  for (let d = r - 1, s = 1; d >= 0; d--) {
    stride[d] = pad[d] === 1 ? 0 : s;
    s *= pad[d];
  }
  const ld: number[] = [],
    ls: number[] = [];
  for (let d = 0; d < r - 2; d++) {
    if (full[d] === 1) continue;
    const last = ld.length - 1;
    // neighbours that are both broadcast, or both kept (row-major, so the outer stride is the inner one times its size), fold
    if (last >= 0 && (ls[last] === 0) === (stride[d] === 0)) {
      ld[last] *= full[d];
      ls[last] = stride[d];
    } else {
      ld.push(full[d]);
      ls.push(stride[d]);
    }
  }
  const size = pad.reduce((a, b) => a * b, 1);
  return { sbq: stride[r - 2], sbk: stride[r - 1], ld, ls, R: size > 0 ? full.reduce((a, b) => a * b, 1) / size : 0 };
}

interface Geometry {
  B: number;
  Lq: number;
  Lk: number;
  D: number;
  Dv: number;
  bias?: Tensor;
  relH?: Tensor;
  relW?: Tensor;
  values: Record<string, number | number[]>;
}

function geometry(q: Tensor, k: Tensor, v: Tensor, extra: readonly Tensor[], a: AttentionAttrs, rows: 'q' | 'k'): Geometry {
  const r = q.ndim;
  const [Lq, D] = q.shape.slice(-2);
  const Lk = k.shape[r - 2],
    Dv = v.shape[r - 1];
  const lead = q.shape.slice(0, -2);
  const B = lead.reduce((x, y) => x * y, 1);
  const { bias, relH, relW } = named(extra);
  const g = bias ? biasGeometry(bias.shape, [...lead, Lq, Lk]) : { sbq: 0, sbk: 0, ld: [], ls: [], R: 0 };
  if (g.ld.length > ATTN_MAX_LEAD)
    throw new ArgumentError(
      'scaledDotProductAttention',
      'bias',
      `has shape ${fmtShape(bias!.shape)}`,
      `at most ${ATTN_MAX_LEAD} alternations of broadcast batch axes`,
    );
  const nTiles = Math.max(1, Math.ceil((rows === 'q' ? Lq : Lk) / ATTN_ROWS));
  const values = {
    B,
    Lq,
    Lk,
    D,
    Dv,
    kh: a.kh,
    kw: a.kw,
    nTiles,
    scale: a.scale,
    sbq: g.sbq,
    sbk: g.sbk,
    nLead: g.ld.length,
    R: g.R,
    n: bias ? bias.size : 0,
    ld: g.ld,
    ls: g.ls,
  };
  return { B, Lq, Lk, D, Dv, bias, relH, relW, values };
}

/** The kernel variant for `op`: padded head sizes and the largest tile whose workgroup arrays fit the device. */
function variant(q: Tensor, g: Geometry, op: AttentionVariant['op']): AttentionVariant {
  const dp = padHead(g.D),
    dvp = padHead(g.Dv);
  let tile = 0;
  if (op !== 'dbias') {
    tile = attentionTile(dp + dvp + (op === 'dkv' ? 2 : 0), q.device.limits.maxComputeWorkgroupStorageSize);
    if (tile === 0)
      throw new ArgumentError(
        'scaledDotProductAttention',
        'q',
        `has head sizes D = ${g.D}, Dv = ${g.Dv}`,
        'head sizes whose key/value tile fits workgroup memory',
      );
  }
  return { op, dp, dvp, tile, bias: !!g.bias, rel: !!g.relH, et: q.dtype === 'float16' ? 'f16' : 'f32' };
}

/** Binds q, k, v, the optional inputs, then `after` (lse, delta, dO for the backward) and the outputs, as the kernels declare them. */
function dispatch(name: string, q: Tensor, k: Tensor, v: Tensor, g: Geometry, op: AttentionVariant['op'], after: Tensor[], outputs: Tensor[]): void {
  const plan = attentionPlan(variant(q, g, op), g.values);
  const extra = [g.bias, g.relH, g.relW].filter((t): t is Tensor => t !== undefined);
  const buffers = [q, k, v, ...extra, ...after, ...outputs].map((t) => t.binding);
  const workgroups = op === 'dbias' ? grid(g.values.n as number, ATTN_ROWS) : grid(g.B * (g.values.nTiles as number) * ATTN_ROWS, ATTN_ROWS);
  q.device.run(name, plan.key, plan.source, buffers, workgroups, { layout: plan.layout, values: plan.values });
}

const fwdShape = ({ q, v }: { q: TensorMeta; v: TensorMeta }) => [
  { shape: [...q.shape.slice(0, -1), v.shape[v.shape.length - 1]], dtype: q.dtype },
  { shape: q.shape.slice(0, -1), dtype: 'float32' as DType },
];

const gradInputs = { q: 'tensor', k: 'tensor', v: 'tensor', lse: 'tensor', delta: 'tensor', dO: 'tensor', extra: 'tensor[]' } as const;
const NO_SECOND = 'second derivatives of the fused attention backward are not implemented';

/** dQ, and with the relative position d relH, d relW (inputs q, k, v, lse, delta, dO, then the optional ones). */
const gradQOp = defineOp({
  name: 'scaledDotProductAttentionGradQ',
  inputs: gradInputs,
  dtypes: ['float32'],
  shape: ({ q, extra }, _: AttentionAttrs) => [q, ...(extra.length >= 2 ? extra.slice(-2) : [])].map((t) => ({ shape: t.shape, dtype: 'float32' as DType })),
  forward({ q, k, v, lse, delta, dO, extra }, a, outs) {
    dispatch('scaledDotProductAttentionGradQ', q, k, v, geometry(q, k, v, extra, a, 'q'), 'dq', [lse, delta, dO], outs);
  },
  reference: ({ q, k, v, lse, delta, dO, extra }, a) => refAttentionGradQ(q, k, v, lse, delta, dO, refExtras(extra), a),
  noGrad: NO_SECOND,
});

/** dK and dV. */
const gradKVOp = defineOp({
  name: 'scaledDotProductAttentionGradKV',
  inputs: gradInputs,
  dtypes: ['float32'],
  shape: ({ k, v }, _: AttentionAttrs) => [
    { shape: k.shape, dtype: 'float32' as DType },
    { shape: v.shape, dtype: 'float32' as DType },
  ],
  forward({ q, k, v, lse, delta, dO, extra }, a, outs) {
    dispatch('scaledDotProductAttentionGradKV', q, k, v, geometry(q, k, v, extra, a, 'k'), 'dkv', [lse, delta, dO], outs);
  },
  reference: ({ q, k, v, lse, delta, dO, extra }, a) => refAttentionGradKV(q, k, v, lse, delta, dO, refExtras(extra), a),
  noGrad: NO_SECOND,
});

/** dBias in the bias's own shape: each element sums dS over the positions it was broadcast to. */
const gradBiasOp = defineOp({
  name: 'scaledDotProductAttentionGradBias',
  inputs: gradInputs,
  dtypes: ['float32'],
  shape: ({ extra }, _: AttentionAttrs) => {
    const bias = named(extra).bias;
    if (!bias) throw new ArgumentError('scaledDotProductAttentionGradBias', 'extra', 'no bias', 'a bias (the first optional input)');
    return { shape: bias.shape, dtype: 'float32' as DType };
  },
  forward({ q, k, v, lse, delta, dO, extra }, a, outs) {
    dispatch('scaledDotProductAttentionGradBias', q, k, v, geometry(q, k, v, extra, a, 'q'), 'dbias', [lse, delta, dO], outs);
  },
  reference: ({ q, k, v, lse, delta, dO, extra }, a) => refAttentionGradBias(q, k, v, lse, delta, dO, refExtras(extra), a),
  noGrad: NO_SECOND,
});

/** The forward: [output, logsumexp of each query row]; inputs q, k, v, then [bias], [relH, relW]. */
const attentionOp = defineOp({
  name: 'scaledDotProductAttention',
  inputs: { q: 'tensor', k: 'tensor', v: 'tensor', extra: 'tensor[]' },
  dtypes: ['float32', 'float16'],
  shape: ({ q, v }, _: AttentionAttrs) => fwdShape({ q, v }),
  forward({ q, k, v, extra }, a, outs) {
    dispatch('scaledDotProductAttention', q, k, v, geometry(q, k, v, extra, a, 'q'), 'fwd', [], outs);
  },
  reference: ({ q, k, v, extra }, a) => refAttention(q, k, v, refExtras(extra), a),
  // the logsumexp is rarely differentiated: without a cotangent it needs no zeros
  sparseCotangents: true,
  vjp: ({ dys, inputs: { q, k, v, extra }, outputs: [out, lse], attrs }) => {
    const dO = dys[0] ?? zerosLike(out);
    // δ_i = Σ_d dO·O, minus the logsumexp's cotangent (d lse / d s = P, so it enters dS = P∘(dP − δ) the same way)
    let delta = sum(mul(dO, out), -1);
    if (dys[1]) delta = sub(delta, dys[1]);
    const all = [q, k, v, lse, delta, dO, ...extra];
    const [dq, ...dRel] = gradQOp.callN(all, attrs);
    const [dk, dv] = gradKVOp.callN(all, attrs);
    const dBias = named(extra).bias ? [gradBiasOp.call1(all, attrs)] : [];
    return [dq, dk, dv, ...dBias, ...dRel];
  },
});

/**
 * The unfused path: logits, softmax and the weighted sum as separate ops (their own VJPs give the gradient). The
 * decomposed relative-position terms are expanded to the matrix here, which has its size anyway.
 */
const unfusedOp = defineComposite({
  name: 'scaledDotProductAttentionUnfused',
  inputs: { q: 'tensor', k: 'tensor', v: 'tensor', extra: 'tensor[]' },
  dtypes: ['float32', 'float16'],
  shape: ({ q, v }) => ({ shape: [...q.shape.slice(0, -1), v.shape[v.shape.length - 1]], dtype: q.dtype }),
  impl: ({ q, k, v, extra }, a: AttentionAttrs) => {
    const { bias, relH, relW } = named(extra);
    let s = mul(matmul(q, k, { transB: true }), a.scale);
    if (bias) s = add(s, bias);
    if (relH && relW) s = add(s, reshape(add(unsqueeze(relH, -1), unsqueeze(relW, -2)), [...s.shape.slice(0, -1), a.kh * a.kw]));
    return matmul(softmax(s, -1), v);
  },
  reference: ({ q, k, v, extra }, a: AttentionAttrs) => refAttention(q, k, v, refExtras(extra), a)[0],
});

/**
 * Scaled dot-product attention: `softmax(q·kᵀ·scale + bias)·v` over the last two dimensions, as
 * torch.nn.functional.scaled_dot_product_attention (no dropout, no causal mask). `q` is `[...batch, Lq, D]`, `k`
 * `[...batch, Lk, D]`, `v` `[...batch, Lk, Dv]` with equal batch dimensions; the result is `[...batch, Lq, Dv]`.
 * Differentiable in q, k, v and both bias forms. Fused: memory grows with q, k, v and the bias, never with
 * Lq·Lk. float16 inputs (all of them, on a device with shader-f16) give a float16 result, computed in float32
 * (inference only).
 *
 * @example
 * ```ts
 * import { init, randn, random, scaledDotProductAttention } from '@webgrad/core/node';
 * await init();
 * const [kq, kk, kv] = random.split(random.key(0), 3);
 * const q = randn(kq, [2, 4, 16, 8]), k = randn(kk, [2, 4, 32, 8]), v = randn(kv, [2, 4, 32, 8]);
 * console.log(scaledDotProductAttention(q, k, v).shape); // [2, 4, 16, 8]
 * ```
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const fn = 'scaledDotProductAttention';
  const { bias, relPos, scale, backend = 'auto' } = options;
  if (backend !== 'auto' && backend !== 'fused' && backend !== 'unfused')
    throw new ArgumentError(fn, 'backend', `is ${JSON.stringify(backend)}`, "'auto', 'fused' or 'unfused'");
  if (q.ndim < 2) throw new ArgumentError(fn, 'q', `has shape ${fmtShape(q.shape)}`, 'at least 2 dimensions [...batch, Lq, D]');
  const lead = q.shape.slice(0, -2);
  const [Lq, D] = q.shape.slice(-2);
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (k.ndim !== q.ndim || !same(k.shape.slice(0, -2), lead) || k.shape[k.ndim - 1] !== D)
    throw new ArgumentError(fn, 'k', `has shape ${fmtShape(k.shape)} with q ${fmtShape(q.shape)}`, `[${[...lead, 'Lk', D].join(', ')}]`);
  const Lk = k.shape[k.ndim - 2];
  if (v.ndim !== q.ndim || !same(v.shape.slice(0, -2), lead) || v.shape[v.ndim - 2] !== Lk)
    throw new ArgumentError(fn, 'v', `has shape ${fmtShape(v.shape)} with k ${fmtShape(k.shape)}`, `[${[...lead, Lk, 'Dv'].join(', ')}]`);
  if (scale !== undefined && !(typeof scale === 'number' && Number.isFinite(scale)))
    throw new ArgumentError(fn, 'scale', `is ${String(scale)}`, 'a finite number (default 1/sqrt(D))');
  const full = [...lead, Lq, Lk];
  if (bias) {
    const ok = bias.ndim <= full.length && bias.shape.every((s, i) => s === 1 || s === full[full.length - bias.ndim + i]);
    if (!ok) throw new ArgumentError(fn, 'bias', `has shape ${fmtShape(bias.shape)}`, `a shape broadcastable to ${fmtShape(full)}`);
  }
  let kh = 0,
    kw = 0;
  if (relPos) {
    const { h, w } = relPos;
    kh = h.shape[h.ndim - 1];
    kw = w.shape[w.ndim - 1];
    if (h.ndim !== q.ndim || !same(h.shape.slice(0, -1), [...lead, Lq]))
      throw new ArgumentError(fn, 'relPos.h', `has shape ${fmtShape(h.shape)}`, `[${[...lead, Lq, 'kh'].join(', ')}]`);
    if (w.ndim !== q.ndim || !same(w.shape.slice(0, -1), [...lead, Lq]))
      throw new ArgumentError(fn, 'relPos.w', `has shape ${fmtShape(w.shape)}`, `[${[...lead, Lq, 'kw'].join(', ')}]`);
    if (kh * kw !== Lk) throw new ArgumentError(fn, 'relPos', `has kh·kw = ${kh}·${kw} = ${kh * kw}`, `kh·kw = Lk = ${Lk}`);
  }
  const extra = [...(bias ? [bias] : []), ...(relPos ? [relPos.h, relPos.w] : [])];
  for (const [name, t] of [
    ['k', k],
    ['v', v],
    ['bias', bias],
    ['relPos.h', relPos?.h],
    ['relPos.w', relPos?.w],
  ] as const) {
    if (t && t.dtype !== q.dtype) throw new ArgumentError(fn, name, `has dtype ${t.dtype}`, `q's dtype ${q.dtype}`);
  }
  const attrs: AttentionAttrs = { scale: scale ?? 1 / Math.sqrt(D), kh, kw };
  const matrixBytes = full.reduce((a, b) => a * b, 1) * 4;
  const unfused = backend === 'unfused' || (backend === 'auto' && q.dtype === 'float32' && matrixBytes <= q.device.maxBindingSize / 2);
  if (unfused) return unfusedOp.call1([q, k, v, ...extra] as Operand[], attrs);
  const [out, lse] = attentionOp.callN([q, k, v, ...extra] as Operand[], attrs);
  // the tape keeps the logsumexp for the backward pass; otherwise nothing needs it
  if (out.traces.length === 0) lse.dispose();
  return out;
}
