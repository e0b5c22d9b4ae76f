/**
 * PyTorch checkpoint writer: the zip format `torch.save` writes (torch ≥ 1.6), so `torch.load` reads a
 * webgrad state_dict directly. `<archive>/data.pkl` is a protocol-2 pickle of an OrderedDict whose
 * values are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`
 * with storages as persistent ids `('storage', torch.<T>Storage, key, 'cpu', numel)`; each storage's
 * raw little-endian bytes are `<archive>/data/<key>`, stored uncompressed (with CRC-32) and aligned to
 * 64 bytes as torch does; `<archive>/version` says 3. Tensors sharing one storage (views at other
 * offsets or strides, `PthView`) are written once. Runtime-neutral: no `node:` imports.
 */
import { flatten } from '../tensor/tree';
import { Tensor } from '../tensor/tensor';
import { type HostArray, type HostDType, hostArrayBytes, isHostTensor } from './host-tensor';

/** Thrown by {@link serializePth} for a value it cannot write as a torch.save file. */
export class PthWriteError extends Error {
  /** The error's class name. */
  override name = 'PthWriteError';
}
const fail = (msg: string): never => {
  throw new PthWriteError(`serializePth: ${msg}`);
};

/**
 * A strided view of a storage, as torch keeps tensors that share memory (e.g. slices of one buffer,
 * or channels_last weights): element `i` of the view is `storage.data[offset + Σ index·stride]`.
 * Views with the same `storage.data` array share one storage in the file.
 */
export interface PthView {
  /** The shared storage: its dtype and all its elements. */
  storage: { dtype: HostDType; data: HostArray };
  /** Index of the view's first element in the storage. */
  offset: number;
  /** Size of each dimension. */
  shape: readonly number[];
  /** Storage elements between neighbours along each dimension. */
  stride: readonly number[];
}

export const isPthView = (x: unknown): x is PthView => typeof x === 'object' && x !== null && 'storage' in x && 'stride' in x && 'shape' in x && 'offset' in x;

/** Options of {@link serializePth}: the archive folder name and which integer tensors are int64. */
export interface SerializePthOptions {
  /** Folder of the archive's entries (torch uses the file name's stem); default 'archive'. */
  archiveName?: string;
  /**
   * Integer tensors saved as int64 (torch.long) rather than int32. Default: keys ending in
   * `num_batches_tracked` (a LongTensor in torch's BatchNorm).
   */
  int64?: (key: string) => boolean;
}

const STORAGE_CLASS: Partial<Record<HostDType, string>> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

// ---- a protocol-2 pickle writer (only what a state_dict needs) -------------------------------------

class Pickler {
  private out: number[] = [];
  private memo = new Map<string, number>();
  private enc = new TextEncoder();

