/**
 * Float64 references for layout ops, written from PyTorch's definitions with explicit
 * multi-indices (no strides, no shared index arithmetic with the WGSL).
 */
import type { RefTensor } from '../../../base/ref-tensor';
import type { DType } from '../../../base/dtype';

const count = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Calls f(multiIndex, flatIndex) for every element of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = count(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(idx, k);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** Element of `x` at a multi-index. */
export function at(x: RefTensor, idx: readonly number[]): number {
  let off = 0;
  for (let d = 0; d < x.shape.length; d++) off = off * x.shape[d] + idx[d];
  return x.data[off];
}

const flatOf = (shape: readonly number[], idx: readonly number[]) => {
  let off = 0;
  for (let d = 0; d < shape.length; d++) off = off * shape[d] + idx[d];
  return off;
};

/** A tensor whose element at idx is f(idx). */
export function build(shape: readonly number[], dtype: DType, f: (idx: number[]) => number): RefTensor {
  const data = new Float64Array(count(shape));
  forEachIndex(shape, (idx, k) => {
    data[k] = f(idx);
  });
  return { shape: [...shape], dtype, data };
}

export const refPermute = (x: RefTensor, dims: readonly number[]) =>
  build(
    dims.map((d) => x.shape[d]),
    x.dtype,
    (o) => {
      const i = new Array<number>(dims.length);
      dims.forEach((d, k) => {
        i[d] = o[k];
      });
      return at(x, i);
    },
  );

/** Python-style slicing per dim: element o_d of the result is start_d + o_d·step_d (already resolved, in range). */
export const refSlice = (x: RefTensor, start: readonly number[], step: readonly number[], shape: readonly number[]) =>
  build(shape, x.dtype, (o) =>
    at(
      x,
      o.map((c, d) => start[d] + c * step[d]),
    ),
  );

/** Zeros of `shape` with dy written at the sliced positions (the adjoint of slicing). */
export function refSliceBackward(dy: RefTensor, shape: readonly number[], start: readonly number[], step: readonly number[]): RefTensor {
  const out = { shape: [...shape], dtype: dy.dtype, data: new Float64Array(count(shape)) };
  forEachIndex(dy.shape, (o, k) => {
    out.data[
      flatOf(
        shape,
        o.map((c, d) => start[d] + c * step[d]),
      )
    ] += dy.data[k];
  });
  return out;
}

export const refFlip = (x: RefTensor, dims: readonly number[]) =>
  build(x.shape, x.dtype, (o) =>
    at(
      x,
      o.map((c, d) => (dims.includes(d) ? x.shape[d] - 1 - c : c)),
    ),
  );

/** torch.roll: element at i moves to (i + shift) mod n. */
export function refRoll(x: RefTensor, shifts: readonly number[], dims: readonly number[]): RefTensor {
  const out = { shape: [...x.shape], dtype: x.dtype, data: new Float64Array(x.data.length) };
  forEachIndex(x.shape, (i, k) => {
    const j = i.slice();
    // a dim listed twice is shifted twice (as torch.roll)
    dims.forEach((d, q) => {
      const n = x.shape[d];
      j[d] = (((j[d] + shifts[q]) % n) + n) % n;
    });
    out.data[flatOf(x.shape, j)] = x.data[k];
  });
  return out;
}

/** torch.tile with reps already as long as x's rank (x is reshaped with leading 1s by the caller). */
export const refTile = (x: RefTensor, reps: readonly number[]) =>
  build(
    x.shape.map((d, i) => d * reps[i]),
    x.dtype,
    (o) =>
      at(
        x,
        o.map((c, d) => c % x.shape[d]),
      ),
  );

export function refConcat(xs: readonly RefTensor[], dim: number): RefTensor {
  const shape = [...xs[0].shape];
  shape[dim] = xs.reduce((s, x) => s + x.shape[dim], 0);
  return build(shape, xs[0].dtype, (o) => {
    let c = o[dim];
    for (const x of xs) {
      if (c < x.shape[dim]) {
        const i = o.slice();
        i[dim] = c;
        return at(x, i);
      }
      c -= x.shape[dim];
    }
    throw new Error('unreachable');
  });
}

/** One dim of F.pad: the input coordinate read at padded coordinate o (null = fill value). */
function padSource(o: number, before: number, n: number, mode: string): number | null {
  const j = o - before;
  if (j >= 0 && j < n) return j;
  if (mode === 'constant') return null;
  if (mode === 'replicate') return j < 0 ? 0 : n - 1;
  // reflect (edge not repeated): -1 → 1, n → n-2
  return j < 0 ? -j : 2 * (n - 1) - j;
}

/** F.pad with `before`/`after` per dim (dim order, not F.pad's reversed order). */
export function refPad(x: RefTensor, before: readonly number[], after: readonly number[], mode: string, value: number): RefTensor {
  const shape = x.shape.map((n, d) => n + before[d] + after[d]);
  return build(shape, x.dtype, (o) => {
    const i: number[] = [];
    for (let d = 0; d < o.length; d++) {
      const s = padSource(o[d], before[d], x.shape[d], mode);
      if (s === null) return value;
      i.push(s);
    }
    return at(x, i);
  });
}

/** Adjoint of refPad: every padded position adds its cotangent to the input element it read. */
export function refPadBackward(dy: RefTensor, inShape: readonly number[], before: readonly number[], mode: string): RefTensor {
  const out = { shape: [...inShape], dtype: dy.dtype, data: new Float64Array(count(inShape)) };
  forEachIndex(dy.shape, (o, k) => {
    const i: number[] = [];
    for (let d = 0; d < o.length; d++) {
      const s = padSource(o[d], before[d], inShape[d], mode);
      if (s === null) return;
      i.push(s);
    }
    out.data[flatOf(inShape, i)] += dy.data[k];
  });
  return out;
}

const inRange = (j: number, n: number) => Number.isInteger(j) && j >= 0 && j < n;

/** torch.gather: out[o] = x[o with o[dim] := index[o]]; an out-of-range index gives 0. */
export const refGather = (x: RefTensor, dim: number, index: RefTensor) =>
  build(index.shape, x.dtype, (o) => {
    const j = at(index, o);
    if (!inRange(j, x.shape[dim])) return 0;
    const i = o.slice();
    i[dim] = j;
    return at(x, i);
  });

/** torch.index_select: out[o] = x[o with o[dim] := index[o[dim]]]; out-of-range gives 0. */
export function refIndexSelect(x: RefTensor, dim: number, index: RefTensor): RefTensor {
  const shape = [...x.shape];
  shape[dim] = index.data.length;
  return build(shape, x.dtype, (o) => {
    const j = index.data[o[dim]];
    if (!inRange(j, x.shape[dim])) return 0;
    const i = o.slice();
    i[dim] = j;
    return at(x, i);
  });
}

/** torch.scatter_add: out = x; out[p with p[dim] := index[p]] += src[p] for p over index's shape (out-of-range skipped). */
export function refScatterAdd(x: RefTensor, dim: number, index: RefTensor, src: RefTensor): RefTensor {
  const out = { ...x, shape: [...x.shape], data: x.data.slice() };
  forEachIndex(index.shape, (p, k) => {
    const j = index.data[k];
    if (!inRange(j, x.shape[dim])) return;
    const q = p.slice();
    q[dim] = j;
    out.data[flatOf(x.shape, q)] += at(src, p);
  });
  return out;
}

/** torch.index_add: out = x; out[.., index[k], ..] += src[.., k, ..] along dim (out-of-range skipped). */
export function refIndexAdd(x: RefTensor, dim: number, index: RefTensor, src: RefTensor): RefTensor {
  const out = { ...x, shape: [...x.shape], data: x.data.slice() };
  forEachIndex(src.shape, (p, k) => {
    const j = index.data[p[dim]];
    if (!inRange(j, x.shape[dim])) return;
    const q = p.slice();
    q[dim] = j;
    out.data[flatOf(x.shape, q)] += src.data[k];
  });
  return out;
}

/** F.one_hot (int32 here): a trailing dim of numClasses with a 1 at each index. */
export const refOneHot = (index: RefTensor, classes: number) =>
  build([...index.shape, classes], 'int32', (o) => (at(index, o.slice(0, -1)) === o[o.length - 1] ? 1 : 0));
