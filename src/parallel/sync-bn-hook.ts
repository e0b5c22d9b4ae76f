/**
 * How the trainer makes BatchNorm statistics global (`syncBatchNorm: true`): the loss runs inside the synchronised
 * BatchNorm context of src/tensor/ops/collective.ts (helper dp-gate), given this rank's collective.
 */
import type { Collective } from '../base/collective';

/** Wraps a rank's loss so that BatchNorm in training mode uses statistics over all ranks. */
export type SyncBatchNormWrap = <T>(collective: Collective, fn: () => T) => T;

/** The wrapper, or a clear error if this build has no synchronised BatchNorm. */
export function syncBatchNormHook(fn: string): SyncBatchNormWrap {
  throw new TypeError(`${fn}: syncBatchNorm: true needs the synchronised BatchNorm context (src/tensor/ops/collective.ts), which this build lacks`);
}
