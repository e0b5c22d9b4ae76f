/**
 * PyTorch checkpoint reader (`torch.save` files): the zip format (torch ≥ 1.6), the legacy pickle
 * stream (magic number, protocol, sys info, pickle, storage keys, raw storages) and the old tar format.
 * Pickles go through the restricted unpickler: only the globals a state_dict needs are allowed.
 * The result mirrors the pickled structure (dicts → objects, lists/tuples → arrays) with HostTensor
 * leaves. Runtime-neutral: no `node:` imports.
 */
import { type HostDType, HostTensor, ITEM_SIZE, hostArrayFromBytes, isHostTensor, leafEntries } from './host-tensor';
import { PyGlobal, UnpicklingError, isDict, unpickle, type GlobalHandler } from './pickle';
import { isTar, readTar } from './tar';
import { isZip, readZipDirectory, readZipEntry } from './zip';

/** Thrown by {@link readPth} for a malformed or unsupported `.pth` file. */
export class PthError extends Error {
  /** The error's class name. */
  override name = 'PthError';
}
const fail = (msg: string): never => {
  throw new PthError(`readPth: ${msg}`);
};

const STORAGE_DTYPES: Readonly<Record<string, HostDType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};
const TORCH_DTYPES: Readonly<Record<string, HostDType>> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** A storage (or a legacy view into one) as the pickle declares it; bytes arrive later. @internal (also used by pth-stream.ts) */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: HostDType,
    readonly numel: number,
    readonly elemOffset = 0,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. @internal */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function intList(x: unknown, what: string): number[] {
  if (!Array.isArray(x) || !x.every(isCount))
    return fail(`${what} must be a tuple of non-negative integers; got ${JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? String(v) : v))?.slice(0, 80)}`);
  return x.slice();
}

function storageDType(cls: unknown): HostDType {
  if (cls instanceof PyGlobal) {
    if (STORAGE_DTYPES[cls.name]) return STORAGE_DTYPES[cls.name];
    if (cls.module === 'torch' && TORCH_DTYPES[cls.name]) return TORCH_DTYPES[cls.name];
  }
  return fail(`unknown storage type ${cls instanceof PyGlobal ? cls.qualname : typeof cls}`);
}

/** Registry of the storages a pickle references, by key (shared storages resolve to one entry). @internal */
export class StorageTable {
  readonly byKey = new Map<string, StorageRef>();
  constructor(readonly format: string) {}

  /** Resolves a persistent id `('storage', type, key, location, numel[, view_metadata])`. */
  resolve(pid: unknown): StorageRef {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 3)
      return fail(`unsupported persistent id ${describePid(pid)}; expected ('storage', type, key, location, numel)`);
    // the old tar format refers to storages by key only: ('storage', key)
    if (pid.length === 2 || (pid.length === 3 && typeof pid[1] === 'string')) {
      const r = this.byKey.get(String(pid[1]));
      if (!r) fail(`storage '${String(pid[1])}' is not in the archive`);
      return r!;
    }
    const dtype = storageDType(pid[1]);
    const key = typeof pid[2] === 'string' || typeof pid[2] === 'number' ? String(pid[2]) : fail(`storage key must be a string; got ${typeof pid[2]}`);
    const numel = pid.length > 4 ? pid[4] : undefined;
    let root = this.byKey.get(key);
    if (!root || root.dtype !== dtype) {
      if (root && this.format === 'tar') fail(`storage '${key}' is ${root.dtype} in the archive but the pickle reads it as ${dtype}`);
      const count = numel === undefined ? (root?.numel ?? 0) : isCount(numel) ? numel : fail(`storage '${key}' size must be a non-negative integer`);
      root = new StorageRef(key, dtype, count);
      if (!this.byKey.has(key) || this.format !== 'tar') this.byKey.set(key, root);
    }
    const view = pid[5];
    if (view !== undefined && view !== null) {
      // legacy view_metadata: (view_key, offset, view_size) into the root storage, in elements
      if (!Array.isArray(view) || view.length !== 3 || !isCount(view[1]) || !isCount(view[2])) fail(`storage '${key}' has malformed view metadata`);
      if (view[1] + view[2] > root.numel) fail(`storage view [${view[1]}, ${view[1] + view[2]}) runs past storage '${key}' of ${root.numel} elements`);
      return new StorageRef(key, dtype, view[2], view[1]);
    }
    return root;
  }
}

