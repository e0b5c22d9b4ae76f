/**
 * The float64 CPU tensor that every op's reference implementation reads and writes. It lives on the
 * ground floor (src/base) so references, kernels' tests and ops can share it without importing upward.
 */
import type { DType } from './dtype';

/** A float64 tensor on the CPU, used by references and tests. */
export interface RefTensor {
  /** Size of each dimension. */
  shape: number[];
  /** Element type the values are rounded to. */
  dtype: DType;
  /** The values in float64, row-major. */
  data: Float64Array;
}
export type RefOperand = RefTensor | number;
