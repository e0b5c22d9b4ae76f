/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { string: string } }`, then the
 * tensors' bytes, offsets relative to the end of the header. Runtime-neutral (no `node:` imports).
 */
import { Tensor } from '../tensor/tensor';
import { encodeFloat16 } from '../base/dtype';
import { type HostArray, type HostDType, HostTensor, ITEM_SIZE, hostArrayBytes, hostArrayFromBytes, isHostTensor } from './host-tensor';

const FROM_ST: Readonly<Record<string, HostDType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  U32: 'uint32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const TO_ST: Readonly<Record<HostDType, string>> = Object.fromEntries(Object.entries(FROM_ST).map(([k, v]) => [v, k])) as Record<HostDType, string>;

/** Largest header accepted (the reference implementation uses 100 MB too). */
const MAX_HEADER = 100_000_000;

/** Thrown for a malformed safetensors file or a tensor it cannot hold. */
export class SafetensorsError extends Error {
  /** The error's class name. */
  override name = 'SafetensorsError';
}

const fail = (msg: string): never => {
  throw new SafetensorsError(`safetensors: ${msg}`);
};

const isSafeNonNeg = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Parses a whole safetensors file, validating the header against the data.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { parseSafetensors, serializeSafetensors, toTensors } from '@webgrad/core/formats';
 * await init();
 * const bytes = await serializeSafetensors({ 'fc.weight': tensor([[1, 2]]), 'fc.bias': tensor([0.5]) }, { epoch: '3' });
 * const { tensors, metadata } = parseSafetensors(bytes); // HostTensors by name
 * const onGpu = toTensors(tensors);
 * console.log(tensors['fc.weight'].shape, metadata, onGpu['fc.bias'].dtype); // [1, 2] { epoch: '3' } float32
 * ```
 */
export function parseSafetensors(bytes: Uint8Array): { tensors: Record<string, HostTensor>; metadata: Record<string, string> | null } {
  if (!(bytes instanceof Uint8Array)) fail(`expected the file's bytes as a Uint8Array; got ${Object.prototype.toString.call(bytes)}`);
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes; a safetensors file starts with an 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(bytes.byteLength - 8)) fail(`header length ${n64} runs past the end of the file (${bytes.byteLength - 8} bytes after the length field)`);
  const n = Number(n64);
  if (n > MAX_HEADER) fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  if (n < 2) fail(`header length ${n} is too short for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must be a JSON object starting with '{'; got ${JSON.stringify(text.slice(0, 20))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header must be a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  let metadata: Record<string, string> | null = null;
  const entries: { name: string; dtype: HostDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) fail('__metadata__ must be an object of strings');
      metadata = {};
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__[${JSON.stringify(k)}] must be a string; got ${typeof v}`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${where}: entry must be an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(FROM_ST, dtype)) {
      fail(`${where}: dtype ${JSON.stringify(dtype)} is not supported (expected one of ${Object.keys(FROM_ST).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isSafeNonNeg)) fail(`${where}: shape must be an array of non-negative integers; got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isSafeNonNeg))
      fail(`${where}: data_offsets must be [begin, end] non-negative integers; got ${JSON.stringify(offs)}`);
    const [begin, end] = offs as number[];
    if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] has begin after end`);
    if (end > dataLen) fail(`${where}: data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes)`);
    const hd = FROM_ST[dtype as string];
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    const expected = numel * ITEM_SIZE[hd];
    if (expected !== end - begin)
      fail(`${where}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expected} bytes; data_offsets [${begin}, ${end}] hold ${end - begin}`);
    entries.push({ name, dtype: hd, shape: (shape as number[]).slice(), begin, end });
  }
  // The byte ranges must tile the data section exactly: sorted, no gaps, no overlaps.
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) fail(`tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (which ends at ${pos})`);
    if (e.begin > pos) fail(`tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${pos}`);
    pos = e.end;
  }
  if (pos !== dataLen) fail(`tensors cover ${pos} bytes of data but the file holds ${dataLen} (trailing bytes)`);
  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) {
    const data = hostArrayFromBytes(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end));
    Object.defineProperty(tensors, e.name, { value: new HostTensor(e.dtype, e.shape, data), enumerable: true, writable: true, configurable: true });
  }
  return { tensors, metadata };
}

/** Host bytes of a webgrad tensor: F32/I32/U32 as stored, bool as one byte each. */
async function tensorBytes(t: Tensor): Promise<{ dtype: string; bytes: Uint8Array }> {
  const data = await t.data();
  switch (t.dtype) {
    case 'float32':
      return { dtype: 'F32', bytes: hostArrayBytes(data) };
    case 'int32':
      return { dtype: 'I32', bytes: hostArrayBytes(data) };
    case 'uint32':
      return { dtype: 'U32', bytes: hostArrayBytes(data) };
    case 'bool':
      return { dtype: 'BOOL', bytes: Uint8Array.from(data, (v) => (v ? 1 : 0)) };
    case 'float16':
      return { dtype: 'F16', bytes: new Uint8Array(encodeFloat16(data).buffer) };
  }
}

/**
 * Serialises tensors (webgrad Tensors, downloaded from the GPU, or HostTensors of any dtype) and an
 * optional string→string metadata map into safetensors bytes. Tensors are laid out in name order.
 */
export async function serializeSafetensors(
  tensors: Record<string, Tensor | HostTensor | { dtype: HostDType; shape: readonly number[]; data: HostArray }>,
  metadata?: Record<string, string> | null,
): Promise<Uint8Array> {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw new TypeError(`serializeSafetensors: metadata[${JSON.stringify(k)}] must be a string; got ${typeof v}`);
    header.__metadata__ = { ...metadata };
  }
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error(`serializeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    const t = tensors[name];
    let dtype: string;
    let bytes: Uint8Array;
    let shape: readonly number[];
    if (t instanceof Tensor) {
      ({ dtype, bytes } = await tensorBytes(t));
      shape = t.shape;
    } else if (isHostTensor(t)) {
      dtype = TO_ST[t.dtype];
      shape = t.shape;
      const numel = shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== numel)
        throw new Error(`serializeSafetensors: ${JSON.stringify(name)} has ${t.data.length} elements; shape [${shape.join(', ')}] needs ${numel}`);
      bytes = t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0)) : hostArrayBytes(t.data);
    } else {
      throw new TypeError(
        `serializeSafetensors: ${JSON.stringify(name)} must be a Tensor or a HostTensor { dtype, shape, data }; got ${Object.prototype.toString.call(t)}`,
      );
    }
    header[name] = { dtype, shape: shape.slice(), data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}
