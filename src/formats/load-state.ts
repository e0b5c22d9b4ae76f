/**
 * Loading a state_dict (from a .pth or safetensors file, or webgrad tensors) into a webgrad
 * parameter tree, matching the tree's dotted paths (`tree.flatten`) to state_dict keys.
 */
import { cast } from '../tensor/ops/elementwise';
import { Tensor } from '../tensor/tensor';
import { flatten, unflatten } from '../tensor/tree';
import { type HostTensor, isHostTensor, leafEntries, toTensor } from './host-tensor';

/**
 * Options of {@link loadStateDict}, as the `strict` argument of torch.nn.Module.load_state_dict plus a key
 * renamer.
 */
export interface LoadStateDictOptions {
  /** Throw when any key is missing, unexpected or has the wrong shape (default true). */
  strict?: boolean;
  /** Renames each state_dict key to a parameter path; return null to ignore the entry. */
  map?: (key: string) => string | null;
}

/** What {@link loadStateDict} returns: the loaded tree and the keys that did not match, as PyTorch reports them. */
export interface LoadStateDictResult<T> {
  /** The tree with loaded leaves replaced by new tensors (others kept as they were). */
  params: T;
  /** Parameter paths with no matching state_dict entry. */
  missing: string[];
  /** State_dict keys (after `map`) that match no parameter. */
  unexpected: string[];
  /** Keys whose tensor has another shape than the parameter (not loaded). */
  shapeMismatch: { key: string; expected: number[]; got: number[] }[];
}

/** Dotted keys → tensor leaves (HostTensor or Tensor) of a possibly nested state_dict. */
const flatEntries = (sd: unknown) => leafEntries<HostTensor | Tensor>(sd, (x) => x instanceof Tensor || isHostTensor(x));

const list = (xs: string[], max = 20) => (xs.length > max ? `${xs.slice(0, max).join(', ')}, … (${xs.length - max} more)` : xs.join(', '));

/**
 * Loads `stateDict` into a copy of `params`. Values are converted to each parameter's dtype and
 * device. In strict mode (the default) a missing, unexpected or mis-shaped key throws an Error that
 * lists every problem; otherwise the problems are returned and the affected parameters kept.
 *
 * @example
 * ```ts
 * import { init, nn, random, tensor } from '@webgrad/core/node';
 * import { HostTensor, loadStateDict } from '@webgrad/core/formats';
 * await init();
 * const { params } = nn.linear({ inFeatures: 2, outFeatures: 1 }).init(random.key(0));
 * const sd = { 'head.weight': new HostTensor('float32', [1, 2], new Float32Array([0.5, -0.5])), 'head.bias': new HostTensor('float32', [1], new Float32Array([1])) };
 * const r = loadStateDict(params, sd, { map: (k) => k.replace(/^head\./, '') });
 * console.log(await r.params.weight.data(), r.missing, r.unexpected); // Float32Array [0.5, -0.5] [] []
 * ```
 */
export function loadStateDict<T>(params: T, stateDict: unknown, options: LoadStateDictOptions = {}): LoadStateDictResult<T> {
  const strict = options.strict ?? true;
  const leaves = flatten(params);
  const paramPaths = new Map<string, Tensor>();
  for (const { path, value } of leaves) if (value instanceof Tensor) paramPaths.set(path, value);
  const entries = new Map<string, HostTensor | Tensor>();
  const unexpected: string[] = [];
  for (const [key, value] of flatEntries(stateDict)) {
    const mapped = options.map ? options.map(key) : key;
    if (mapped === null) continue;
    if (typeof mapped !== 'string') throw new TypeError(`loadStateDict: map('${key}') must return a string or null; got ${typeof mapped}`);
    if (!paramPaths.has(mapped)) unexpected.push(mapped);
    else entries.set(mapped, value);
  }
  const missing: string[] = [];
  const shapeMismatch: LoadStateDictResult<T>['shapeMismatch'] = [];
  for (const [path, p] of paramPaths) {
    const v = entries.get(path);
    if (!v) missing.push(path);
    else if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
      shapeMismatch.push({ key: path, expected: p.shape.slice(), got: v.shape.slice() });
      entries.delete(path);
    }
  }
  if (strict && (missing.length || unexpected.length || shapeMismatch.length)) {
    const lines = ['loadStateDict: the state_dict does not match the parameters (pass { strict: false } to load what matches):'];
    if (missing.length) lines.push(`  missing keys (${missing.length}): ${list(missing)}`);
    if (unexpected.length) lines.push(`  unexpected keys (${unexpected.length}): ${list(unexpected)}`);
    for (const m of shapeMismatch.slice(0, 20))
      lines.push(`  shape mismatch for ${m.key}: parameter has [${m.expected.join(', ')}], state_dict has [${m.got.join(', ')}]`);
    if (shapeMismatch.length > 20) lines.push(`  … ${shapeMismatch.length - 20} more shape mismatches`);
    throw new Error(lines.join('\n'));
  }
  const created: Tensor[] = [];
  try {
    const values = leaves.map(({ path, value }) => {
      const v = entries.get(path);
      if (!v || !(value instanceof Tensor)) return value;
      let t: Tensor;
      if (v instanceof Tensor) t = v.dtype === value.dtype && v.device === value.device ? v : cast(v, value.dtype);
      else t = toTensor(v as HostTensor, value.device, value.dtype, path);
      if (t !== v) created.push(t);
      return t;
    });
    return { params: unflatten(params, values), missing, unexpected, shapeMismatch };
  } catch (e) {
    for (const t of created) t.dispose();
    throw e;
  }
}
