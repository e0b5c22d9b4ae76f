/** All op cases by op name. Each family adds one import and one entry in TABLES. */
import type { CaseTable } from '../../helpers/cases';
import { elementwiseCases } from './elementwise';
import { reduceCases } from './reduce';
import { shapeCases } from './shape';
import { layoutCases } from './layout';
import { randomCases } from './random';

const TABLES: CaseTable[] = [
  elementwiseCases,
  reduceCases,
  shapeCases,
  layoutCases,
  randomCases,
];

export const ALL_CASES: CaseTable = Object.assign({}, ...TABLES);

/** Ops tested elsewhere, with where. */
export const EXEMPT: Record<string, string> = {
  fill: 'its public forms (full, arange, linspace, eye) are tested in test/ops/creation.test.ts',
};
