/**
 * What the registry-driven tests need per op: a fast-check generator of inputs and attributes,
 * and tolerances. Every registered op must have an entry (or an explicit exemption with a reason).
 */
import type fc from 'fast-check';
import type { RefOperand } from '../../src/tensor/ops/define';
import type { Tol } from './close';

export interface OpCase<A = any> {
  inputs: RefOperand[];
  attrs: A;
}

export interface CaseSpec<A = any> {
  arb: fc.Arbitrary<OpCase<A>>;
  tol?: Tol;
  /** Gradient check: false to skip (only for ops without a VJP), or the input indices to check (default: every float tensor input). */
  grad?: false | number[];
  gradTol?: number;
  /** Finite-difference step (float64 reference). */
  eps?: number;
  runs?: number;
  gradRuns?: number;
}

export type CaseTable = Record<string, CaseSpec>;
