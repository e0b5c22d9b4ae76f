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

/** Lists the entries of a zip archive from its central directory. */
export function readZipDirectory(bytes: Uint8Array): Map<string, ZipEntry> {
  const n = bytes.byteLength;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  // End of central directory: 22 bytes plus a comment of at most 65535 bytes.
  let eocd = -1;
  for (let i = n - 22; i >= Math.max(0, n - 22 - 0xffff); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('end of central directory not found (the archive is truncated or not a zip file)');
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) fail('zip64 end of central directory locator not found');
    const rec = Number(dv.getBigUint64(loc + 8, true));
    if (rec + 56 > n || dv.getUint32(rec, true) !== 0x06064b50) fail('zip64 end of central directory record is out of bounds or corrupt');
    count = Number(dv.getBigUint64(rec + 32, true));
    cdSize = Number(dv.getBigUint64(rec + 40, true));
    cdOffset = Number(dv.getBigUint64(rec + 48, true));
  }
  if (cdOffset + cdSize > n) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end of the archive (${n} bytes)`);
  if (count * 46 > cdSize) fail(`central directory of ${cdSize} bytes cannot hold ${count} entries`);
  const entries = new Map<string, ZipEntry>();
  const dec = new TextDecoder('utf-8', { fatal: false });
  let p = cdOffset;
  const end = cdOffset + cdSize;
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
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
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
    entries.set(name, { name, method, compressedSize, size, headerOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
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
