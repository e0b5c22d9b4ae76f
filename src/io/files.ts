/**
 * Node-only checkpoint file I/O: safetensors (written atomically) and PyTorch .pth/.pt reading and writing.
 * Exported from `@webgrad/core/node`, never from the runtime-neutral core.
 */
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { Tensor } from '../tensor/tensor';
import { flatten } from '../tensor/tree';
import { type HostTensor, isHostTensor } from '../formats/host-tensor';
import { parseSafetensors, serializeSafetensors } from '../formats/safetensors';
import { readPth } from '../formats/pth';
import { serializePth, isPthView, type PthView, type SerializePthOptions } from '../formats/pth-write';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Writes the data into the open temp file (tests inject failures here). Default: write it all. */
  write?: (file: FileHandle, data: Uint8Array) => Promise<void>;
}

/** A temp file of a live writer older than this is abandoned anyway (its pid was reused, or it hung). */
export const STALE_TEMP_AGE_MS = 24 * 3600 * 1000;

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes temp files that earlier writes of `path` left behind when killed (`.<name>.<pid>.<id>.tmp`):
 * those whose process is gone, or that are older than STALE_TEMP_AGE_MS. A live writer's file (its
 * pid runs, this process included) is left alone. Returns the names removed.
 */
export async function removeStaleTemps(path: string, now = Date.now()): Promise<string[]> {
  const dir = dirname(path),
    prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-z]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const file = join(dir, name);
    let old = false;
    try {
      old = now - (await stat(file)).mtimeMs > STALE_TEMP_AGE_MS;
    } catch {
      continue;
    }
    if (!old && pidAlive(Number(m[1]))) continue;
    try {
      await rm(file, { force: true });
      removed.push(name);
    } catch {
      /* another writer cleaned it first */
    }
  }
  return removed;
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename over the
 * target, then fsync the directory. A crash at any point leaves either the old file or the new one;
 * the temp files of crashed writers of the same target are removed by the next write.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  await removeStaleTemps(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    try {
      if (options.write) await options.write(fh, data);
      else {
        let off = 0;
        while (off < data.byteLength) {
          const { bytesWritten } = await fh.write(data, off, data.byteLength - off);
          if (bytesWritten <= 0) throw new Error(`writeFileAtomic: no progress writing ${tmp}`);
          off += bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  // make the rename itself durable; some platforms cannot fsync a directory
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  }
}

/**
 * Saves the tensors of a tree (Tensors or HostTensors, keyed by dotted path) as a safetensors file, atomically.
 *
 * @example
 * ```ts
 * import { init, nn, random, saveSafetensors, loadSafetensors } from '@webgrad/core/node';
 * import { loadStateDict } from '@webgrad/core/formats';
 * await init();
 * const layer = nn.linear({ inFeatures: 4, outFeatures: 2 });
 * const { params } = layer.init(random.key(0));
 * await saveSafetensors('/tmp/linear.safetensors', params); // keys 'weight', 'bias'
 * const { tensors } = await loadSafetensors('/tmp/linear.safetensors');
 * const loaded = loadStateDict(layer.init(random.key(1)).params, tensors).params;
 * ```
 */
export async function saveSafetensors(path: string, tree: unknown, metadata?: Record<string, string>, options: AtomicWriteOptions = {}): Promise<void> {
  const dict = tensorDict('saveSafetensors', tree, (x) => x instanceof Tensor || isHostTensor(x)) as Record<string, Tensor | HostTensor>;
  await writeFileAtomic(path, await serializeSafetensors(dict, metadata), options);
}

/** Reads a safetensors file into host tensors (call `toTensors` to upload them). */
export async function loadSafetensors(path: string): Promise<ReturnType<typeof parseSafetensors>> {
  return parseSafetensors(new Uint8Array(await readFile(path)));
}

/** Reads a `torch.save` file (.pth/.pt/.tar) into a nested value with HostTensor leaves. */
export async function loadPth(path: string): Promise<unknown> {
  return readPth(new Uint8Array(await readFile(path)));
}

/**
 * Saves the tensors of a tree (Tensors, HostTensors or PthViews, keyed by dotted path — a webgrad
 * model's params and state give torchvision's state_dict keys) as a `torch.save` zip file that
 * `torch.load` reads, atomically. `num_batches_tracked` counters are written as int64, as in torch.
 *
 * @example
 * ```ts
 * import { init, nn, random, savePth, loadPth } from '@webgrad/core/node';
 * import { flattenStateDict, stateDict } from '@webgrad/core/formats';
 * await init();
 * const net = nn.sequential(nn.conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3 }), nn.batchNorm2d({ numFeatures: 8 }));
 * const { params, state } = net.init(random.key(0));
 * await savePth('/tmp/net.pth', stateDict(params, state)); // torch.load('/tmp/net.pth') reads it
 * const sd = flattenStateDict(await loadPth('/tmp/net.pth'));
 * console.log(Object.keys(sd)); // ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', …]
 * ```
 */
export async function savePth(path: string, tree: unknown, options: SerializePthOptions & AtomicWriteOptions = {}): Promise<void> {
  const dict = tensorDict('savePth', tree, (x) => x instanceof Tensor || isHostTensor(x) || isPthView(x)) as Record<string, Tensor | HostTensor | PthView>;
  const stem =
    basename(path)
      .replace(/\.[^.]*$/, '')
      .replace(/[^A-Za-z0-9_.-]/g, '_') || 'archive';
  await writeFileAtomic(path, await serializePth(dict, { archiveName: options.archiveName ?? stem, int64: options.int64 }), options);
}

/** The tensor leaves of a tree by dotted key (a lone root tensor is 'tensor'); bare typed arrays and duplicate keys are errors. */
function tensorDict(fn: string, tree: unknown, isLeaf: (x: unknown) => boolean): Record<string, unknown> {
  const dict: Record<string, unknown> = {};
  for (const { path, value } of flatten(tree, { isLeaf })) {
    if (ArrayBuffer.isView(value)) throw new TypeError(`${fn}: leaf '${path}' is a bare typed array; wrap it as a HostTensor { dtype, shape, data }`);
    if (!isLeaf(value)) continue;
    const k = path || 'tensor';
    if (Object.hasOwn(dict, k)) throw new Error(`${fn}: two tensors share the key '${k}'`);
    Object.defineProperty(dict, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return dict;
}
