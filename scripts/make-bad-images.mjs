#!/usr/bin/env node
/**
 * Writes the hostile image fixtures of test/fixtures/bad-images/ (tiny files; see its README).
 * Deterministic: the same bytes every run, so test/io/bad-images.test.ts can check the committed
 * files against a fresh run. Usage: node scripts/make-bad-images.mjs [outDir]
 */
import { deflateSync, crc32 } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';

const here = dirname(fileURLToPath(import.meta.url));

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
function ihdr(width, height, colorType = 2) {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = 8;
  d[9] = colorType; // 8-bit; compression, filter, interlace 0
  return chunk('IHDR', d);
}
/** A PNG whose IDAT inflates to `rows` rows of a width×height 8-bit RGB image. */
function png(width, height, rows) {
  const raw = Buffer.alloc(rows * (1 + width * 3));
  for (let i = 0; i < raw.length; i++) raw[i] = i % (1 + width * 3) === 0 ? 0 : (i * 37) % 251;
  return Buffer.concat([SIGNATURE, ihdr(width, height), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
/** A small valid JPEG (16×16 gradient, jpeg-js quality 80). */
function smallJpeg() {
  const w = 16,
    h = 16,
    px = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) px.set([(i * 13) % 256, (i * 7) % 256, 128, 255], i * 4);
  return Buffer.from(jpeg.encode({ data: px, width: w, height: h }, 80).data);
}
/** Offset of the first marker `m` (0xFF m) in a JPEG. */
const markerAt = (b, m) => {
  for (let o = 2; o < b.length - 1; o++) if (b[o] === 0xff && b[o + 1] === m) return o;
  throw new Error(`no marker ${m}`);
};

export function badImages() {
  const good = png(16, 16, 16);
  const j = smallJpeg();
  const bombJpeg = Buffer.from(j);
  const sof = markerAt(bombJpeg, 0xc0);
  bombJpeg.writeUInt16BE(30000, sof + 5);
  bombJpeg.writeUInt16BE(30000, sof + 7);
  const sos = markerAt(j, 0xda);
  return {
    // header claims 30000×30000 RGB (2.7 GB of pixels); the pixel data is 64 zero bytes (the 167-byte kind of file)
    'bomb-30000x30000.png': Buffer.concat([SIGNATURE, ihdr(30000, 30000), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]),
    // SOF0 patched to 30000×30000; the scan is the original 16×16 one
    'bomb-30000x30000.jpg': bombJpeg,
    // a complete, well-formed file whose pixel data holds 4 of its 16 rows (decoded as black before)
    'short-pixels.png': png(16, 16, 4),
    // a valid 16×16 PNG cut in the middle of its IDAT chunk
    'truncated.png': good.subarray(0, Math.floor(good.length / 2)),
    // a valid 16×16 JPEG cut half-way through its scan (no EOI marker)
    'truncated.jpg': j.subarray(0, sos + Math.floor((j.length - sos) / 2)),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? join(here, '..', 'test', 'fixtures', 'bad-images');
  mkdirSync(out, { recursive: true });
  for (const [name, bytes] of Object.entries(badImages())) {
    writeFileSync(join(out, name), bytes);
    console.log(`${name}: ${bytes.length} bytes`);
  }
}
