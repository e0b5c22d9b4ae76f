/**
 * Streaming `.pth` reader: a torch.save zip checkpoint read tensor by tensor through a random-access
 * {@link ByteSource} (a file handle), so a 2.5 GB checkpoint never sits in memory whole. The pickle
 * (`data.pkl`, small) goes through the same restricted unpickler and allow-list as {@link readPth}; then
 * each tensor reads only the byte range its view covers in its storage entry. Peak host memory is the
 * pickle plus the largest tensor. Legacy and tar checkpoints (small, old) are read whole. Runtime-neutral.
 */
import { type HostDType, HostTensor, ITEM_SIZE, hostArrayFromBytes } from './host-tensor';
import { PyGlobal, UnpicklingError } from './pickle';
import { PthError, StorageRef, StorageTable, TensorRef, flattenStateDict, materialise, readPth, unpickleWith, zipPickleEntry } from './pth';
import { isTar } from './tar';
import { type ByteSource, type ZipEntry, isZip, readExactly, readZipDirectoryFrom, readZipEntryFrom, zipEntryDataOffset } from './zip';

const fail = (msg: string): never => {
  throw new PthError(`readPthStreaming: ${msg}`);
};

/** A tensor of a checkpoint as the pickle declares it, before any of its bytes are read. */
export interface PthTensorInfo {
  /** Dotted key, as {@link flattenStateDict} names it (`blocks.0.attn.qkv.weight`). */
  readonly name: string;
  /** Element type in the file. */
  readonly dtype: HostDType;
  /** Size of each dimension. */
  readonly shape: readonly number[];
}

/** A checkpoint opened by {@link openPth}: its tensor list, and their data one at a time. */
export interface PthReader {
  /** How the file was read: `zip` streams tensor by tensor; `legacy` and `tar` were read whole. */
  readonly format: 'zip' | 'legacy' | 'tar';
  /** Every tensor leaf in pickle order (a tensor reachable under two keys is listed under both). */
  readonly tensors: readonly PthTensorInfo[];
  /** One tensor's values, contiguous and row-major; reads only the bytes its view spans. */
  read(name: string): Promise<HostTensor>;
  /** Every tensor in the order of {@link PthReader.tensors}, one read at a time. */
  [Symbol.asyncIterator](): AsyncIterator<[string, HostTensor]>;
}

/** Options of {@link openPth}. */
export interface OpenPthOptions {
  /** Largest `data.pkl` accepted, in bytes (default 1 GiB). */
  maxPickleBytes?: number;
  /** Largest deflate-compressed storage entry accepted (they are inflated whole; default 4 GiB). */
  maxInflatedBytes?: number;
}

// Bounds the walk over the unpickled structure (shared sub-objects are visited once per path, as flattenStateDict does).
const MAX_DEPTH = 10_000;
const MAX_VISITS = 10_000_000;

/** The TensorRef leaves of an unpickled value with their dotted paths, in the order `flattenStateDict` lists them. */
function tensorLeaves(value: unknown): [string, TensorRef][] {
  const out: [string, TensorRef][] = [];
  const onPath = new Set<unknown>();
  let visits = 0;
  const walk = (x: unknown, path: string, depth: number) => {
    if (++visits > MAX_VISITS) fail('the pickled structure has too many shared references to list');
    if (depth > MAX_DEPTH) fail('structure is nested too deeply');
    if (x instanceof TensorRef) {
      out.push([path, x]);
      return;
    }
    // readPth turns globals into strings and keeps storages as opaque values: neither holds tensors
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x) || x instanceof PyGlobal || x instanceof StorageRef || onPath.has(x)) return;
    onPath.add(x);
    if (Array.isArray(x)) x.forEach((c, i) => walk(c, path ? `${path}.${i}` : String(i), depth + 1));
    else for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], path ? `${path}.${k}` : k, depth + 1);
    onPath.delete(x);
  };
  walk(value, '', 0);
  return out;
}