function describePid(pid: unknown): string {
  try {
    return JSON.stringify(pid, (_, v) => (v instanceof PyGlobal ? v.qualname : typeof v === 'bigint' ? String(v) : v))?.slice(0, 100) ?? String(pid);
  } catch {
    return typeof pid;
  }
}

/** The allow-list: everything a state_dict (or a typical training checkpoint) pickles. */
function stateDictGlobals(storages: StorageTable): Record<string, GlobalHandler> {
  const g: Record<string, GlobalHandler> = {};
  const rebuildTensor = (args: unknown[]): TensorRef => {
    let [storage, offset, size, stride] = args;
    if (Array.isArray(storage)) storage = storages.resolve(storage); // tar format: storage tuple inline
    if (!(storage instanceof StorageRef)) return fail(`tensor storage must be a storage; got ${storage === null ? 'None' : typeof storage}`);
    if (!isCount(offset)) fail(`tensor storage offset must be a non-negative integer; got ${String(offset)}`);
    const shape = intList(size, 'tensor size');
    const strides = intList(stride, 'tensor stride');
    if (shape.length !== strides.length) fail(`tensor size [${shape.join(', ')}] and stride [${strides.join(', ')}] have different lengths`);
    return new TensorRef(storage, offset as number, shape, strides);
  };
  const first = (args: unknown[]) => args[0];
  const dictFrom = (args: unknown[]) => {
    const d: Record<string, unknown> = {};
    const items = args[0];
    if (Array.isArray(items))
      for (const kv of items) {
        if (!Array.isArray(kv) || kv.length !== 2) fail('OrderedDict items must be (key, value) pairs');
        Object.defineProperty(d, String(kv[0]), { value: kv[1], enumerable: true, writable: true, configurable: true });
      }
    return d;
  };
  g['collections.OrderedDict'] = { call: dictFrom };
  g['torch._utils._rebuild_tensor'] = { call: rebuildTensor };
  g['torch._utils._rebuild_tensor_v2'] = { call: rebuildTensor };
  g['torch._utils._rebuild_parameter'] = { call: first };
  g['torch._utils._rebuild_parameter_with_state'] = { call: first };
  g['torch.nn.parameter.Parameter'] = { call: first };
  g['torch._tensor._rebuild_from_type_v2'] = {
    call: ([fn, , args]) => {
      if (!(fn instanceof PyGlobal) || !g[fn.qualname]?.call || !Array.isArray(args))
        return fail('_rebuild_from_type_v2 needs an allowed function and an argument tuple');
      return g[fn.qualname].call!(args);
    },
  };
  g['torch.Size'] = { call: (args) => (Array.isArray(args[0]) ? args[0].slice() : []) };
  g['torch.device'] = { call: (args) => args.map(String).join(':') };
  for (const m of ['builtins', '__builtin__']) {
    g[`${m}.set`] = { call: (args) => (Array.isArray(args[0]) ? args[0].slice() : []) };
    g[`${m}.frozenset`] = g[`${m}.set`];
  }
  g['_codecs.encode'] = {
    call: ([s]) => {
      if (typeof s !== 'string') return fail('_codecs.encode needs a string');
      const b = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
      return b;
    },
  };
  for (const name of Object.keys(STORAGE_DTYPES)) {
    g[`torch.${name}`] = {};
    g[`torch.cuda.${name}`] = {};
  }
  g['torch.storage.UntypedStorage'] = {};
  for (const name of Object.keys(TORCH_DTYPES)) g[`torch.${name}`] = {};
  return g;
}

