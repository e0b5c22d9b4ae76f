/**
 * SAM's decomposed relative-position bias (from MViTv2, via ViTDet): a table of one embedding per relative offset,
 * per axis, read at every (query row, key row) pair (get_rel_pos) and dotted with the queries (add_decomposed_rel_pos's
 * einsums). The two terms go to scaledDotProductAttention as `relPos`, which adds them to the logits without ever
 * forming the [Lq, Lk] bias.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import { tensor } from '../../tensor/ops/creation';
import { indexSelect } from '../../tensor/ops/indexing';
import { permute, transpose } from '../../tensor/ops/layout';
import { matmul } from '../../tensor/ops/matmul';
import { interpolate } from '../../tensor/ops/resize';
import { reshape } from '../../tensor/ops/shape-ops';
import { Tensor } from '../../tensor/tensor';

const f = Math.fround;

/**
 * For every (query i, key j) pair, the row of the (resized) table it reads: `i·sq − j·sk + (kSize − 1)·sk`, where the
 * shorter axis is stretched to the longer one (sq = max(k/q, 1), sk = max(q/k, 1)), truncated to an integer. The
 * arithmetic is float32, as PyTorch runs it for a float32 model.
 */
export function relPosIndex(qSize: number, kSize: number): Int32Array {
  const sq = f(Math.max(kSize / qSize, 1)),
    sk = f(Math.max(qSize / kSize, 1));
  const shift = f((kSize - 1) * Math.max(qSize / kSize, 1));
  const idx = new Int32Array(qSize * kSize);
  for (let i = 0; i < qSize; i++) for (let j = 0; j < kSize; j++) idx[i * kSize + j] = Math.trunc(f(f(f(i * sq) - f(j * sk)) + shift));
  return idx;
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * The relative-position embeddings of a `qSize`×`kSize` pair of axes, as SAM's `get_rel_pos`: `[qSize, kSize, C]`,
 * entry (i, j) the table's row for the offset between query i and key j. A table whose length L is not
 * `2·max(qSize, kSize) − 1` (a model run at another resolution than it was trained at) is first resized to that
 * length by linear interpolation along L (align_corners false), as the official code does.
 *
 * @example
 * ```ts
 * import { init, randn, random } from '@webgrad/core/node';
 * import { getRelPos } from '@webgrad/core/models';
 * await init();
 * const table = randn(random.key(0), [27, 64]); // 2·14 − 1 offsets of a 14×14 window
 * console.log(getRelPos(14, 14, table).shape); // [14, 14, 64]
 * ```
 */
export function getRelPos(qSize: number, kSize: number, table: Tensor): Tensor {
  const fn = 'getRelPos';
  if (!posInt(qSize)) throw new ArgumentError(fn, 'qSize', `is ${String(qSize)}`, 'a positive integer');
  if (!posInt(kSize)) throw new ArgumentError(fn, 'kSize', `is ${String(kSize)}`, 'a positive integer');
  if (!(table instanceof Tensor) || table.ndim !== 2 || table.shape[0] < 1)
    throw new ArgumentError(fn, 'table', table instanceof Tensor ? `has shape ${fmtShape(table.shape)}` : `is ${typeof table}`, 'a 2-d [L, C] tensor');
  const [L, C] = table.shape;
  const maxRelDist = 2 * Math.max(qSize, kSize) - 1;
  let rows = table;
  if (L !== maxRelDist) {
    // [L, C] → [1, C, L]: each channel a 1-d signal over the offsets, resized to maxRelDist, then back to [maxRelDist, C]
    const signals = reshape(transpose(table, 0, 1), [1, C, L]);
    rows = transpose(reshape(interpolate(signals, { size: maxRelDist, mode: 'linear' }), [C, maxRelDist]), 0, 1);
  }
  const index = tensor(relPosIndex(qSize, kSize), { device: table.device });
  return reshape(indexSelect(rows, 0, index), [qSize, kSize, C]);
}

/**
 * The decomposed relative-position terms of `q` `[B, qh·qw, C]` (a row-major qh×qw grid of queries) against a
 * kh×kw grid of keys, as the two einsums of SAM's `add_decomposed_rel_pos`:
 * `h[b, (y, x), i] = Σ_c q[b, (y, x), c]·Rh[y, i, c]` and `w[b, (y, x), j] = Σ_c q[b, (y, x), c]·Rw[x, j, c]` with
 * `Rh = getRelPos(qh, kh, relPosH)`, `Rw = getRelPos(qw, kw, relPosW)`. Returns `{ h: [B, qh·qw, kh], w: [B, qh·qw, kw] }`,
 * ready for `scaledDotProductAttention(q, k, v, { relPos })`, which adds `h[…, i] + w[…, j]` to logit (i·kw + j).
 */
export function decomposedRelPos(
  q: Tensor,
  relPosH: Tensor,
  relPosW: Tensor,
  qSize: readonly [number, number],
  kSize: readonly [number, number],
): { h: Tensor; w: Tensor } {
  const fn = 'decomposedRelPos';
  const [qh, qw] = qSize,
    [kh, kw] = kSize;
  if (!(q instanceof Tensor) || q.ndim !== 3 || q.shape[1] !== qh * qw)
    throw new ArgumentError(fn, 'q', q instanceof Tensor ? `has shape ${fmtShape(q.shape)}` : `is ${typeof q}`, `[B, ${qh * qw}, C] (qSize ${qh}×${qw})`);
  const [B, , C] = q.shape;
  for (const [arg, t] of [
    ['relPosH', relPosH],
    ['relPosW', relPosW],
  ] as const)
    if (!(t instanceof Tensor) || t.ndim !== 2 || t.shape[1] !== C)
      throw new ArgumentError(fn, arg, t instanceof Tensor ? `has shape ${fmtShape(t.shape)}` : `is ${typeof t}`, `[L, ${C}] (the width of q)`);
  const Rh = getRelPos(qh, kh, relPosH);
  const Rw = getRelPos(qw, kw, relPosW);
  const grid = reshape(q, [B, qh, qw, C]);
  // "bhwc,hkc->bhwk": a batch of matmuls over the query row y, broadcast over b
  const h = matmul(grid, Rh, { transB: true });
  // "bhwc,wkc->bhwk": the same over the query column x, with x moved in front of y and back
  const w = permute(matmul(permute(grid, [0, 2, 1, 3]), Rw, { transB: true }), [0, 2, 1, 3]);
  return { h: reshape(h, [B, qh * qw, kh]), w: reshape(w, [B, qh * qw, kw]) };
}
