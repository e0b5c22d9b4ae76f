/**
 * The float64 CPU tensor that every op's reference implementation reads and writes. It lives on the
 * ground floor (src/base) so references, kernels' tests and ops can share it without importing upward.
 */
import type { DType } from './dtype';

/** A float64 tensor on the CPU, used by references and tests. */
export interface RefTensor {
  shape: number[];
  dtype: DType;
  data: Float64Array;
}
export type RefOperand = RefTensor | number;
