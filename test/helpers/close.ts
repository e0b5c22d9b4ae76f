/** Float comparisons between GPU results (float32) and float64 references. */
import type { RefTensor } from '../../src/tensor/ops/define';

export interface Tol {
  rtol: number;
  atol: number;
}
export const DEFAULT_TOL: Tol = { rtol: 2e-4, atol: 1e-5 };

/** Returns null when every element is close (NaN matches NaN, ±Inf match exactly), else a description of the first mismatch. */
export function mismatch(got: ArrayLike<number>, want: RefTensor, tol: Tol = DEFAULT_TOL): string | null {
  if (got.length !== want.data.length) return `length ${got.length} vs ${want.data.length}`;
  for (let i = 0; i < got.length; i++) {
    const a = got[i],
      b = want.data[i];
    if (Number.isNaN(b) ? Number.isNaN(a) : !Number.isFinite(b) ? a === b : Math.abs(a - b) <= tol.atol + tol.rtol * Math.abs(b)) continue;
    return `element ${i}: got ${a}, want ${b} (shape [${want.shape.join(', ')}])`;
  }
  return null;
}

export function expectClose(got: ArrayLike<number>, want: RefTensor, tol: Tol = DEFAULT_TOL, context = ''): void {
  const m = mismatch(got, want, tol);
  if (m) throw new Error(`${context}${context ? ': ' : ''}${m}`);
}
