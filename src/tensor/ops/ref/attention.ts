/**
 * Float64 references for scaled dot-product attention, written from the math (softmax(q·kᵀ·scale + bias)·v)
 * row by row with the whole logit row materialised, and for its backward pieces from the chain rule:
 * with P the softmax, dP = dO·vᵀ, δ_i = Σ_d dO_id·O_id (minus the logsumexp's cotangent) and
 * dS = P∘(dP − δ): dQ = scale·dS·k, dK = scale·dSᵀ·q, dV = Pᵀ·dO, dBias = dS summed to the bias's shape,
 * d relH[i] = Σ over each key row, d relW[j] = Σ over each key column.
 */
import type { RefTensor } from '../../../base/ref-tensor';

/** Attributes shared by the attention op and its backward ops. */
export interface RefAttentionAttrs {
  scale: number;
  /** Key grid of the decomposed relative position (Lk = kh·kw); unused without it. */
  kh: number;
  kw: number;
}

/** Optional inputs of the attention ops, by name. */
export interface RefAttentionExtras {
  bias?: RefTensor;
  relH?: RefTensor;
  relW?: RefTensor;
}

interface Dims {
  B: number;
  Lq: number;
  Lk: number;
  D: number;
  Dv: number;
}

function dims(q: RefTensor, k: RefTensor, v: RefTensor): Dims {
  const r = q.shape.length;
  const Lq = q.shape[r - 2],
    D = q.shape[r - 1];
  const B = q.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { B, Lq, D, Lk: k.shape[r - 2], Dv: v.shape[r - 1] };
}

/** Maps a flat index of `full` to the flat index of a tensor of shape `small` broadcast to it (numpy rules). */
export function refBroadcastIndex(small: readonly number[], full: readonly number[]): (flat: number) => number {
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

/** The logit row of query (b, i): q·k·scale + bias + relH[i, j / kw] + relW[i, j % kw], for every key j. */
function logitRow(
  q: RefTensor,
  k: RefTensor,
  x: RefAttentionExtras,
  a: RefAttentionAttrs,
  n: Dims,
  b: number,
  i: number,
  biasAt?: (f: number) => number,
): Float64Array {
  const { Lq, Lk, D } = n;
  const s = new Float64Array(Lk);
  for (let j = 0; j < Lk; j++) {
    let t = 0;
    for (let d = 0; d < D; d++) t += q.data[(b * Lq + i) * D + d] * k.data[(b * Lk + j) * D + d];
    t *= a.scale;
    if (x.bias && biasAt) t += x.bias.data[biasAt((b * Lq + i) * Lk + j)];
    if (x.relH && x.relW) t += x.relH.data[(b * Lq + i) * a.kh + Math.floor(j / a.kw)] + x.relW.data[(b * Lq + i) * a.kw + (j % a.kw)];
    s[j] = t;
  }
  return s;
}

const fullShape = (q: RefTensor, n: Dims) => [...q.shape.slice(0, -2), n.Lq, n.Lk];

/** Forward: the output [...batch, Lq, Dv] and each row's logsumexp [...batch, Lq]. */
export function refAttention(q: RefTensor, k: RefTensor, v: RefTensor, x: RefAttentionExtras, a: RefAttentionAttrs): [RefTensor, RefTensor] {
  const n = dims(q, k, v);
  const { B, Lq, Lk, Dv } = n;
  const out = new Float64Array(B * Lq * Dv);
  const lse = new Float64Array(B * Lq);
  const biasAt = x.bias ? refBroadcastIndex(x.bias.shape, fullShape(q, n)) : undefined;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Lq; i++) {
      const s = logitRow(q, k, x, a, n, b, i, biasAt);
      const m = s.reduce((u, w) => Math.max(u, w), -Infinity);
      let z = 0;
      for (let j = 0; j < Lk; j++) z += Math.exp(s[j] - m);
      lse[b * Lq + i] = m + Math.log(z);
      for (let j = 0; j < Lk; j++) {
        const p = Math.exp(s[j] - m) / z;
        for (let d = 0; d < Dv; d++) out[(b * Lq + i) * Dv + d] += p * v.data[(b * Lk + j) * Dv + d];
      }
    }
  }
  return [
    { shape: [...q.shape.slice(0, -1), Dv], dtype: 'float32', data: out },
    { shape: q.shape.slice(0, -1), dtype: 'float32', data: lse },
  ];
}

