/** All op cases by op name. Each family adds one import and one entry in TABLES. */
import type { CaseTable } from '../../helpers/cases';
import { attentionCases } from './attention';
import { augmentCases } from './augment';
import { boxesCases } from './boxes';
import { collectiveCases } from './collective';
import { convCases } from './conv';
import { convFusedCases } from './conv-fused';
import { creationCases } from './creation';
import { detectionAugmentCases } from './detection-augment';
import { elementwiseCases } from './elementwise';
import { layoutCases } from './layout';
import { lossCases } from './losses';
import { matmulCases } from './matmul';
import { randomCases } from './random';
import { reduceCases } from './reduce';
import { segmentationCases } from './segmentation';
import { shapeCases } from './shape';
import { ssdCases } from './ssd';
import { styleCases } from './style';
import { visionCases } from './vision';
import { vitCases } from './vit';

const TABLES: CaseTable[] = [
  attentionCases,
  augmentCases,
  boxesCases,
  collectiveCases,
  convCases,
  convFusedCases,
  creationCases,
  detectionAugmentCases,
  elementwiseCases,
  layoutCases,
  lossCases,
  matmulCases,
  randomCases,
  reduceCases,
  segmentationCases,
  shapeCases,
  ssdCases,
  styleCases,
  visionCases,
  vitCases,
];

export const ALL_CASES: CaseTable = Object.assign({}, ...TABLES);

/** Ops tested elsewhere, with where. */
export const EXEMPT: Record<string, string> = {};
