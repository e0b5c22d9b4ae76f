/** Text rendering of tensor values, in PyTorch's style, eliding the middle of large dims. */
import type { DType } from '../base/dtype';
import { sizeOf } from '../base/shape';

const EDGE = 3,
  LIMIT = 1000;

export function formatTensor(shape: readonly number[], dtype: DType, data: ArrayLike<number>): string {
  const elide = sizeOf(shape) > LIMIT;
  const fmt = (v: number) =>
    dtype === 'bool'
      ? v
        ? 'True'
        : 'False'
      : dtype === 'float32' || dtype === 'float16'
        ? Number.isInteger(v) && Math.abs(v) < 1e16
          ? `${v}.`
          : Number.isNaN(v)
            ? 'nan'
            : !Number.isFinite(v)
              ? v > 0
                ? 'inf'
                : '-inf'
              : v.toPrecision(4).replace(/\.?0+(e|$)/, '$1')
        : String(v);
  const render = (dim: number, off: number, indent: string): string => {
    if (dim === shape.length) return fmt(data[off]);
    const n = shape[dim],
      inner = sizeOf(shape.slice(dim + 1));
    const idx = elide && n > 2 * EDGE ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n);
    const parts = idx.map((i) => (i < 0 ? '...' : render(dim + 1, off + i * inner, `${indent} `)));
    const sep = dim === shape.length - 1 ? ', ' : `,\n${'\n'.repeat(Math.max(0, shape.length - dim - 2))}${indent} `;
    return `[${parts.join(sep)}]`;
  };
  const extra = dtype === 'float32' ? '' : `, dtype=${dtype}`;
  return `tensor(${render(0, 0, ' '.repeat('tensor('.length))}${extra})`;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
