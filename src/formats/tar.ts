/** A minimal tar reader (ustar and old-style headers): file names and their bytes. No `node:` imports. */

export class TarError extends Error {
  override name = 'TarError';
}

/** True when the bytes look like a tar archive (ustar magic, or a valid header checksum). */
export function isTar(b: Uint8Array): boolean {
  if (b.length < 512) return false;
  if (String.fromCharCode(...b.subarray(257, 262)) === 'ustar') return true;
  return checksumOk(b, 0);
}

function octal(b: Uint8Array, start: number, len: number): number {
  let v = 0;
  let seen = false;
  for (let i = start; i < start + len; i++) {
    const c = b[i];
    if (c === 0 || c === 0x20) {
      if (seen) break;
      continue;
    }
    if (c < 0x30 || c > 0x37) return NaN;
    v = v * 8 + (c - 0x30);
    seen = true;
  }
  return seen ? v : NaN;
}

function checksumOk(b: Uint8Array, h: number): boolean {
  const want = octal(b, h + 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[h + i];
  return sum === want;
}

const cstr = (b: Uint8Array, start: number, len: number) => {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return new TextDecoder('utf-8').decode(b.subarray(start, end));
};

/** Regular files of a tar archive by name (views into `bytes`). */
export function readTar(bytes: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let p = 0;
  while (p + 512 <= bytes.length) {
    if (bytes.subarray(p, p + 512).every((x) => x === 0)) break; // end-of-archive block
    if (!checksumOk(bytes, p)) throw new TarError(`tar: header at byte ${p} has a bad checksum`);
    let name = cstr(bytes, p, 100);
    if (cstr(bytes, p + 257, 6) === 'ustar') {
      const prefix = cstr(bytes, p + 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const size = octal(bytes, p + 124, 12);
    if (!Number.isFinite(size)) throw new TarError(`tar: entry '${name}' has an invalid size field`);
    const type = bytes[p + 156];
    const start = p + 512;
    if (start + size > bytes.length) throw new TarError(`tar: entry '${name}' (${size} bytes) runs past the end of the archive`);
    if (type === 0 || type === 0x30) files.set(name, bytes.subarray(start, start + size));
    p = start + Math.ceil(size / 512) * 512;
  }
  return files;
}
