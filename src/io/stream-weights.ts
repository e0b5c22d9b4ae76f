/**
 * Streams a `.pth` checkpoint into parameter trees: the file is read range by range (`openPth` over a file
 * handle), every tensor is checked against the expected keys and shapes before any data is read, then each is
 * uploaded to the device and its host bytes dropped. Peak host memory ≈ the pickle plus the largest tensor.
 */
import type { Device } from '../kernels/webgpu/device';
import { getDefaultDevice } from '../kernels/webgpu/devices';
import { type HostTensor, toTensor } from '../formats/host-tensor';
import { openPth, type PthReader } from '../formats/pth-stream';
import { empty, type Tensor } from '../tensor/tensor';
import { openFileSource } from './pth-file';

/** Options of {@link loadPthTrees}. */
export interface LoadPthTreesOptions {
  /** Device the tensors are uploaded to (default: the default device). */
  device?: Device;
  /** Keys that go into the state tree rather than the params tree (default: none). */
  isState?: (key: string) => boolean;
  /** File keys skipped without complaint. */
  ignore?: (key: string) => boolean;
  /** Start of the error message when the file does not fit (default `loadPthTrees: <path> does not fit`). */
  what?: string;
}

/** A parameter tree built from dotted keys: nested plain objects (`blocks.0.attn` → `{ blocks: { 0: { attn } } }`). */
export type PthTree = Record<string, unknown>;

/**
 * Streams a checkpoint file into two parameter trees (params, state) whose flattened paths are the
 * `expected` keys (state_dict order, shapes); names and shapes are checked before any tensor is read, and a
 * file that does not fit fails with one error listing a few missing, unexpected and mis-shaped keys. Floating
 * tensors arrive as float32 (float16/bfloat16/float64 are converted as they are uploaded), integers as int32.
 * The file is never in memory whole: each tensor is read, uploaded and dropped in turn.
 *
 * @example
 * ```ts
 * import { init, loadPthTrees, savePth, tensor } from '@webgrad/core/node';
 * await init();
 * await savePth('/tmp/mlp.pth', { layers: [{ weight: tensor([[1, 2, 3], [4, 5, 6]]), bias: tensor([0, 1]) }] });
 * const expected: [string, number[]][] = [['layers.0.weight', [2, 3]], ['layers.0.bias', [2]]];
 * const { params } = await loadPthTrees('/tmp/mlp.pth', expected, {});
 * console.log(await (params as any).layers['0'].bias.data()); // Float32Array [0, 1]
 * ```
 */
export async function loadPthTrees(
  path: string,
  expected: readonly (readonly [string, readonly number[]])[],
  options: LoadPthTreesOptions = {},
): Promise<{ params: PthTree; state: PthTree }> {
  const isState = options.isState ?? (() => false);
  const what = options.what ?? `loadPthTrees: ${path} does not fit`;
  const device = options.device ?? getDefaultDevice();
  const source = await openFileSource(path);
  const uploaded: Tensor[] = [];
  try {
    const pth = await openPth(source);
    checkKeys(pth, expected, what, options.ignore);
    const values = new Map<string, Tensor>();
    const wanted = new Set(expected.map(([k]) => k));
    for (const { name } of pth.tensors) {
      if (!wanted.has(name) || values.has(name)) continue;
      // one tensor on the host at a time: read, upload, let go
      const t = upload(await pth.read(name), device, name);
      uploaded.push(t);
      values.set(name, t);
    }
    const params = buildTree(expected.filter(([k]) => !isState(k)).map(([k]) => [k, values.get(k)!]));
    const state = buildTree(expected.filter(([k]) => isState(k)).map(([k]) => [k, values.get(k)!]));
    return { params, state };
  } catch (e) {
    for (const t of uploaded) t.dispose();
    throw e;
  } finally {
    await source.close();
  }
}

/** One error listing a few missing, unexpected and mis-shaped keys; nothing is uploaded before it passes. */
function checkKeys(pth: PthReader, expected: readonly (readonly [string, readonly number[]])[], what: string, ignore?: (key: string) => boolean): void {
  const inFile = new Map<string, readonly number[]>();
  for (const t of pth.tensors) if (!inFile.has(t.name)) inFile.set(t.name, t.shape);
  const want = new Map(expected.map(([k, s]) => [k, s]));
  const missing = expected.map(([k]) => k).filter((k) => !inFile.has(k));
  const unexpected = [...inFile.keys()].filter((k) => !want.has(k) && !ignore?.(k));
  const mismatch = expected.filter(([k, s]) => {
    const got = inFile.get(k);
    return got && (got.length !== s.length || got.some((d, i) => d !== s[i]));
  });
  if (!missing.length && !unexpected.length && !mismatch.length) return;
  const few = (xs: string[]) => (xs.length > 5 ? `${xs.slice(0, 5).join(', ')}, … (${xs.length - 5} more)` : xs.join(', '));
  const parts: string[] = [];
  if (missing.length) parts.push(`${missing.length} missing (${few(missing)})`);
  if (unexpected.length) parts.push(`${unexpected.length} unexpected (${few(unexpected)})`);
  if (mismatch.length)
    parts.push(`${mismatch.length} of another shape (${few(mismatch.map(([k, s]) => `${k}: file [${inFile.get(k)!.join(', ')}], model [${s.join(', ')}]`))})`);
  throw new Error(`${what}: ${parts.join('; ')}`);
}

/** A host tensor on the device as float32 (float32 data goes up as it is, without a host copy). */
function upload(h: HostTensor, device: Device, name: string): Tensor {
  if (h.dtype !== 'float32') return toTensor(h, device, undefined, name);
  const t = empty(h.shape.slice(), 'float32', device);
  device.upload(t.buffer, h.data);
  return t;
}

/** Dotted keys → nested plain objects (ModuleList indices stay object keys, as webgrad's layers keep them). */
function buildTree(entries: [string, unknown][]): PthTree {
  const root: Record<string, unknown> = {};
  const define = (o: Record<string, unknown>, k: string, value: unknown) =>
    Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
  for (const [key, value] of entries) {
    const parts = key.split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) {
      if (!Object.hasOwn(node, p)) define(node, p, {});
      node = node[p] as Record<string, unknown>;
    }
    define(node, parts[parts.length - 1], value);
  }
  return root;
}