  op(...bytes: number[]) {
    for (const b of bytes) this.out.push(b);
  }
  private u32(v: number) {
    this.op(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  int(v: number) {
    if (!Number.isSafeInteger(v)) fail(`integer ${v} is not a safe integer`);
    if (v >= 0 && v < 0x100)
      this.op(0x4b, v); // BININT1
    else if (v >= 0 && v < 0x10000)
      this.op(0x4d, v & 0xff, v >>> 8); // BININT2
    else if (v >= -(2 ** 31) && v < 2 ** 31) {
      this.op(0x4a);
      this.u32(v | 0);
    } // BININT
    else {
      // LONG1: little-endian two's complement
      let b = BigInt(v);
      const bytes: number[] = [];
      for (;;) {
        bytes.push(Number(b & 0xffn));
        b >>= 8n;
        if ((b === 0n && !(bytes[bytes.length - 1] & 0x80)) || (b === -1n && bytes[bytes.length - 1] & 0x80)) break;
      }
      this.op(0x8a, bytes.length, ...bytes);
    }
  }

  str(s: string) {
    const b = this.enc.encode(s);
    this.op(0x58);
    this.u32(b.length);
    for (const x of b) this.out.push(x);
  } // BINUNICODE

  /** GLOBAL, memoised (BINPUT once, BINGET after). */
  global(module: string, name: string) {
    const q = `${module}\n${name}\n`;
    const m = this.memo.get(q);
    if (m !== undefined) {
      if (m < 256) this.op(0x68, m);
      else {
        this.op(0x6a);
        this.u32(m);
      }
      return;
    }
    this.op(0x63, ...this.enc.encode(q));
    const i = this.memo.size;
    this.memo.set(q, i);
    if (i < 256) this.op(0x71, i);
    else {
      this.op(0x72);
      this.u32(i);
    }
  }

  intTuple(xs: readonly number[]) {
    if (xs.length === 0) return this.op(0x29); // EMPTY_TUPLE
    if (xs.length > 3) this.op(0x28); // MARK
    for (const x of xs) this.int(x);
    this.op(xs.length === 1 ? 0x85 : xs.length === 2 ? 0x86 : xs.length === 3 ? 0x87 : 0x74); // TUPLE1/2/3, TUPLE
  }

  bytes() {
    return Uint8Array.from(this.out);
  }
}

// ---- a stored-entry zip writer ----------------------------------------------------------------------

let CRC_TABLE: Uint32Array | undefined;
/** CRC-32 (IEEE 802.3, reflected, as zip and torch's reader check). */
export function crc32(data: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  const t = CRC_TABLE;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const ALIGN = 64;

/** A zip of stored entries, each entry's data aligned to 64 bytes by an 'FB' padding extra field (as torch). */
function storedZip(entries: { name: string; data: Uint8Array }[]): Uint8Array {
  const enc = new TextEncoder();
  const heads: { name: Uint8Array; crc: number; offset: number; pad: number; data: Uint8Array }[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const pad = (ALIGN - ((offset + 30 + name.length + 4) % ALIGN)) % ALIGN;
    heads.push({ name, crc: crc32(e.data), offset, pad, data: e.data });
    offset += 30 + name.length + 4 + pad + e.data.length;
  }
  const cdStart = offset;
  const cdSize = heads.reduce((n, h) => n + 46 + h.name.length, 0);
  const total = cdStart + cdSize + 22;
  if (total > 0xffffffff || heads.length > 0xffff)
    fail(`the archive would be ${total} bytes in ${heads.length} entries; savePth writes archives under 4 GiB (no zip64)`);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  for (const h of heads) {
    let p = h.offset;
    dv.setUint32(p, 0x04034b50, true);
    dv.setUint16(p + 4, 20, true);
    dv.setUint16(p + 6, 0, true);
    dv.setUint16(p + 8, 0, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, DOS_DATE, true);
    dv.setUint32(p + 14, h.crc, true);
    dv.setUint32(p + 18, h.data.length, true);
    dv.setUint32(p + 22, h.data.length, true);
    dv.setUint16(p + 26, h.name.length, true);
    dv.setUint16(p + 28, 4 + h.pad, true);
    out.set(h.name, p + 30);
    p += 30 + h.name.length;
    dv.setUint16(p, 0x4246, true);
    dv.setUint16(p + 2, h.pad, true); // 'FB' padding field
    out.fill(0x5a, p + 4, p + 4 + h.pad);
    out.set(h.data, p + 4 + h.pad);
  }
  let p = cdStart;
  for (const h of heads) {
    dv.setUint32(p, 0x02014b50, true);
    dv.setUint16(p + 4, 20, true);
    dv.setUint16(p + 6, 20, true);
    dv.setUint16(p + 8, 0, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, 0, true);
    dv.setUint16(p + 14, DOS_DATE, true);
    dv.setUint32(p + 16, h.crc, true);
    dv.setUint32(p + 20, h.data.length, true);
    dv.setUint32(p + 24, h.data.length, true);
    dv.setUint16(p + 28, h.name.length, true);
    dv.setUint16(p + 30, 0, true);
    dv.setUint16(p + 32, 0, true);
    dv.setUint16(p + 34, 0, true);
    dv.setUint16(p + 36, 0, true);
    dv.setUint32(p + 38, 0, true);
    dv.setUint32(p + 42, h.offset, true);
    out.set(h.name, p + 46);
    p += 46 + h.name.length;
  }
  dv.setUint32(p, 0x06054b50, true);
  dv.setUint16(p + 8, heads.length, true);
  dv.setUint16(p + 10, heads.length, true);
  dv.setUint32(p + 12, cdSize, true);
  dv.setUint32(p + 16, cdStart, true);
  return out;
}

// ---- state_dict → archive ---------------------------------------------------------------------------

interface Storage {
  key: string;
  dtype: HostDType;
  data: HostArray;
}

/** The host array and dtype a webgrad tensor is saved as (int32 → int64 when asked; bool as bytes). */
async function tensorHost(t: Tensor, long: boolean): Promise<{ dtype: HostDType; data: HostArray }> {
  const d = await t.data();
  if (t.dtype === 'float32') return { dtype: 'float32', data: d as Float32Array };
  if (t.dtype === 'bool') return { dtype: 'bool', data: Uint8Array.from(d, (v) => (v ? 1 : 0)) };
  if (long) return { dtype: 'int64', data: BigInt64Array.from(d as ArrayLike<number>, (v) => BigInt(v)) };
  if (t.dtype === 'int32') return { dtype: 'int32', data: d as Int32Array };
  // uint32: torch's only integer storages are signed (and uint8); int64 holds every uint32
  return { dtype: 'int64', data: BigInt64Array.from(d as ArrayLike<number>, (v) => BigInt(v)) };
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Serialises a flat state_dict (dotted keys → Tensors, HostTensors or PthViews, in the order given)
 * to `torch.save`'s zip format. Tensors are downloaded from the GPU. `torch.load(f)` returns an
 * OrderedDict of CPU tensors with the same keys, dtypes, shapes and strides.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { serializePth, readPth, flattenStateDict } from '@webgrad/core/formats';
 * await init();
 * const bytes = await serializePth({ 'fc.weight': tensor([[1, 2], [3, 4]]), 'fc.bias': tensor([0, 1]) });
 * console.log(Object.keys(flattenStateDict(await readPth(bytes)))); // ['fc.weight', 'fc.bias']
 * ```
 */
export async function serializePth(
  stateDict: Record<string, Tensor | { dtype: HostDType; shape: readonly number[]; data: HostArray } | PthView>,
  options: SerializePthOptions = {},
): Promise<Uint8Array> {
  const archive = options.archiveName ?? 'archive';
  if (!/^[A-Za-z0-9_.-]+$/.test(archive)) fail(`archiveName must be a plain folder name; got ${JSON.stringify(archive)}`);
  const long = options.int64 ?? ((k: string) => k.endsWith('num_batches_tracked'));
  const storages = new Map<HostArray, Storage>();
  const storageOf = (key: string, dtype: HostDType, data: HostArray): Storage => {
    if (!STORAGE_CLASS[dtype]) fail(`'${key}' has dtype ${dtype}, which torch cannot store; cast it to int64 or float32 first`);
    const s = storages.get(data);
    if (s) {
      if (s.dtype !== dtype) fail(`'${key}' reads a storage as ${dtype} that another tensor reads as ${s.dtype}`);
      return s;
    }
    const made = { key: String(storages.size), dtype, data };
    storages.set(data, made);
    return made;
  };
  const downloaded = new Map<string, Map<Tensor, { dtype: HostDType; data: HostArray }>>();
  const p = new Pickler();
  p.op(0x80, 2); // PROTO 2
  p.global('collections', 'OrderedDict');
  p.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE → OrderedDict()
  const keys = Object.keys(stateDict);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const v = stateDict[key];
    let storage: Storage,
      offset = 0,
      shape: readonly number[],
      stride: readonly number[];
    if (v instanceof Tensor) {
      // a tensor under two keys (tied weights) is one storage, as in torch
      const kind = long(key) ? 'long' : 'own';
      if (!downloaded.has(kind)) downloaded.set(kind, new Map());
      const cache = downloaded.get(kind)!;
      const h = cache.get(v) ?? (await tensorHost(v, kind === 'long'));
      cache.set(v, h);
      storage = storageOf(key, h.dtype, h.data);
      shape = v.shape;
      stride = contiguousStride(shape);
    } else if (isPthView(v)) {
      const { storage: st } = v;
      if (!st || typeof st.dtype !== 'string' || !ArrayBuffer.isView(st.data)) fail(`'${key}'.storage must be { dtype, data }`);
      if (!isCount(v.offset)) fail(`'${key}' offset must be a non-negative integer; got ${v.offset}`);
      if (!Array.isArray(v.shape) || !v.shape.every(isCount) || !Array.isArray(v.stride) || !v.stride.every(isCount) || v.shape.length !== v.stride.length) {
        fail(`'${key}' shape [${v.shape}] and stride [${v.stride}] must be equal-length lists of non-negative integers`);
      }
      storage = storageOf(key, st.dtype, st.data);
      offset = v.offset;
      shape = v.shape;
      stride = v.stride;
      const numel = shape.reduce((a, b) => a * b, 1);
      const last = offset + shape.reduce((a, d, j) => a + (d - 1) * stride[j], 0);
      if (numel > 0 && last >= st.data.length)
        fail(
          `'${key}' of size [${shape.join(', ')}], stride [${stride.join(', ')}] at offset ${offset} reads element ${last} of a storage of ${st.data.length}`,
        );
    } else if (isHostTensor(v)) {
      let { dtype, data } = v;
      if (long(key) && (dtype === 'int32' || dtype === 'uint32' || dtype === 'int16' || dtype === 'int8' || dtype === 'uint8')) {
        dtype = 'int64';
        data = BigInt64Array.from(data as ArrayLike<number>, (x) => BigInt(x));
      } else if (dtype === 'uint32') fail(`'${key}' is uint32, which torch cannot store; cast it to int64`);
      const numel = v.shape.reduce((a, b) => a * b, 1);
      if (data.length !== numel) fail(`'${key}' has ${data.length} elements; shape [${v.shape.join(', ')}] needs ${numel}`);
      storage = storageOf(key, dtype, data);
      shape = v.shape;
      stride = contiguousStride(shape);
    } else {
      return fail(`'${key}' must be a Tensor, a HostTensor { dtype, shape, data } or a PthView; got ${Object.prototype.toString.call(v)}`);
    }
    if (i % 1000 === 0) p.op(0x28); // MARK (SETITEMS in batches of 1000, as pickle does)
    p.str(key);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.op(0x28); // MARK: the argument tuple
    p.op(0x28);
    p.str('storage');
    p.global('torch', STORAGE_CLASS[storage.dtype]!);
    p.str(storage.key);
    p.str('cpu');
    p.int(storage.data.length);
    p.op(0x74, 0x51); // TUPLE, BINPERSID
    p.int(offset);
    p.intTuple(shape);
    p.intTuple(stride);
    p.op(0x89); // False: requires_grad
    p.global('collections', 'OrderedDict');
    p.op(0x29, 0x52); // OrderedDict(): backward hooks
    p.op(0x74, 0x52); // TUPLE, REDUCE
    if (i % 1000 === 999 || i === keys.length - 1) p.op(0x75); // SETITEMS
  }
  p.op(0x2e); // STOP
  const enc = new TextEncoder();
  const entries = [
    { name: `${archive}/data.pkl`, data: p.bytes() },
    { name: `${archive}/.format_version`, data: enc.encode('1') },
    { name: `${archive}/.storage_alignment`, data: enc.encode(String(ALIGN)) },
    { name: `${archive}/byteorder`, data: enc.encode('little') },
    ...[...storages.values()].map((s) => ({
      name: `${archive}/data/${s.key}`,
      data: s.dtype === 'bool' ? Uint8Array.from(s.data as Uint8Array, (x) => (x ? 1 : 0)) : hostArrayBytes(s.data),
    })),
    { name: `${archive}/version`, data: enc.encode('3\n') },
  ];
  return storedZip(entries);
}

/**
 * One flat state_dict from a model's parameter tree and its state tree (BatchNorm statistics), in
 * PyTorch's order: per module, its parameters, then its buffers (`bn1.weight`, `bn1.bias`,
 * `bn1.running_mean`, …). Leaves are kept as they are (Tensors or HostTensors); no copy is made.
 */
export function stateDict(params: unknown, state?: unknown): Record<string, unknown> {
  const isLeaf = (x: unknown) => x instanceof Tensor || isHostTensor(x) || isPthView(x);
  const leaves = (t: unknown) => (t === undefined ? [] : flatten(t, { isLeaf }).filter((l) => isLeaf(l.value)));
  const entries = [...leaves(params), ...leaves(state)];
  // A module's parameters come before its buffers, and modules in the order they first appear:
  // rank each path prefix by its first appearance (params first), then sort paths by their ranks.
  const rank = new Map<string, number>();
  for (const { path } of entries) {
    const parts = path.split('.');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('.');
      if (!rank.has(prefix)) rank.set(prefix, rank.size);
    }
  }
  const key = (path: string) => path.split('.').map((_, i, parts) => rank.get(parts.slice(0, i + 1).join('.'))!);
  const keyed = entries.map((e) => ({ ...e, key: key(e.path) }));
  keyed.sort((x, y) => {
    for (let i = 0; i < Math.min(x.key.length, y.key.length); i++) if (x.key[i] !== y.key[i]) return x.key[i] - y.key[i];
    return x.key.length - y.key.length;
  });
  const out: Record<string, unknown> = {};
  for (const { path, value } of keyed) {
    if (Object.hasOwn(out, path)) throw new Error(`stateDict: params and state both hold '${path}'`);
    Object.defineProperty(out, path, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function contiguousStride(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
    s[i] = acc;
    acc *= Math.max(shape[i], 1);
  }
  return s;
}
