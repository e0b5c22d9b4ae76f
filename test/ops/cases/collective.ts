import { refTensor, shape } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';
import { inProcessGroup } from '../../../src/parallel/in-process-collective';

// a one-rank group: the sum over the group is x itself (the K-rank sums are checked in test/parallel)
export const collectiveCases: CaseTable = {
  allReduce: { arb: shape().chain((s) => refTensor(s).map((x) => ({ inputs: [x], attrs: { collective: inProcessGroup(1)[0] } }))) },
};
