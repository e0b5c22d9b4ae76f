/**
 * A minimal zip reader (what `torch.save` writes): the central directory, zip64 sizes, stored entries,
 * and deflate through `DecompressionStream('deflate-raw')` (Node ≥ 20, Deno, browsers). No `node:` imports.
 */

export class ZipError extends Error {
  override name = 'ZipError';
}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  headerOffset: number;
}

const fail = (msg: string): never => {
  throw new ZipError(`zip: ${msg}`);
};

export const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5) && (b[3] === 4 || b[3] === 6);

/**
 * Random access to a file's bytes (a file handle, an HTTP range reader, or bytes in memory): `read`
 * resolves to exactly `length` bytes starting at `offset` (a short read is the caller's error to report).
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** The bytes [offset, offset + length); a fresh array or a view the caller may keep. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A {@link ByteSource} over bytes already in memory (reads are views, not copies). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => {
      if (!(offset >= 0 && length >= 0 && offset + length <= bytes.byteLength))
        fail(`read of ${length} bytes at ${offset} runs past the end (${bytes.byteLength} bytes)`);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** Reads exactly `length` bytes, failing on a short or out-of-range read with `what` in the message. */
export async function readExactly(source: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size)
    fail(`${what} (${length} bytes at ${offset}) runs past the end of the archive (${source.size} bytes)`);
  const b = await source.read(offset, length);
  if (!(b instanceof Uint8Array) || b.byteLength !== length)
    fail(`${what}: read ${b?.byteLength ?? 0} of ${length} bytes at ${offset} (the file is truncated or changed)`);
  return b;
}

// End of central directory (22 bytes + a comment of at most 65535), preceded by the 20-byte zip64 locator.
const EOCD_SEARCH = 22 + 0xffff + 20;
/** Central directories larger than this are refused (a million entries; torch checkpoints have a few thousand). */
const MAX_DIRECTORY_BYTES = 256 * 2 ** 20;

interface DirectoryLocation {
  count: number;
  cdSize: number;
  cdOffset: number;
}

/** Finds the end-of-central-directory record in `tail` (the last bytes of an archive of `n` bytes). */
function parseEocd(tail: Uint8Array, n: number): DirectoryLocation & { zip64At?: number } {
  const dv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const base = n - tail.byteLength; // file offset of tail[0]
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= Math.max(0, tail.byteLength - 22 - 0xffff); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('end of central directory not found (the archive is truncated or not a zip file)');
  const count = dv.getUint16(eocd + 10, true);
  const cdSize = dv.getUint32(eocd + 12, true);
  const cdOffset = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) fail('zip64 end of central directory locator not found');
    const rec = Number(dv.getBigUint64(loc + 8, true));
    if (rec + 56 > base + loc) fail('zip64 end of central directory record is out of bounds or corrupt');
    return { count, cdSize, cdOffset, zip64At: rec };
  }
  return { count, cdSize, cdOffset };
}

/** The zip64 end-of-central-directory record (56 bytes at its offset). */
function parseZip64Record(rec: Uint8Array): DirectoryLocation {
  const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  if (dv.getUint32(0, true) !== 0x06064b50) fail('zip64 end of central directory record is out of bounds or corrupt');
  return { count: Number(dv.getBigUint64(32, true)), cdSize: Number(dv.getBigUint64(40, true)), cdOffset: Number(dv.getBigUint64(48, true)) };
}

