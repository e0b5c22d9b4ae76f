/** The U²-Net names and variants the CLIs accept (typed against the model's own unions). */
import type { U2NetName, U2NetVariant } from '../models/u2net/model';

export const MODELS = ['u2netp', 'u2net'] as const satisfies readonly U2NetName[];
export const VARIANTS = ['standard', 'grouped', 'separable'] as const satisfies readonly U2NetVariant[];