/** Copies elements of a strided view into `out` in row-major order, by whole words where aligned. */
function copyStrided(raw: Uint8Array, out: Uint8Array, item: number, base: number, shape: number[], stride: number[], numel: number): void {
  const aligned = raw.byteOffset % 4 === 0 && (item === 4 || item === 8);
  // elements as 1 or 2 words of 4 bytes, or as bytes
  const words = aligned ? item / 4 : item;
  const src = aligned ? new Uint32Array(raw.buffer, raw.byteOffset, raw.byteLength >> 2) : raw;
  const dst = aligned ? new Uint32Array(out.buffer, out.byteOffset, out.byteLength >> 2) : out;
  const r = shape.length;
  const inner = shape[r - 1];
  const innerStride = stride[r - 1] * words;
  const idx = new Array<number>(r).fill(0);
  let s0 = base;
  let o = 0;
  for (let k = 0; k < numel; k += inner) {
    let p = s0 * words;
    for (let j = 0; j < inner; j++, p += innerStride) for (let w = 0; w < words; w++) dst[o++] = src[p + w];
    for (let d = r - 2; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        s0 += stride[d];
        break;
      }
      s0 -= (shape[d] - 1) * stride[d];
      idx[d] = 0;
    }
  }
}

/** Materialises a strided view of a storage's bytes as a contiguous HostTensor. @internal */
export function materialise(t: TensorRef, raw: Uint8Array, bigEndian: boolean): HostTensor {
  const { storage: s, shape, stride } = t;
  const item = ITEM_SIZE[s.dtype];
  const numel = shape.reduce((a, b) => a * b, 1);
  const rootElems = Math.floor(raw.byteLength / item);
  if (s.elemOffset + s.numel > rootElems) fail(`storage '${s.key}' declares ${s.elemOffset + s.numel} ${s.dtype} elements but holds ${rootElems}`);
  const base = s.elemOffset + t.offset;
  if (numel > 0) {
    let last = t.offset;
    for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
    if (last >= s.numel)
      fail(
        `tensor of size [${shape.join(', ')}], stride [${stride.join(', ')}] at offset ${t.offset} reads element ${last} of storage '${s.key}' which has ${s.numel}`,
      );
    if (numel * item > 4 * raw.byteLength + (1 << 20))
      fail(`tensor of size [${shape.join(', ')}] expands ${s.numel} stored elements to ${numel}; refusing such a large broadcast view`);
  }
  const out = new Uint8Array(numel * item);
  let contiguous = true;
  for (let i = shape.length - 1, acc = 1; i >= 0; acc *= shape[i], i--) if (shape[i] !== 1 && stride[i] !== acc) contiguous = false;
  if (contiguous) out.set(raw.subarray(base * item, (base + numel) * item));
  else if (numel > 0) copyStrided(raw, out, item, base, shape, stride, numel);
  if (bigEndian && item > 1) for (let k = 0; k < out.length; k += item) out.subarray(k, k + item).reverse();
  return new HostTensor(s.dtype, shape, hostArrayFromBytes(s.dtype, out, false));
}

/** Replaces TensorRefs by HostTensors throughout the unpickled value (shared objects stay shared). */
async function resolveTensors(value: unknown, bytesFor: (key: string) => Promise<Uint8Array>, bigEndian: boolean): Promise<unknown> {
  const cache = new Map<string, Uint8Array>();
  const refs: TensorRef[] = [];
  const seen = new Set<unknown>();
  const collect = (x: unknown, depth: number) => {
    if (depth > 10_000) fail('structure is nested too deeply');
    if (x instanceof TensorRef) {
      refs.push(x);
      return;
    }
    if (typeof x !== 'object' || x === null || seen.has(x) || ArrayBuffer.isView(x)) return;
    seen.add(x);
    if (Array.isArray(x)) for (const c of x) collect(c, depth + 1);
    else if (isDict(x)) for (const k of Object.keys(x)) collect(x[k], depth + 1);
  };
  collect(value, 0);
  for (const r of refs) if (!cache.has(r.storage.key)) cache.set(r.storage.key, await bytesFor(r.storage.key));
  const done = new Map<unknown, unknown>();
  const build = (x: unknown): unknown => {
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x)) return x;
    if (done.has(x)) return done.get(x);
    if (x instanceof TensorRef) {
      const h = materialise(x, cache.get(x.storage.key)!, bigEndian);
      done.set(x, h);
      return h;
    }
    if (x instanceof PyGlobal) return x.qualname;
    if (Array.isArray(x)) {
      const a: unknown[] = [];
      done.set(x, a);
      for (const c of x) a.push(build(c));
      return a;
    }
    if (isDict(x)) {
      const o: Record<string, unknown> = {};
      done.set(x, o);
      for (const k of Object.keys(x)) Object.defineProperty(o, k, { value: build(x[k]), enumerable: true, writable: true, configurable: true });
      return o;
    }
    return x;
  };
  return build(value);
}

