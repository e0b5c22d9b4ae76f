/** Float64 reference for elementwise ops: broadcasting by explicit multi-index walking. */
import type { RefOperand, RefTensor } from '../../../base/ref-tensor';
import { type DType, roundFloat16 } from '../../../base/dtype';

export function refBroadcastShape(shapes: number[][]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const dims = shapes.map((s) => s[s.length - n + i] ?? 1).filter((d) => d !== 1);
    out.push(dims.length ? dims[0] : 1);
  }
  return out;
}

/** Applies `f` to broadcast elements; numbers act as scalars. */
export function refMap(inputs: readonly RefOperand[], f: (...xs: number[]) => number, dtype: DType): RefTensor {
  const shapes = inputs.filter((x): x is RefTensor => typeof x !== 'number').map((x) => x.shape);
  const shape = refBroadcastShape(shapes);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(size);
  const idx = new Array<number>(shape.length).fill(0);
  const xs = new Array<number>(inputs.length);
  for (let k = 0; k < size; k++) {
    inputs.forEach((x, j) => {
      if (typeof x === 'number') {
        xs[j] = x;
        return;
      }
      // position of idx inside x's own shape, right-aligned
      let off = 0;
      const r = x.shape.length;
      for (let d = 0; d < r; d++) {
        const c = x.shape[d] === 1 ? 0 : idx[shape.length - r + d];
        off = off * x.shape[d] + c;
      }
      xs[j] = x.data[off];
    });
    data[k] = roundTo(dtype, f(...xs));
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape, dtype, data };
}

/** Emulates storing into `dtype`: integers wrap like 32-bit two's complement. */
export function roundTo(dtype: DType, v: number): number {
  if (dtype === 'float32') return v;
  if (dtype === 'float16') return roundFloat16(v);
  if (dtype === 'bool') return v ? 1 : 0;
  if (dtype === 'int32') return Math.trunc(v) | 0;
  return Math.trunc(v) >>> 0;
}