/** Calls `visit(b, i, j, dS_ij, P_ij)` for every logit, with P recomputed from the given logsumexp. */
function eachDs(
  q: RefTensor,
  k: RefTensor,
  v: RefTensor,
  lse: RefTensor,
  delta: RefTensor,
  dO: RefTensor,
  x: RefAttentionExtras,
  a: RefAttentionAttrs,
  visit: (b: number, i: number, j: number, ds: number, p: number) => void,
): Dims {
  const n = dims(q, k, v);
  const { B, Lq, Lk, Dv } = n;
  const biasAt = x.bias ? refBroadcastIndex(x.bias.shape, fullShape(q, n)) : undefined;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Lq; i++) {
      const s = logitRow(q, k, x, a, n, b, i, biasAt);
      for (let j = 0; j < Lk; j++) {
        const p = Math.exp(s[j] - lse.data[b * Lq + i]);
        let dp = 0;
        for (let d = 0; d < Dv; d++) dp += dO.data[(b * Lq + i) * Dv + d] * v.data[(b * Lk + j) * Dv + d];
        visit(b, i, j, p * (dp - delta.data[b * Lq + i]), p);
      }
    }
  }
  return n;
}

/** dQ, and with the relative position d relH and d relW. */
export function refAttentionGradQ(
  q: RefTensor,
  k: RefTensor,
  v: RefTensor,
  lse: RefTensor,
  delta: RefTensor,
  dO: RefTensor,
  x: RefAttentionExtras,
  a: RefAttentionAttrs,
): RefTensor[] {
  const { Lq, Lk, D } = dims(q, k, v);
  const dq = new Float64Array(q.data.length);
  const dh = x.relH ? new Float64Array(x.relH.data.length) : undefined;
  const dw = x.relW ? new Float64Array(x.relW.data.length) : undefined;
  eachDs(q, k, v, lse, delta, dO, x, a, (b, i, j, ds) => {
    for (let d = 0; d < D; d++) dq[(b * Lq + i) * D + d] += a.scale * ds * k.data[(b * Lk + j) * D + d];
    if (dh && dw) {
      dh[(b * Lq + i) * a.kh + Math.floor(j / a.kw)] += ds;
      dw[(b * Lq + i) * a.kw + (j % a.kw)] += ds;
    }
  });
  const out: RefTensor[] = [{ shape: [...q.shape], dtype: 'float32', data: dq }];
  if (dh && dw && x.relH && x.relW)
    out.push({ shape: [...x.relH.shape], dtype: 'float32', data: dh }, { shape: [...x.relW.shape], dtype: 'float32', data: dw });
  return out;
}

/** dK and dV. */
export function refAttentionGradKV(
  q: RefTensor,
  k: RefTensor,
  v: RefTensor,
  lse: RefTensor,
  delta: RefTensor,
  dO: RefTensor,
  x: RefAttentionExtras,
  a: RefAttentionAttrs,
): RefTensor[] {
  const { Lq, Lk, D, Dv } = dims(q, k, v);
  const dk = new Float64Array(k.data.length);
  const dv = new Float64Array(v.data.length);
  eachDs(q, k, v, lse, delta, dO, x, a, (b, i, j, ds, p) => {
    for (let d = 0; d < D; d++) dk[(b * Lk + j) * D + d] += a.scale * ds * q.data[(b * Lq + i) * D + d];
    for (let d = 0; d < Dv; d++) dv[(b * Lk + j) * Dv + d] += p * dO.data[(b * Lq + i) * Dv + d];
  });
  return [
    { shape: [...k.shape], dtype: 'float32', data: dk },
    { shape: [...v.shape], dtype: 'float32', data: dv },
  ];
}

/** dBias: dS summed over the axes the bias was broadcast along. */
export function refAttentionGradBias(
  q: RefTensor,
  k: RefTensor,
  v: RefTensor,
  lse: RefTensor,
  delta: RefTensor,
  dO: RefTensor,
  x: RefAttentionExtras,
  a: RefAttentionAttrs,
): RefTensor {
  const bias = x.bias as RefTensor;
  const n = dims(q, k, v);
  const at = refBroadcastIndex(bias.shape, fullShape(q, n));
  const db = new Float64Array(bias.data.length);
  eachDs(q, k, v, lse, delta, dO, x, a, (b, i, j, ds) => {
    db[at((b * n.Lq + i) * n.Lk + j)] += ds;
  });
  return { shape: [...bias.shape], dtype: 'float32', data: db };
}
