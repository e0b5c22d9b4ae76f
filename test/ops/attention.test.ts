/**
 * Fused scaledDotProductAttention beyond the registry's small cases: a size whose unfused attention matrix
 * would not fit one storage binding (checked row by row against float64), masked leading key tiles (the online
 * softmax's all −inf start), SAM's window shape, float16 storage, no leaked logsumexp, argument errors.
 */
import { describe, it, expect } from 'vitest';
import { tensor, scaledDotProductAttention, grad, sum, mul, memory, getDefaultDevice, ArgumentError, type AttentionOptions, type Tensor } from '../../src/node';
import { hasFloat16, roundFloat16 } from '../../src/base/dtype';
import { refAttention, refAttentionGradKV, refAttentionGradQ } from '../../src/tensor/ops/ref/attention';
import type { RefTensor } from '../../src/tensor/ops/define';
import { mismatch } from '../helpers/close';

/** Deterministic values in [−amp, amp]. */
function values(n: number, seed: number, amp = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return ((s / 4294967296) * 2 - 1) * amp;
  });
}
const ref = (shape: number[], data: ArrayLike<number>): RefTensor => ({ shape, dtype: 'float32', data: Float64Array.from(data) });
const rows = (t: RefTensor, idx: number[]): RefTensor => {
  const w = t.shape[t.shape.length - 1];
  return { shape: [idx.length, w], dtype: 'float32', data: Float64Array.from(idx.flatMap((r) => [...t.data.subarray(r * w, (r + 1) * w)])) };
};
const pick = (data: ArrayLike<number>, w: number, idx: number[]) => idx.flatMap((r) => Array.from({ length: w }, (_, c) => data[r * w + c]));

/** The fused kernels explicitly: 'auto' would take the unfused path at the smaller sizes here. */
const fusedAttention = (q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}) => scaledDotProductAttention(q, k, v, { ...o, backend: 'fused' });

