/** The public `tree` namespace: walking pytrees of tensors. */
import { flatten, leaves, tensors, map, unflatten, dispose } from '../tensor/tree';

export const tree = Object.freeze({ flatten, leaves, tensors, map, unflatten, dispose });
