/** The public `tree` namespace: walking pytrees of tensors. */
import { flatten, leaves, tensors, map, unflatten, dispose } from '../tensor/tree';

/**
 * Pytree helpers: walk the nested objects and arrays that hold parameters, states and gradients (like jax.tree_util).
 *
 * @example
 * ```ts
 * import { init, tree, tensor, mul } from '@webgrad/core/node';
 * await init();
 * const params = { fc: { weight: tensor([[1, 2]]), bias: tensor([0]) } };
 * console.log(tree.flatten(params).map((e) => e.path)); // ['fc.weight', 'fc.bias']
 * const halved = tree.map(params, (t) => mul(t, 0.5));
 * tree.dispose(halved);
 * ```
 */
export const tree = Object.freeze({
  /** Leaves with their dotted paths, in a stable order (objects by insertion, arrays by index). */
  flatten,
  /** The leaves in flatten order. */
  leaves,
  /** The tensors among the leaves. */
  tensors,
  /** A tree of the same structure with `fn` applied to every leaf. */
  map,
  /** Rebuilds a tree's structure from leaves in flatten order. */
  unflatten,
  /** Disposes every tensor in a tree. */
  dispose,
});