describe('scaledDotProductAttention (fused)', () => {
  it('runs where the unfused attention matrix exceeds one storage binding, forward and backward, checked by rows', async () => {
    const H = 3,
      L = 4096,
      D = 16;
    const limit = getDefaultDevice().limits.maxStorageBufferBindingSize;
    expect(H * L * L * 4).toBeGreaterThan(limit); // the [H, L, L] float32 matrix alone would not bind
    const [qd, kd, vd, ud] = [0, 1, 2, 3].map((s) => values(H * L * D, 11 + s, 1.5));
    const q = tensor(qd, { shape: [1, H, L, D] }),
      k = tensor(kd, { shape: [1, H, L, D] }),
      v = tensor(vd, { shape: [1, H, L, D] }),
      u = tensor(ud, { shape: [1, H, L, D] });
    const out = fusedAttention(q, k, v);
    const [dq, dk, dv] = grad((a: Tensor, b: Tensor, c: Tensor) => sum(mul(fusedAttention(a, b, c), u)), { argnums: [0, 1, 2] })(q, k, v) as Tensor[];
    const [o, gq, gk, gv] = await Promise.all([out, dq, dk, dv].map((t) => t.data()));
    // float64 on head 1 only (the kernels do not special-case any head)
    const h = 1,
      off = h * L * D;
    const head = (d: Float32Array) => ref([L, D], d.subarray(off, off + L * D));
    const [rq, rk, rv, ru] = [qd, kd, vd, ud].map(head);
    const a = { scale: 1 / Math.sqrt(D), kh: 0, kw: 0 };
    const [wantOut, lse] = refAttention(rq, rk, rv, {}, a);
    const delta = ref(
      [L],
      Array.from({ length: L }, (_, i) => ru.data.subarray(i * D, (i + 1) * D).reduce((s, x, d) => s + x * wantOut.data[i * D + d], 0)),
    );
    // P_ij depends only on the logit and row i's logsumexp: the gradient references run on the checked rows only
    const idx = [0, 1, 63, 64, 2047, 4095];
    const sub = (t: RefTensor) => rows(t, idx);
    const vec = (t: RefTensor) => ({ ...t, shape: [idx.length], data: Float64Array.from(idx, (i) => t.data[i]) });
    const [wantDq] = refAttentionGradQ(sub(rq), rk, rv, vec(lse), vec(delta), sub(ru), {}, a);
    const [wantDk, wantDv] = refAttentionGradKV(rq, sub(rk), sub(rv), lse, delta, ru, {}, a);
    const tol = { rtol: 2e-3, atol: 2e-5 };
    const local = (d: ArrayLike<number>) => (d as Float32Array).subarray(off, off + L * D);
    expect(mismatch(pick(local(o), D, idx), sub(wantOut), tol)).toBeNull();
    expect(mismatch(pick(local(gq), D, idx), wantDq, tol)).toBeNull();
    expect(mismatch(pick(local(gk), D, idx), wantDk, tol)).toBeNull();
    expect(mismatch(pick(local(gv), D, idx), wantDv, tol)).toBeNull();
    for (const t of [q, k, v, u, out, dq, dk, dv]) t.dispose();
  }, 60_000);

  it('handles rows whose first key tiles are all masked (-inf bias) and a row masked entirely (NaN, as PyTorch)', async () => {
    const Lq = 3,
      Lk = 150,
      D = 8;
    const [qd, kd, vd] = [0, 1, 2].map((s) => values((s ? Lk : Lq) * D, 5 + s));
    const bd = new Float32Array(Lq * Lk);
    for (let j = 0; j < Lk; j++) {
      bd[j] = j < 130 ? -Infinity : 0.1; // row 0: only the last 20 keys (the third 64-key tile)
      bd[Lk + j] = j % 2 ? -Infinity : 0; // row 1: every other key
      bd[2 * Lk + j] = -Infinity; // row 2: nothing
    }
    const y = fusedAttention(tensor(qd, { shape: [Lq, D] }), tensor(kd, { shape: [Lk, D] }), tensor(vd, { shape: [Lk, D] }), {
      bias: tensor(bd, { shape: [Lq, Lk] }),
    });
    const got = await y.data();
    const [want] = refAttention(ref([Lq, D], qd), ref([Lk, D], kd), ref([Lk, D], vd), { bias: ref([Lq, Lk], bd) }, { scale: 1 / Math.sqrt(D), kh: 0, kw: 0 });
    expect(mismatch(got.subarray(0, 2 * D), rows(want, [0, 1]))).toBeNull();
    expect([...got.subarray(2 * D)].every(Number.isNaN)).toBe(true);
  });

  it("SAM's window block (relPos 14×14, D 64) matches float64", async () => {
    const B = 2,
      L = 196,
      D = 64;
    const [qd, kd, vd] = [0, 1, 2].map((s) => values(B * L * D, 21 + s));
    const [hd, wd] = [0, 1].map((s) => values(B * L * 14, 31 + s, 0.5));
    const y = fusedAttention(tensor(qd, { shape: [B, L, D] }), tensor(kd, { shape: [B, L, D] }), tensor(vd, { shape: [B, L, D] }), {
      relPos: { h: tensor(hd, { shape: [B, L, 14] }), w: tensor(wd, { shape: [B, L, 14] }) },
    });
    const [want] = refAttention(
      ref([B, L, D], qd),
      ref([B, L, D], kd),
      ref([B, L, D], vd),
      { relH: ref([B, L, 14], hd), relW: ref([B, L, 14], wd) },
      { scale: 1 / Math.sqrt(D), kh: 14, kw: 14 },
    );
    expect(mismatch(await y.data(), want, { rtol: 1e-3, atol: 1e-5 })).toBeNull();
  });

  it('float16 storage (shader-f16): computed in float32, stored as float16', async (ctx) => {
    if (!hasFloat16(getDefaultDevice())) ctx.skip();
    const B = 2,
      Lq = 70,
      Lk = 12,
      D = 20;
    const half = (n: number, seed: number) => Float32Array.from(values(n, seed), roundFloat16);
    const [qd, kd, vd, bd] = [half(B * Lq * D, 1), half(B * Lk * D, 2), half(B * Lk * D, 3), half(Lq * Lk, 4)];
    const f16 = (d: Float32Array, shape: number[]) => tensor(d, { shape, dtype: 'float16' });
    const y = fusedAttention(f16(qd, [B, Lq, D]), f16(kd, [B, Lk, D]), f16(vd, [B, Lk, D]), { bias: f16(bd, [Lq, Lk]) });
    expect(y.dtype).toBe('float16');
    const [want] = refAttention(
      ref([B, Lq, D], qd),
      ref([B, Lk, D], kd),
      ref([B, Lk, D], vd),
      { bias: ref([Lq, Lk], bd) },
      { scale: 1 / Math.sqrt(D), kh: 0, kw: 0 },
    );
    const rounded = { ...want, data: want.data.map(roundFloat16) };
    expect(mismatch(await y.data(), rounded, { rtol: 2 ** -10, atol: 1e-4 })).toBeNull();
    expect(() => grad((q: Tensor) => sum(fusedAttention(q, f16(kd, [B, Lk, D]), f16(vd, [B, Lk, D]))))(f16(qd, [B, Lq, D]))).toThrow(/float16/);
  });

  it('empty batch and empty query rows: empty results and zero key gradients', async () => {
    const e = fusedAttention(
      tensor(new Float32Array(0), { shape: [0, 3, 4] }),
      tensor(new Float32Array(0), { shape: [0, 5, 4] }),
      tensor(new Float32Array(0), { shape: [0, 5, 2] }),
    );
    expect(e.shape).toEqual([0, 3, 2]);
    const k = tensor(values(20, 7), { shape: [1, 5, 4] });
    const [dq, dk] = grad((a: Tensor, b: Tensor) => sum(fusedAttention(a, b, b)), { argnums: [0, 1] })(
      tensor(new Float32Array(0), { shape: [1, 0, 4] }),
      k,
    ) as Tensor[];
    expect(dq.shape).toEqual([1, 0, 4]);
    expect([...(await dk.data())]).toEqual(new Array(20).fill(0));
  });

  it('keeps no logsumexp alive outside a gradient trace', () => {
    const q = tensor(values(24, 1), { shape: [2, 3, 4] });
    const before = memory().liveTensors;
    const y = fusedAttention(q, q, q);
    expect(memory().liveTensors - before).toBe(1);
    y.dispose();
    q.dispose();
  });

  it('rejects bad arguments in one line naming the argument', () => {
    const q = tensor(values(24, 1), { shape: [2, 3, 4] });
    const k = tensor(values(40, 2), { shape: [2, 5, 4] });
    expect(() => scaledDotProductAttention(q, tensor(values(15, 3), { shape: [5, 3] }), k)).toThrow(ArgumentError);
    expect(() => scaledDotProductAttention(q, k, k, { bias: tensor(values(4, 4), { shape: [4] }) })).toThrow(/scaledDotProductAttention: argument 'bias'/);
    expect(() =>
      scaledDotProductAttention(q, k, k, { relPos: { h: tensor(values(12, 5), { shape: [2, 3, 2] }), w: tensor(values(12, 6), { shape: [2, 3, 2] }) } }),
    ).toThrow(/kh·kw = 2·2 = 4/);
    expect(() => scaledDotProductAttention(q, k, k, { scale: Number.NaN })).toThrow(/scale/);
    expect(() => scaledDotProductAttention(q, k, k, { backend: 'flash' as 'fused' })).toThrow(/argument 'backend'/);
  });

  it('the three backends agree (auto, fused, unfused) on values and gradients, with bias and relPos', async () => {
    const [B, Lq, kh, kw, D] = [3, 7, 2, 3, 5];
    const Lk = kh * kw;
    const q = tensor(values(B * Lq * D, 21), { shape: [B, Lq, D] });
    const k = tensor(values(B * Lk * D, 22), { shape: [B, Lk, D] });
    const v = tensor(values(B * Lk * D, 23), { shape: [B, Lk, D] });
    const bias = tensor(values(Lq * Lk, 24), { shape: [Lq, Lk] });
    const h = tensor(values(B * Lq * kh, 25), { shape: [B, Lq, kh] });
    const w = tensor(values(B * Lq * kw, 26), { shape: [B, Lq, kw] });
    const u = tensor(values(B * Lq * D, 27), { shape: [B, Lq, D] });
    const run = async (backend: 'auto' | 'fused' | 'unfused') => {
      const f = (a: Tensor, b: Tensor, c: Tensor, rh: Tensor) => sum(mul(scaledDotProductAttention(a, b, c, { bias, relPos: { h: rh, w }, backend }), u));
      const gs = grad(f, { argnums: [0, 1, 2, 3] })(q, k, v, h);
      const y = scaledDotProductAttention(q, k, v, { bias, relPos: { h, w }, backend });
      return Promise.all([y, ...gs].map((t) => t.data()));
    };
    const [auto, fused, unfused] = [await run('auto'), await run('fused'), await run('unfused')];
    for (let i = 0; i < fused.length; i++) {
      for (let j = 0; j < fused[i].length; j++) {
        expect(Math.abs(unfused[i][j] - fused[i][j])).toBeLessThan(1e-5);
        expect(auto[i][j]).toBe(unfused[i][j]);
      }
    }
  });
});
