/** Builders for checkpoint tests: hand-written pickles and zip archives. */
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/pytorch/', import.meta.url));

const enc = new TextEncoder();
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const u16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];

/** Pickle opcodes as byte arrays, to assemble streams by hand. */
export const op = {
  proto: (p = 2) => [0x80, p],
  global: (mod: string, name: string) => [0x63, ...enc.encode(`${mod}\n${name}\n`)],
  str: (s: string) => {
    const b = enc.encode(s);
    return [0x58, ...u32(b.length), ...b];
  },
  int: (v: number) => (v >= 0 && v < 256 ? [0x4b, v] : [0x4a, ...u32(v)]),
  mark: [0x28],
  tuple: [0x74],
  tuple1: [0x85],
  emptyDict: [0x7d],
  emptyTuple: [0x29],
  setitem: [0x73],
  reduce: [0x52],
  binpersid: [0x51],
  stop: [0x2e],
  false: [0x89],
  none: [0x4e],
  stackGlobal: [0x93],
  newobj: [0x81],
  binput: (i: number) => [0x71, i],
  binget: (i: number) => [0x68, i],
};

export const pickle = (...parts: (number[] | number)[]) => Uint8Array.from(parts.flat());

/** `_rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`. */
export function tensorOps(type: string, key: string, numel: number, offset: number, size: number[], stride: number[]): number[] {
  return [
    ...op.global('torch._utils', '_rebuild_tensor_v2'),
    ...op.mark,
    ...op.mark,
    ...op.str('storage'),
    ...op.global('torch', type),
    ...op.str(key),
    ...op.str('cpu'),
    ...op.int(numel),
    ...op.tuple,
    ...op.binpersid,
    ...op.int(offset),
    ...op.mark,
    ...size.flatMap(op.int),
    ...op.tuple,
    ...op.mark,
    ...stride.flatMap(op.int),
    ...op.tuple,
    ...op.false,
    ...op.global('collections', 'OrderedDict'),
    ...op.emptyTuple,
    ...op.reduce,
    ...op.tuple,
    ...op.reduce,
  ];
}

/** A zip archive of the given entries (stored, or deflated with `deflate: true`). */
export function makeZip(entries: { name: string; data: Uint8Array; deflate?: boolean }[], opts: { zip64?: boolean } = {}): Uint8Array {
  const u64 = (v: number) => [...u32(v % 2 ** 32), ...u32(Math.floor(v / 2 ** 32))];
  const z = opts.zip64;
  const parts: Uint8Array[] = [];
  const central: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const body = e.deflate ? new Uint8Array(zlib.deflateRawSync(e.data)) : e.data;
    const crc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32?.(e.data) ?? 0;
    const method = e.deflate ? 8 : 0;
    const head = Uint8Array.from([
      ...u32(0x04034b50),
      ...u16(20),
      ...u16(0),
      ...u16(method),
      ...u16(0),
      ...u16(0),
      ...u32(crc),
      ...u32(body.length),
      ...u32(e.data.length),
      ...u16(name.length),
      ...u16(0),
      ...name,
    ]);
    // zip64: the 32-bit fields say 0xffffffff and an extra field (id 1) holds size, compressed size, offset
    const extra = z ? [...u16(1), ...u16(24), ...u64(e.data.length), ...u64(body.length), ...u64(offset)] : [];
    const big = (v: number) => (z ? 0xffffffff : v);
    central.push(
      ...u32(0x02014b50),
      ...u16(45),
      ...u16(45),
      ...u16(0),
      ...u16(method),
      ...u16(0),
      ...u16(0),
      ...u32(crc),
      ...u32(big(body.length)),
      ...u32(big(e.data.length)),
      ...u16(name.length),
      ...u16(extra.length),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      ...u32(0),
      ...u32(big(offset)),
      ...name,
      ...extra,
    );
    parts.push(head, body);
    offset += head.length + body.length;
  }
  parts.push(Uint8Array.from(central));
  if (z) {
    const rec = offset + central.length;
    parts.push(
      Uint8Array.from([
        ...u32(0x06064b50),
        ...u64(44),
        ...u16(45),
        ...u16(45),
        ...u32(0),
        ...u32(0),
        ...u64(entries.length),
        ...u64(entries.length),
        ...u64(central.length),
        ...u64(offset),
        ...u32(0x07064b50),
        ...u32(0),
        ...u64(rec),
        ...u32(1),
      ]),
    );
  }
  const n16 = z ? 0xffff : entries.length;
  parts.push(
    Uint8Array.from([
      ...u32(0x06054b50),
      ...u16(0),
      ...u16(0),
      ...u16(n16),
      ...u16(n16),
      ...u32(z ? 0xffffffff : central.length),
      ...u32(z ? 0xffffffff : offset),
      ...u16(0),
    ]),
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A torch-style zip checkpoint: `archive/data.pkl`, `archive/byteorder`, `archive/data/<key>`. */
export function makePtZip(
  pkl: Uint8Array,
  storages: Record<string, Uint8Array>,
  opts: { deflate?: boolean; byteorder?: string; zip64?: boolean } = {},
): Uint8Array {
  return makeZip(
    [
      { name: 'archive/data.pkl', data: pkl, deflate: opts.deflate },
      { name: 'archive/byteorder', data: enc.encode(opts.byteorder ?? 'little') },
      ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data, deflate: opts.deflate })),
    ],
    { zip64: opts.zip64 },
  );
}

export const f32bytes = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
