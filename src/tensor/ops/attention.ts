/**
 * Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention: softmax(q·kᵀ·scale + bias)·v,
 * with an optional additive bias and SAM's decomposed relative-position bias (one term per key row, one per key
 * column), which is never expanded to the full [Lq, Lk] matrix.
 *
 * This first version is a composite of matmul and softmax (it materialises the attention matrix); the fused kernel
 * replaces its internals behind the same signature.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import type { Tensor } from '../tensor';
import { defineComposite, type Operand, type RefTensor, type TensorMeta } from './define';
import { add, mul } from './elementwise';
import { matmul } from './matmul';
import { reshape } from './shape-ops';
import { softmax } from './softmax';
import { unsqueeze } from './layout';

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
}

interface AttentionAttrs {
  scale: number;
  kh: number;
  kw: number;
}

const shapeRule = ({ q, v }: { q: TensorMeta; v: TensorMeta }) => ({
  shape: [...q.shape.slice(0, -1), v.shape[v.shape.length - 1]],
  dtype: 'float32' as const,
});

/** Float64 reference: every (batch, query) row's logits, softmax and weighted sum of values. */
function refAttention(
  q: RefTensor,
  k: RefTensor,
  v: RefTensor,
  bias: RefTensor | undefined,
  rh: RefTensor | undefined,
  rw: RefTensor | undefined,
  a: AttentionAttrs,
): RefTensor {
  const [Lq, D] = q.shape.slice(-2);
  const Lk = k.shape[k.shape.length - 2];
  const Dv = v.shape[v.shape.length - 1];
  const B = q.data.length / (Lq * D);
  const out = new Float64Array(B * Lq * Dv);
  const biasAt = bias ? broadcastIndex(bias.shape, [...q.shape.slice(0, -2), Lq, Lk]) : undefined;
  const logits = new Float64Array(Lk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Lq; i++) {
      let m = -Infinity;
      for (let j = 0; j < Lk; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += q.data[(b * Lq + i) * D + d] * k.data[(b * Lk + j) * D + d];
        s *= a.scale;
        if (bias && biasAt) s += bias.data[biasAt((b * Lq + i) * Lk + j)];
        if (rh && rw) s += rh.data[(b * Lq + i) * a.kh + Math.floor(j / a.kw)] + rw.data[(b * Lq + i) * a.kw + (j % a.kw)];
        logits[j] = s;
        m = Math.max(m, s);
      }
      let z = 0;
      for (let j = 0; j < Lk; j++) z += Math.exp(logits[j] - m);
      for (let j = 0; j < Lk; j++) {
        const p = Math.exp(logits[j] - m) / z;
        for (let d = 0; d < Dv; d++) out[(b * Lq + i) * Dv + d] += p * v.data[(b * Lk + j) * Dv + d];
      }
    }
  }
  return { shape: [...q.shape.slice(0, -1), Dv], dtype: 'float32', data: out };
}

/** Maps a flat index of `full` to the flat index of a tensor of shape `small` broadcast to it (numpy rules). */
function broadcastIndex(small: readonly number[], full: readonly number[]): (flat: number) => number {
  const pad = [...Array(full.length - small.length).fill(1), ...small];
  return (flat) => {
    let idx = 0,
      stride = 1,
      rest = flat;
    for (let d = full.length - 1; d >= 0; d--) {
      const c = rest % full[d];
      rest = Math.floor(rest / full[d]);
      if (pad[d] !== 1) idx += c * stride;
      stride *= pad[d];
    }
    return idx;
  };
}

const attentionOp = defineComposite({
  name: 'scaledDotProductAttention',
  inputs: { q: 'tensor', k: 'tensor', v: 'tensor', bias: 'tensor?', relH: 'tensor?', relW: 'tensor?' },
  dtypes: ['float32'],
  shape: shapeRule,
  impl: ({ q, k, v, bias, relH, relW }, a: AttentionAttrs) => {
    let s = mul(matmul(q, k, { transB: true }), a.scale);
    if (bias) s = add(s, bias);
    if (relH && relW) {
      const lead = s.shape.slice(0, -1);
      const biasRel = add(unsqueeze(relH, -1), unsqueeze(relW, -2));
      s = add(s, reshape(biasRel, [...lead, a.kh * a.kw]));
    }
    return matmul(softmax(s, -1), v);
  },
  reference: ({ q, k, v, bias, relH, relW }, a: AttentionAttrs) => refAttention(q, k, v, bias, relH, relW, a),
});

/**
 * Scaled dot-product attention: `softmax(q·kᵀ·scale + bias)·v` over the last two dimensions, as
 * torch.nn.functional.scaled_dot_product_attention (no dropout, no causal mask). `q` is `[...batch, Lq, D]`, `k`
 * `[...batch, Lk, D]`, `v` `[...batch, Lk, Dv]` with equal batch dimensions; the result is `[...batch, Lq, Dv]`.
 * Differentiable in q, k, v and both bias forms.
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
  const { bias, relPos, scale } = options;
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
  const attrs: AttentionAttrs = { scale: scale ?? 1 / Math.sqrt(D), kh, kw };
  // absent optional inputs stay in their positions as undefined (define.ts allows it for optional inputs)
  return attentionOp.call1([q, k, v, bias, relPos?.h, relPos?.w] as Operand[], attrs);
}