/** Reads the tensors of a zip checkpoint range by range. */
async function openZip(source: ByteSource, options: OpenPthOptions): Promise<PthReader> {
  const dir = await readZipDirectoryFrom(source);
  const { pkl, prefix } = zipPickleEntry(dir.keys());
  const storages = new StorageTable('zip');
  const pickleBytes = await readZipEntryFrom(source, dir.get(pkl)!, options.maxPickleBytes ?? 2 ** 30);
  const { value } = unpickleWith(pickleBytes, storages);
  let bigEndian = false;
  const bo = dir.get(`${prefix}byteorder`);
  if (bo) {
    const order = new TextDecoder().decode(await readZipEntryFrom(source, bo, 64)).trim();
    if (order !== 'little' && order !== 'big') fail(`byteorder entry says '${order.slice(0, 20)}'; expected 'little' or 'big'`);
    bigEndian = order === 'big';
  }
  const leaves = tensorLeaves(value);
  const byName = new Map<string, TensorRef>();
  for (const [name, ref] of leaves) byName.set(name, ref);
  const entryOf = (key: string): ZipEntry => dir.get(`${prefix}data/${key}`) ?? fail(`storage '${key}' is missing from the archive (no ${prefix}data/${key})`);
  // every storage is checked up front, so a lying archive fails before any tensor is handed out
  for (const [, ref] of leaves) entryOf(ref.storage.key);
  const dataStart = new Map<string, number>();
  // deflated storages are inflated whole: keep the last one for the views that follow it
  let inflated: { key: string; bytes: Uint8Array } | undefined;
  const maxInflated = options.maxInflatedBytes ?? 2 ** 32;

  const readRef = async (t: TensorRef): Promise<HostTensor> => {
    const s = t.storage;
    const e = entryOf(s.key);
    const item = ITEM_SIZE[s.dtype];
    const rootElems = Math.floor(e.size / item);
    if (s.elemOffset + s.numel > rootElems) fail(`storage '${s.key}' declares ${s.elemOffset + s.numel} ${s.dtype} elements but holds ${rootElems}`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel === 0) return new HostTensor(s.dtype, t.shape, hostArrayFromBytes(s.dtype, new Uint8Array(0)));
    let last = t.offset;
    for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
    if (last >= s.numel)
      fail(
        `tensor of size [${t.shape.join(', ')}], stride [${t.stride.join(', ')}] at offset ${t.offset} reads element ${last} of storage '${s.key}' which has ${s.numel}`,
      );
    if (numel * item > 4 * e.size + (1 << 20))
      fail(`tensor of size [${t.shape.join(', ')}] expands ${s.numel} stored elements to ${numel}; refusing such a large broadcast view`);
    // the view's elements lie in [first, last] of the storage: read that span only
    const first = s.elemOffset + t.offset;
    const spanElems = last - t.offset + 1;
    let span: Uint8Array;
    if (e.method === 0) {
      if (e.size !== e.compressedSize) fail(`stored entry '${e.name}' declares ${e.size} bytes but holds ${e.compressedSize}`);
      let start = dataStart.get(s.key);
      if (start === undefined) {
        start = await zipEntryDataOffset(source, e);
        dataStart.set(s.key, start);
      }
      span = await readExactly(source, start + first * item, spanElems * item, `storage '${s.key}'`);
    } else {
      if (inflated?.key !== s.key) {
        inflated = undefined; // drop the previous storage before inflating the next
        inflated = { key: s.key, bytes: await readZipEntryFrom(source, e, maxInflated) };
      }
      span = inflated.bytes.subarray(first * item, (first + spanElems) * item);
    }
    let contiguous = true;
    for (let i = t.shape.length - 1, acc = 1; i >= 0; acc *= t.shape[i], i--) if (t.shape[i] !== 1 && t.stride[i] !== acc) contiguous = false;
    // a contiguous little-endian view is the span itself: wrap the read's buffer, no copy
    if (contiguous && (!bigEndian || item === 1) && e.method === 0) return new HostTensor(s.dtype, t.shape, hostArrayFromBytes(s.dtype, span, false));
    return materialise(new TensorRef(new StorageRef(s.key, s.dtype, spanElems), 0, t.shape, t.stride), span, bigEndian);
  };

  return reader(
    'zip',
    leaves.map(([name, r]) => ({ name, dtype: r.storage.dtype, shape: r.shape.slice() })),
    (name) => readRef(byName.get(name) ?? fail(`no tensor named '${name}' in the checkpoint`)),
  );
}

