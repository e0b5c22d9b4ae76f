/** Pytrees: nested plain objects and arrays whose leaves are tensors (or other values). */
import { Tensor } from './tensor';

/** A pytree: a leaf (a Tensor by default), or arrays and plain objects of pytrees, as parameters and states are. */
export type Tree<L = Tensor> = L | readonly Tree<L>[] | { readonly [k: string]: Tree<L> };

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !(x instanceof Tensor) && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;

/** Options of `tree.flatten`. */
export interface FlattenOptions {
  /**
   * Which nodes are leaves. By default anything that is not a plain object or an array (a Tensor,
   * a number, a class instance). With a custom test, every other non-null object (except typed
   * arrays) is walked into, which is what file formats need: a parsed pickle's dicts may have no
   * prototype, and a state_dict may hold HostTensors beside Tensors.
   */
  isLeaf?: (x: unknown) => boolean;
  /** Path of the root (default ''). */
  prefix?: string;
}

/**
 * Leaves in a fixed order (arrays by index, objects by own-key order), with their dotted paths:
 * the one walk behind state_dict keys, optimizer parameter paths and checkpoint files. Nodes that
 * are neither leaves nor walkable containers are reported too (callers filter or reject them);
 * a container reached again through a cycle is skipped.
 */
export function flatten(tree: unknown, options: FlattenOptions = {}): { path: string; value: unknown }[] {
  const custom = options.isLeaf;
  const out: { path: string; value: unknown }[] = [];
  const seen = new Set<unknown>();
  const container = (x: unknown) =>
    custom ? !custom(x) && typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) : Array.isArray(x) || isPlainObject(x);
  const walk = (node: unknown, path: string) => {
    if (!container(node)) {
      out.push({ path, value: node });
      return;
    }
    if (seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) node.forEach((c, i) => walk(c, path ? `${path}.${i}` : String(i)));
    else for (const k of Object.keys(node as object)) walk((node as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    seen.delete(node);
  };
  walk(tree, options.prefix ?? '');
  return out;
}

/** The leaves of a pytree in flatten order. */
export function leaves(tree: unknown): unknown[] {
  return flatten(tree).map((l) => l.value);
}

/** Tensors among the leaves. */
export function tensors(tree: unknown): Tensor[] {
  return leaves(tree).filter((x): x is Tensor => x instanceof Tensor);
}

/** Maps every leaf keeping the structure; `fn` also gets the leaf's path and the matching leaves of `others`. */
export function map<T = unknown>(tree: unknown, fn: (leaf: any, path: string, ...others: any[]) => T, ...others: unknown[]): any {
  const walk = (node: unknown, path: string, rest: unknown[]): unknown => {
    if (Array.isArray(node))
      return node.map((c, i) =>
        walk(
          c,
          path ? `${path}.${i}` : String(i),
          rest.map((r) => (r as unknown[])?.[i]),
        ),
      );
    if (isPlainObject(node)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(node))
        o[k] = walk(
          node[k],
          path ? `${path}.${k}` : k,
          rest.map((r) => (r as Record<string, unknown>)?.[k]),
        );
      return o;
    }
    return (fn as (...a: unknown[]) => T)(node, path, ...rest);
  };
  return walk(tree, '', others);
}

/** Rebuilds `tree`'s structure from leaves in flatten order. */
export function unflatten(tree: unknown, values: readonly unknown[]): any {
  let i = 0;
  const out = map(tree, () => values[i++]);
  if (i !== values.length) throw new Error(`tree.unflatten: structure has ${i} leaves; got ${values.length} values`);
  return out;
}

export function dispose(tree: unknown): void {
  for (const t of tensors(tree)) t.dispose();
}
