/** Shapes, broadcasting, axis normalisation, and the argument errors users read. */
export type Shape = readonly number[];

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

/** Row-major (C-contiguous) strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export const fmtShape = (s: Shape) => `[${s.join(', ')}]`;

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** An error about one argument: names the function, the argument, what it got and what it wanted. */
export class ArgumentError extends Error {
  /**
   * Builds the message "fn: arg got, expected want" from the function, argument, what it got and what was
   * expected.
   */
  constructor(fn: string, arg: string, got: string, want: string) {
    super(`${fn}: argument '${arg}' ${got}; expected ${want}`);
    this.name = 'ArgumentError';
  }
}

export function broadcastShapes(fn: string, a: Shape, b: Shape, names: [string, string] = ['a', 'b']): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ArgumentError(
        fn,
        names[1],
        `has shape ${fmtShape(b)} which does not broadcast with ${names[0]}'s shape ${fmtShape(a)}`,
        `dimension ${i - n} to be ${da} or 1 (got ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides for reading a tensor of `shape` as if broadcast to `outShape` (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]));
}

export function normAxis(fn: string, axis: number, rank: number, arg = 'dim'): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new ArgumentError(fn, arg, `is ${axis}`, `an integer in [${-r}, ${r - 1}] for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + r : axis;
}

/** Normalises `dim` (undefined = all axes) to sorted unique non-negative axes. */
export function normAxes(fn: string, dim: number | readonly number[] | undefined, rank: number): number[] {
  if (dim === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dim === 'number' ? [dim] : dim;
  const axes = list.map((d) => normAxis(fn, d, rank));
  if (new Set(axes).size !== axes.length) throw new ArgumentError(fn, 'dim', `repeats an axis (${JSON.stringify(list)})`, 'each axis at most once');
  return rank === 0 ? [] : axes.sort((x, y) => x - y);
}

export function checkShape(fn: string, arg: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ArgumentError(fn, arg, `is ${JSON.stringify(shape)}`, 'an array of non-negative integers');
  }
  return shape.slice();
}
