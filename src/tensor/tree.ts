/** Pytrees: nested plain objects and arrays whose leaves are tensors (or other values). */
import { Tensor } from './tensor';

export type Tree<L = Tensor> = L | readonly Tree<L>[] | { readonly [k: string]: Tree<L> };

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !(x instanceof Tensor) && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;

/** Leaves in a fixed order (arrays by index, objects by insertion order), with their dotted paths. */
export function flatten(tree: unknown, prefix = ''): { path: string; value: unknown }[] {
  const out: { path: string; value: unknown }[] = [];
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) node.forEach((c, i) => walk(c, path ? `${path}.${i}` : String(i)));
    else if (isPlainObject(node)) for (const k of Object.keys(node)) walk(node[k], path ? `${path}.${k}` : k);
    else out.push({ path, value: node });
  };
  walk(tree, prefix);
  return out;
}

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
    if (Array.isArray(node)) return node.map((c, i) => walk(c, path ? `${path}.${i}` : String(i), rest.map((r) => (r as unknown[])?.[i])));
    if (isPlainObject(node)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(node)) o[k] = walk(node[k], path ? `${path}.${k}` : k, rest.map((r) => (r as Record<string, unknown>)?.[k]));
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

/** Dictionary of tensors by dotted path (a PyTorch-style state_dict view). */
export function toStateDict(tree: unknown): Record<string, Tensor> {
  const o: Record<string, Tensor> = {};
  for (const { path, value } of flatten(tree)) if (value instanceof Tensor) o[path] = value;
  return o;
}

export function dispose(tree: unknown): void {
  for (const t of tensors(tree)) t.dispose();
}
