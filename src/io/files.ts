/**
 * Node-only checkpoint file I/O: safetensors (written atomically) and PyTorch .pth/.pt reading and writing.
 * Exported from `@webgrad/core/node`, never from the runtime-neutral core.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { Tensor } from '../tensor/tensor';
import { HostTensor, isHostTensor } from '../formats/host-tensor';
import { parseSafetensors, serializeSafetensors } from '../formats/safetensors';
import { readPth } from '../formats/pth';
import { serializePth, isPthView, type PthView, type SerializePthOptions } from '../formats/pth-write';

export interface AtomicWriteOptions {
  /** Writes the data into the open temp file (tests inject failures here). Default: write it all. */
  write?: (file: FileHandle, data: Uint8Array) => Promise<void>;
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename over the
 * target, then fsync the directory. A crash at any point leaves either the old file or the new one.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
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
    try { await d.sync(); } finally { await d.close(); }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  }
}

/** Saves the tensors of a tree (Tensors or HostTensors, keyed by dotted path) as a safetensors file, atomically. */
export async function saveSafetensors(path: string, tree: unknown, metadata?: Record<string, string>, options: AtomicWriteOptions = {}): Promise<void> {
  const dict: Record<string, Tensor | HostTensor> = {};
  const add = (k: string, v: Tensor | HostTensor) => {
    if (Object.prototype.hasOwnProperty.call(dict, k)) throw new Error(`saveSafetensors: two tensors share the key '${k}'`);
    Object.defineProperty(dict, k, { value: v, enumerable: true, writable: true, configurable: true });
  };
  const seen = new Set<unknown>();
  const walk = (x: unknown, p: string) => {
    if (x instanceof Tensor || isHostTensor(x)) { add(p || 'tensor', x as Tensor | HostTensor); return; }
    if (typeof x !== 'object' || x === null || seen.has(x)) return;
    if (ArrayBuffer.isView(x)) throw new TypeError(`saveSafetensors: leaf '${p}' is a bare typed array; wrap it as a HostTensor { dtype, shape, data }`);
    seen.add(x);
    if (Array.isArray(x)) x.forEach((c, i) => walk(c, p ? `${p}.${i}` : String(i)));
    else for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], p ? `${p}.${k}` : k);
    seen.delete(x);
  };
  walk(tree, '');
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
 */
export async function savePth(path: string, tree: unknown, options: SerializePthOptions & AtomicWriteOptions = {}): Promise<void> {
  const dict: Record<string, Tensor | HostTensor | PthView> = {};
  const seen = new Set<unknown>();
  const walk = (x: unknown, p: string) => {
    if (x instanceof Tensor || isHostTensor(x) || isPthView(x)) {
      const k = p || 'tensor';
      if (Object.prototype.hasOwnProperty.call(dict, k)) throw new Error(`savePth: two tensors share the key '${k}'`);
      Object.defineProperty(dict, k, { value: x, enumerable: true, writable: true, configurable: true });
      return;
    }
    if (typeof x !== 'object' || x === null || seen.has(x)) return;
    if (ArrayBuffer.isView(x)) throw new TypeError(`savePth: leaf '${p}' is a bare typed array; wrap it as a HostTensor { dtype, shape, data }`);
    seen.add(x);
    if (Array.isArray(x)) x.forEach((c, i) => walk(c, p ? `${p}.${i}` : String(i)));
    else for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], p ? `${p}.${k}` : k);
    seen.delete(x);
  };
  walk(tree, '');
  const stem = basename(path).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'archive';
  await writeFileAtomic(path, await serializePth(dict, { archiveName: options.archiveName ?? stem, int64: options.int64 }), options);
}