function reader(format: PthReader['format'], tensors: PthTensorInfo[], read: (name: string) => Promise<HostTensor>): PthReader {
  const guarded = async (name: string) => {
    try {
      return await read(name);
    } catch (e) {
      throw asPthError(e);
    }
  };
  return {
    format,
    tensors,
    read: guarded,
    async *[Symbol.asyncIterator]() {
      for (const { name } of tensors) yield [name, await guarded(name)] as [string, HostTensor];
    },
  };
}

function asPthError(e: unknown): Error {
  if (e instanceof PthError || e instanceof UnpicklingError) return e;
  if (e instanceof Error) return new PthError(`readPthStreaming: ${e.message}`, { cause: e });
  return new PthError(`readPthStreaming: ${String(e)}`);
}

/**
 * Opens a `torch.save` checkpoint through a random-access source and lists its tensors without reading
 * their data. Zip checkpoints (torch ≥ 1.6) are then read tensor by tensor, each view reading only its
 * own byte range; legacy and tar checkpoints are read whole through {@link readPth}. Any global outside
 * the state_dict allow-list is refused before anything is built.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { serializePth, openPth, bytesSource } from '@webgrad/core/formats';
 * await init();
 * const bytes = await serializePth({ 'fc.weight': tensor([[1, 2]]), 'fc.bias': tensor([0]) });
 * const pth = await openPth(bytesSource(bytes)); // or openFileSource(path) in Node
 * console.log(pth.tensors.map((t) => `${t.name} [${t.shape}]`)); // ['fc.weight [1,2]', 'fc.bias [1]']
 * for await (const [name, t] of pth) console.log(name, t.data);
 * ```
 */
export async function openPth(source: ByteSource, options: OpenPthOptions = {}): Promise<PthReader> {
  if (!source || typeof source.read !== 'function' || !Number.isSafeInteger(source.size) || source.size < 0)
    fail(`expected a source { size, read(offset, length) }; got ${source === null ? 'null' : typeof source}`);
  try {
    const head = await readExactly(source, 0, Math.min(source.size, 512), 'file header');
    if (isZip(head)) return await openZip(source, options);
    const legacy = head.length > 2 && head[0] === 0x80 && head[1] <= 5;
    if (legacy || isTar(head)) {
      // old formats put storages after (or around) the pickle with no index: read the file whole
      const flat = flattenStateDict(await readPth(await readExactly(source, 0, source.size, 'checkpoint')));
      return reader(
        legacy ? 'legacy' : 'tar',
        Object.entries(flat).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape.slice() })),
        async (name) => (Object.hasOwn(flat, name) ? flat[name] : fail(`no tensor named '${name}' in the checkpoint`)),
      );
    }
    const hex = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return fail(
      `not a PyTorch checkpoint (${source.size} bytes starting ${hex || '(empty)'}): expected a zip archive (torch ≥ 1.6), a legacy pickle stream (0x80 …) or a tar archive`,
    );
  } catch (e) {
    throw asPthError(e);
  }
}

/** Options of {@link readPthStreaming}. */
export interface ReadPthStreamingOptions extends OpenPthOptions {
  /** Called with each tensor in turn (awaited before the next is read); keep nothing you do not need. */
  onTensor(name: string, tensor: HostTensor): void | Promise<void>;
}

/**
 * Reads every tensor of a `torch.save` checkpoint through `source`, one at a time, handing each to
 * `onTensor` (e.g. to upload it to the GPU and drop the bytes). Resolves to the tensor list.
 *
 * @example
 * ```ts
 * import { init, tensor, type Tensor } from '@webgrad/core/node';
 * import { serializePth, readPthStreaming, bytesSource, toTensor } from '@webgrad/core/formats';
 * await init();
 * const bytes = await serializePth({ w: tensor([1, 2, 3]) });
 * const onDevice: Record<string, Tensor> = {};
 * await readPthStreaming(bytesSource(bytes), { onTensor: (name, t) => { onDevice[name] = toTensor(t); } });
 * console.log(await onDevice.w.data()); // Float32Array [1, 2, 3]
 * ```
 */
export async function readPthStreaming(source: ByteSource, options: ReadPthStreamingOptions): Promise<readonly PthTensorInfo[]> {
  if (typeof options?.onTensor !== 'function') fail('options.onTensor must be a function (name, hostTensor) => void');
  const pth = await openPth(source, options);
  for await (const [name, t] of pth) await options.onTensor(name, t);
  return pth.tensors;
}
