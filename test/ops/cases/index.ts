/** All op cases by op name. Each family adds its table here. */
import type { CaseTable } from '../../helpers/cases';
import { elementwiseCases } from './elementwise';
import { reduceCases } from './reduce';
import { shapeCases } from './shape';
import { lossCases } from './losses';

export const ALL_CASES: CaseTable = { ...elementwiseCases, ...reduceCases, ...shapeCases, ...lossCases };

/** Ops tested elsewhere, with where. */
export const EXEMPT: Record<string, string> = {
  fill: 'its public forms (full, arange, linspace, eye) are tested in test/ops/creation.test.ts',
};