/** Unpickles with the state_dict allow-list, storages resolved through `storages`. @internal */
export function unpickleWith(bytes: Uint8Array, storages: StorageTable, offset = 0): { value: unknown; end: number } {
  return unpickle(bytes, { globals: stateDictGlobals(storages), persistentLoad: (pid) => storages.resolve(pid), offset });
}

/** The archive's `data.pkl` entry (the shortest path ending in it) and the folder prefix of its entries. @internal */
export function zipPickleEntry(names: Iterable<string>): { pkl: string; prefix: string } {
  const all = [...names];
  const pkl = all.filter((k) => /^[^/]*\/?data\.pkl$/.test(k) || k.endsWith('/data.pkl')).sort((a, b) => a.length - b.length)[0];
  if (!pkl) fail(`zip archive has no data.pkl (entries: ${all.slice(0, 8).join(', ')}); it is not a torch.save checkpoint`);
  return { pkl, prefix: pkl.slice(0, -'data.pkl'.length) };
}

/** Zip format: `<dir>/data.pkl` and storages in `<dir>/data/<key>`. */
async function readZipPth(bytes: Uint8Array): Promise<unknown> {
  const dir = readZipDirectory(bytes);
  const { pkl, prefix } = zipPickleEntry(dir.keys());
  const storages = new StorageTable('zip');
  const { value } = unpickleWith(await readZipEntry(bytes, dir.get(pkl)!), storages);
  let bigEndian = false;
  const bo = dir.get(`${prefix}byteorder`);
  if (bo) {
    const order = new TextDecoder().decode(await readZipEntry(bytes, bo)).trim();
    if (order !== 'little' && order !== 'big') fail(`byteorder entry says '${order.slice(0, 20)}'; expected 'little' or 'big'`);
    bigEndian = order === 'big';
  }
  return resolveTensors(
    value,
    async (key) => {
      const e = dir.get(`${prefix}data/${key}`);
      if (!e) return fail(`storage '${key}' is missing from the archive (no ${prefix}data/${key})`);
      return readZipEntry(bytes, e);
    },
    bigEndian,
  );
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Reads `count` storages laid out as an 8-byte element count then the raw elements, in `keys` order. */
function readRawStorages(bytes: Uint8Array, pos: number, keys: string[], dtypeOf: (k: string) => HostDType): { map: Map<string, Uint8Array>; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const map = new Map<string, Uint8Array>();
  for (const key of keys) {
    if (pos + 8 > bytes.byteLength) fail(`truncated: storage '${key}' has no size field`);
    const count = dv.getBigInt64(pos, true);
    const nbytes = count * BigInt(ITEM_SIZE[dtypeOf(key)]);
    if (count < 0n || nbytes > BigInt(bytes.byteLength - pos - 8))
      fail(`truncated: storage '${key}' declares ${count} elements, more than the ${bytes.byteLength - pos - 8} bytes left`);
    map.set(key, bytes.subarray(pos + 8, pos + 8 + Number(nbytes)));
    pos += 8 + Number(nbytes);
  }
  return { map, end: pos };
}

/** Legacy format: magic, protocol, sys_info, the pickle, the storage key list, raw storages. */
async function readLegacyPth(bytes: Uint8Array): Promise<unknown> {
  const plain = (off: number) => unpickle(bytes, { globals: {}, offset: off });
  const magic = plain(0);
  if (magic.value !== LEGACY_MAGIC) fail('pickle stream does not start with the torch.save magic number; not a PyTorch checkpoint');
  const proto = plain(magic.end);
  if (proto.value !== 1001) fail(`legacy protocol version ${String(proto.value)} is not supported (expected 1001)`);
  const sys = plain(proto.end);
  const bigEndian = isDict(sys.value) && sys.value.little_endian === false;
  const storages = new StorageTable('legacy');
  const main = unpickleWith(bytes, storages, sys.end);
  const keysP = plain(main.end);
  if (!Array.isArray(keysP.value) || !keysP.value.every((k) => typeof k === 'string')) fail('storage key list is not a list of strings');
  const keys = keysP.value as string[];
  const { map } = readRawStorages(bytes, keysP.end, keys, (k) => storages.byKey.get(k)?.dtype ?? fail(`storage '${k}' is listed but never used by the pickle`));
  return resolveTensors(main.value, async (key) => map.get(key) ?? fail(`storage '${key}' has no data`), bigEndian);
}

/** Old tar format: members sys_info, pickle, storages (count, then per storage (key, location, type) + raw). */
async function readTarPth(bytes: Uint8Array): Promise<unknown> {
  const files = readTar(bytes);
  const pickle = files.get('pickle');
  const st = files.get('storages');
  if (!pickle || !st)
    fail(`tar archive lacks the 'pickle' and 'storages' members of a torch.save checkpoint (has: ${[...files.keys()].slice(0, 8).join(', ')})`);
  const storages = new StorageTable('tar');
  const g = stateDictGlobals(storages);
  const count = unpickle(st!, { globals: {} });
  if (!isCount(count.value)) fail('storages member does not start with a storage count');
  let pos = count.end;
  const data = new Map<string, Uint8Array>();
  const dv = new DataView(st!.buffer, st!.byteOffset, st!.byteLength);
  for (let i = 0; i < (count.value as number); i++) {
    if (pos >= st!.byteLength) fail(`truncated: storages member ends after ${i} of ${count.value} storages`);
    const head = unpickle(st!, { globals: g, offset: pos });
    if (!Array.isArray(head.value) || head.value.length !== 3) fail('storage header must be (key, location, storage_type)');
    const [key, , type] = head.value as unknown[];
    const dtype = storageDType(type);
    if (head.end + 8 > st!.byteLength) fail(`truncated: storage '${String(key)}' has no size field`);
    const n = dv.getBigInt64(head.end, true);
    const nbytes = n * BigInt(ITEM_SIZE[dtype]);
    if (n < 0n || nbytes > BigInt(st!.byteLength - head.end - 8)) fail(`truncated: storage '${String(key)}' declares ${n} elements, more than the bytes left`);
    storages.byKey.set(String(key), new StorageRef(String(key), dtype, Number(n)));
    data.set(String(key), st!.subarray(head.end + 8, head.end + 8 + Number(nbytes)));
    pos = head.end + 8 + Number(nbytes);
  }
  const { value } = unpickleWith(pickle!, storages);
  return resolveTensors(value, async (key) => data.get(key) ?? fail(`storage '${key}' is missing from the archive`), false);
}

/**
 * Reads a `torch.save` file (zip, legacy or tar format) into a nested JS value with HostTensor leaves.
 * Any global outside the state_dict allow-list is refused before anything is read or built.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { readPth, serializePth, flattenStateDict } from '@webgrad/core/formats';
 * await init();
 * const bytes = await serializePth({ 'fc.weight': tensor([[1, 2]]) }); // or the bytes of a torch.save file
 * const sd = flattenStateDict(await readPth(bytes));
 * for (const [k, v] of Object.entries(sd)) console.log(k, v.dtype, v.shape);
 * ```
 */
export async function readPth(bytes: Uint8Array): Promise<unknown> {
  if (!(bytes instanceof Uint8Array)) fail(`expected the file's bytes as a Uint8Array; got ${Object.prototype.toString.call(bytes)}`);
  try {
    if (isZip(bytes)) return await readZipPth(bytes);
    if (bytes.length > 2 && bytes[0] === 0x80 && bytes[1] <= 5) return await readLegacyPth(bytes);
    if (isTar(bytes)) return await readTarPth(bytes);
  } catch (e) {
    if (e instanceof Error) {
      if (e instanceof PthError || e instanceof UnpicklingError) throw e;
      throw new PthError(`readPth: ${e.message}`, { cause: e });
    }
    throw new PthError(`readPth: ${String(e)}`);
  }
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return fail(
    `not a PyTorch checkpoint (${bytes.length} bytes starting ${head || '(empty)'}): expected a zip archive (torch ≥ 1.6), a legacy pickle stream (0x80 …) or a tar archive`,
  );
}

/**
 * A nested state_dict flattened to dotted keys (`layer1.weight`), keeping only tensor leaves.
 * Arrays contribute their indices as keys.
 */
export function flattenStateDict(obj: unknown): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  // defineProperty: a key such as '__proto__' stays an ordinary entry
  for (const [k, v] of leafEntries<HostTensor>(obj, isHostTensor))
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}