function checkLocation({ count, cdSize, cdOffset }: DirectoryLocation, n: number): void {
  if (cdOffset + cdSize > n) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end of the archive (${n} bytes)`);
  if (count * 46 > cdSize) fail(`central directory of ${cdSize} bytes cannot hold ${count} entries`);
}

/** Parses `count` central-directory headers from `cd`; entries must lie inside an archive of `n` bytes. */
function parseCentralDirectory(cd: Uint8Array, count: number, n: number): Map<string, ZipEntry> {
  const dv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  const dec = new TextDecoder('utf-8', { fatal: false });
  let p = 0;
  const end = cd.byteLength;
  for (let i = 0; i < count; i++) {
    if (p + 46 > end || dv.getUint32(p, true) !== 0x02014b50) fail(`central directory entry ${i} is corrupt`);
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let headerOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > end) fail(`central directory entry ${i} runs past the directory`);
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 64-bit values present are those whose 32-bit fields are 0xffffffff
    let q = p + 46 + nameLen;
    const qEnd = q + extraLen;
    while (q + 4 <= qEnd) {
      const id = dv.getUint16(q, true);
      const len = dv.getUint16(q + 2, true);
      if (q + 4 + len > qEnd) fail(`extra field of entry '${name}' is corrupt`);
      if (id === 0x0001) {
        let r = q + 4;
        const next = () => {
          if (r + 8 > q + 4 + len) fail(`zip64 extra field of entry '${name}' is too short`);
          const v = Number(dv.getBigUint64(r, true));
          r += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (headerOffset === 0xffffffff) headerOffset = next();
      }
      q += 4 + len;
    }
    if (headerOffset + 30 > n || compressedSize > n) fail(`entry '${name}' (${compressedSize} bytes at ${headerOffset}) lies outside the archive (${n} bytes)`);
    entries.set(name, { name, method, compressedSize, size, headerOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Lists the entries of a zip archive from its central directory. */
export function readZipDirectory(bytes: Uint8Array): Map<string, ZipEntry> {
  const n = bytes.byteLength;
  if (n < 22) fail('end of central directory not found (the archive is truncated or not a zip file)');
  let loc: DirectoryLocation & { zip64At?: number } = parseEocd(bytes, n);
  if (loc.zip64At !== undefined) loc = parseZip64Record(bytes.subarray(loc.zip64At, loc.zip64At + 56));
  checkLocation(loc, n);
  return parseCentralDirectory(bytes.subarray(loc.cdOffset, loc.cdOffset + loc.cdSize), loc.count, n);
}

/**
 * Lists the entries of a zip archive read through `source`: the tail (at most 64 KiB), the zip64 record
 * if any, and the central directory; nothing else.
 */
export async function readZipDirectoryFrom(source: ByteSource): Promise<Map<string, ZipEntry>> {
  const n = source.size;
  if (!Number.isSafeInteger(n) || n < 22) fail(`end of central directory not found (the archive has ${n} bytes)`);
  const tailLen = Math.min(n, EOCD_SEARCH);
  let loc: DirectoryLocation & { zip64At?: number } = parseEocd(await readExactly(source, n - tailLen, tailLen, 'end of central directory'), n);
  if (loc.zip64At !== undefined) loc = parseZip64Record(await readExactly(source, loc.zip64At, 56, 'zip64 end of central directory record'));
  checkLocation(loc, n);
  if (loc.cdSize > MAX_DIRECTORY_BYTES) fail(`central directory of ${loc.cdSize} bytes is larger than the ${MAX_DIRECTORY_BYTES} bytes allowed`);
  return parseCentralDirectory(await readExactly(source, loc.cdOffset, loc.cdSize, 'central directory'), loc.count, n);
}

/**
 * Where an entry's (still compressed) data starts, from its local header (whose name and extra field
 * lengths may differ from the central directory's), checked to lie inside the archive.
 */
export async function zipEntryDataOffset(source: ByteSource, e: ZipEntry): Promise<number> {
  const h = await readExactly(source, e.headerOffset, 30, `local header of '${e.name}'`);
  const dv = new DataView(h.buffer, h.byteOffset, 30);
  if (dv.getUint32(0, true) !== 0x04034b50) fail(`local header of '${e.name}' is missing or corrupt`);
  const start = e.headerOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
  if (start + e.compressedSize > source.size) fail(`data of '${e.name}' (${e.compressedSize} bytes at ${start}) runs past the end of the archive`);
  return start;
}

/**
 * An entry's uncompressed bytes read through `source`. Deflated entries are inflated whole, refused when
 * they declare more than `maxBytes` (default 1 GiB); stored entries are one read of their data.
 */
export async function readZipEntryFrom(source: ByteSource, e: ZipEntry, maxBytes = 2 ** 30): Promise<Uint8Array> {
  if (e.size > maxBytes) fail(`entry '${e.name}' declares ${e.size} bytes, more than the ${maxBytes} allowed`);
  if (e.method !== 0 && e.method !== 8) fail(`entry '${e.name}' uses compression method ${e.method}; only stored (0) and deflate (8) are supported`);
  if (e.method === 0 && e.size !== e.compressedSize) fail(`stored entry '${e.name}' declares ${e.size} bytes but holds ${e.compressedSize}`);
  const start = await zipEntryDataOffset(source, e);
  const raw = await readExactly(source, start, e.compressedSize, `data of '${e.name}'`);
  return e.method === 0 ? raw : inflateRaw(raw, e.size, e.name);
}

/** The (still compressed) bytes of an entry, located through its local header. */
function rawData(bytes: Uint8Array, e: ZipEntry): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = e.headerOffset;
  if (h + 30 > bytes.byteLength || dv.getUint32(h, true) !== 0x04034b50) fail(`local header of '${e.name}' is missing or corrupt`);
  const start = h + 30 + dv.getUint16(h + 26, true) + dv.getUint16(h + 28, true);
  if (start + e.compressedSize > bytes.byteLength) fail(`data of '${e.name}' (${e.compressedSize} bytes at ${start}) runs past the end of the archive`);
  return bytes.subarray(start, start + e.compressedSize);
}

/** Inflates raw deflate data, refusing output larger than `expected` bytes. */
async function inflateRaw(data: Uint8Array, expected: number, name: string): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') fail(`'${name}' is deflate-compressed and this runtime has no DecompressionStream`);
  const ds = new DecompressionStream('deflate-raw');
  const writer = ds.writable.getWriter();
  // Errors surface through the reader; keep the writer's promises from being reported as unhandled.
  writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = ds.readable.getReader();
  // collect chunks: the declared size is not trusted for allocation
  const chunks: Uint8Array[] = [];
  let len = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (len + value.byteLength > expected) {
        reader.cancel().catch(() => {});
        fail(`'${name}' inflates to more than its declared ${expected} bytes`);
      }
      chunks.push(value);
      len += value.byteLength;
    }
  } catch (e) {
    if (e instanceof ZipError) throw e;
    fail(`'${name}' could not be inflated: ${(e as Error)?.message ?? String(e)}`);
  }
  if (len !== expected) fail(`'${name}' inflates to ${len} bytes; the directory declares ${expected}`);
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(len);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/** An entry's uncompressed bytes (stored entries are views into `bytes`, not copies). */
export async function readZipEntry(bytes: Uint8Array, e: ZipEntry): Promise<Uint8Array> {
  const raw = rawData(bytes, e);
  if (e.method === 0) {
    if (e.size !== e.compressedSize) fail(`stored entry '${e.name}' declares ${e.size} bytes but holds ${e.compressedSize}`);
    return raw;
  }
  if (e.method === 8) return inflateRaw(raw, e.size, e.name);
  return fail(`entry '${e.name}' uses compression method ${e.method}; only stored (0) and deflate (8) are supported`);
}
