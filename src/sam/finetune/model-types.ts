/** The SAM model object's types that fine-tuning codes against (src/models/sam/sam.ts). */
export type { SamModel, SamParams, SamState, SamPrompts } from '../../models/sam/sam';
