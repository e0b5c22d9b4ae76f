import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostTensor, hostArrayBytes } from '../../src/formats/host-tensor';
import { flattenStateDict, PthError, readPth } from '../../src/formats/pth';
import { openPth, readPthStreaming } from '../../src/formats/pth-stream';
import { serializePth } from '../../src/formats/pth-write';
import { type ByteSource, bytesSource, readZipDirectory, readZipDirectoryFrom, readZipEntry, readZipEntryFrom } from '../../src/formats/zip';
import { openFileSource, withPthFile } from '../../src/io/pth-file';
import { readStateDict } from '../../src/io/load-weights';
import { FIXTURES, f32bytes, makePtZip, op, pickle, tensorOps } from './helpers';

const SAM_TINY = new URL('../fixtures/sam-official/tiny.pth', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'pth-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A source that counts its reads and remembers the largest one. */
function recording(bytes: Uint8Array): ByteSource & { reads: number; largest: number; total: number } {
  const inner = bytesSource(bytes);
  const s = {
    size: inner.size,
    reads: 0,
    largest: 0,
    total: 0,
    read: async (offset: number, length: number) => {
      s.reads++;
      s.total += length;
      s.largest = Math.max(s.largest, length);
      return (await inner.read(offset, length)).slice(); // a fresh buffer, as a file read gives
    },
  };
  return s;
}

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every tensor of a checkpoint through the streaming reader, as [name, dtype, shape, bytes]. */
async function streamed(source: ByteSource) {
  const out: [string, string, number[], string][] = [];
  for await (const [name, t] of await openPth(source)) out.push([name, t.dtype, t.shape.slice(), digest(hostArrayBytes(t.data))]);
  return out;
}
/** The same through the whole-file reader. */
async function whole(bytes: Uint8Array) {
  return Object.entries(flattenStateDict(await readPth(bytes))).map(
    ([name, t]) => [name, t.dtype, t.shape.slice(), digest(hostArrayBytes(t.data))] as [string, string, number[], string],
  );
}
async function expectSame(bytes: Uint8Array) {
  const a = await streamed(recording(bytes));
  expect(a).toEqual(await whole(bytes));
  return a;
}
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e) => e as Error,
  );

describe('readPthStreaming: same tensors as readPth', () => {
  const files = readdirSync(FIXTURES).filter((f) => /\.(pt|tar)$/.test(f) && f !== 'broken.pt');

  it(`every torch.save fixture (${files.length} files: zip, legacy, tar), from bytes and from a file handle`, async () => {
    expect(files.length).toBeGreaterThan(30);
    let zips = 0;
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, f)));
      const a = await expectSame(bytes);
      const src = await openFileSource(join(FIXTURES, f));
      try {
        expect(await streamed(src), f).toEqual(a);
      } finally {
        await src.close();
      }
      if ((await openPth(bytesSource(bytes))).format === 'zip') zips++;
    }
    expect(zips).toBeGreaterThan(20);
  });

  it("the SAM reference fixture (torch 1.13's zip, nested dict)", async () => {
    const bytes = new Uint8Array(readFileSync(SAM_TINY));
    const a = await expectSame(bytes);
    expect(a.some(([n]) => n === 'state_dict.image_encoder.blocks.0.attn.rel_pos_h')).toBe(true);
  });

  it('broken.pt fails as readPth does', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'broken.pt')));
    const e = await rejection(openPth(bytesSource(bytes)));
    expect(e).toBeInstanceOf(PthError);
    expect(await rejection(readPth(bytes))).toBeInstanceOf(PthError);
  });

  it('files written by serializePth: shared storages, offsets, transposes, broadcasts, every dtype', async () => {
    const storage = { dtype: 'float32' as const, data: Float32Array.from({ length: 24 }, (_, i) => i * 1.5 - 3) };
    const longs = { dtype: 'int64' as const, data: BigInt64Array.from({ length: 6 }, (_, i) => BigInt(i) * 10000000000n - 7n) };
    const bytes = await serializePth({
      whole: { storage, offset: 0, shape: [24], stride: [1] },
      rows: { storage, offset: 4, shape: [2, 4], stride: [4, 1] },
      transposed: { storage, offset: 0, shape: [4, 6], stride: [1, 4] },
      strided: { storage, offset: 3, shape: [3, 2], stride: [7, 2] },
      broadcast: { storage, offset: 5, shape: [3, 4], stride: [0, 1] },
      scalar: { storage, offset: 23, shape: [], stride: [] },
      empty: { storage, offset: 0, shape: [0, 3], stride: [3, 1] },
      longT: { storage: longs, offset: 0, shape: [3, 2], stride: [1, 3] },
      f64: { dtype: 'float64', shape: [2, 2], data: Float64Array.of(1e300, -0, Number.NaN, 5) },
      f16: { dtype: 'float16', shape: [3], data: Uint16Array.of(0x3c00, 0xc000, 0x7c00) },
      i8: { dtype: 'int8', shape: [2], data: Int8Array.of(-128, 127) },
      u8: { dtype: 'uint8', shape: [2], data: Uint8Array.of(0, 255) },
      flag: { dtype: 'bool', shape: [3], data: Uint8Array.of(1, 0, 1) },
      i32: { dtype: 'int32', shape: [1, 1, 2], data: Int32Array.of(-5, 2 ** 31 - 1) },
    });
    const a = await expectSame(bytes);
    expect(a.map(([n]) => n)).toContain('broadcast');
    const strided = await (await openPth(bytesSource(bytes))).read('strided');
    expect(Array.from(strided.data as Float32Array)).toEqual([3, 5, 10, 12, 17, 19].map((i) => i * 1.5 - 3));
  });

  it('hand-made archives: non-contiguous views, deflated entries, zip64, big-endian', async () => {
    const storage = f32bytes(Array.from({ length: 12 }, (_, i) => i));
    const pkl = pickle(
      op.proto(2),
      op.emptyDict,
      op.str('a'),
      tensorOps('FloatStorage', '0', 12, 0, [4, 3], [1, 4]),
      op.setitem,
      op.str('b'),
      tensorOps('FloatStorage', '0', 12, 5, [2, 2], [4, 2]),
      op.setitem,
      op.str('d'),
      tensorOps('DoubleStorage', '1', 6, 0, [3, 2], [1, 3]),
      op.setitem,
      op.str('flat'),
      tensorOps('FloatStorage', '0', 12, 2, [2, 3], [3, 1]),
      op.setitem,
      op.stop,
    );
    const d = new Uint8Array(Float64Array.of(0, 1, 2, 3, 4, 5).buffer);
    for (const opts of [{}, { deflate: true }, { zip64: true }]) await expectSame(makePtZip(pkl, { 0: storage, 1: d }, opts));
    const swap = (b: Uint8Array, k: number) => {
      const o = b.slice();
      for (let i = 0; i < o.length; i += k) o.subarray(i, i + k).reverse();
      return o;
    };
    const beBytes = makePtZip(pkl, { 0: swap(storage, 4), 1: swap(d, 8) }, { byteorder: 'big' });
    await expectSame(beBytes);
    const be = await openPth(bytesSource(beBytes));
    expect(Array.from((await be.read('a')).data as Float32Array)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(Array.from((await be.read('d')).data as Float64Array)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(Array.from((await be.read('flat')).data as Float32Array)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('the in-memory and random-access zip readers agree', async () => {
    const bytes = new Uint8Array(readFileSync(SAM_TINY));
    const dir = readZipDirectory(bytes);
    const dir2 = await readZipDirectoryFrom(bytesSource(bytes));
    expect([...dir2.values()]).toEqual([...dir.values()]);
    for (const e of [...dir.values()].slice(0, 20)) expect(await readZipEntryFrom(bytesSource(bytes), e)).toEqual(await readZipEntry(bytes, e));
  });
});

describe('readPthStreaming: never the whole file at once', () => {
  it('the largest single read is one tensor, and the file is read about once', async () => {
    // 12 tensors of 256 KiB (3 MiB): no read may come near the file size
    const sd: Record<string, HostTensor> = {};
    for (let i = 0; i < 12; i++)
      sd[`layer${i}.weight`] = new HostTensor(
        'float32',
        [256, 256],
        Float32Array.from({ length: 65536 }, (_, j) => i + j / 65536),
      );
    const bytes = await serializePth(sd);
    const src = recording(bytes);
    const names: string[] = [];
    await readPthStreaming(src, {
      onTensor: (name, t) => {
        names.push(name);
        expect(t.data[1]).toBeCloseTo(Number(name.slice(5, -7)) + 1 / 65536, 6);
      },
    });
    expect(names).toEqual(Object.keys(sd));
    expect(src.largest).toBe(256 * 256 * 4);
    expect(src.total).toBeLessThan(bytes.length + 128 * 1024);
    expect(src.reads).toBeLessThan(3 * 12 + 10);
  });

  it('a view reads only its span of a shared storage', async () => {
    const storage = { dtype: 'float32' as const, data: new Float32Array(1 << 18) };
    const bytes = await serializePth({ head: { storage, offset: 10, shape: [4, 4], stride: [8, 1] } });
    const src = recording(bytes);
    const pth = await openPth(src);
    const before = src.largest;
    await pth.read('head');
    expect(src.largest).toBe(Math.max(before, (3 * 8 + 4) * 4));
  });

  it('readStateDict streams .pth files (same result as before, no whole-file read)', async () => {
    const sd = {
      'fc.weight': new HostTensor('float32', [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)),
      'fc.bias': new HostTensor('float32', [2], Float32Array.of(7, 8)),
    };
    const path = join(tmp, 'w.pth');
    writeFileSync(path, await serializePth(sd));
    const r = await readStateDict(path);
    expect(Object.keys(r)).toEqual(['fc.weight', 'fc.bias']);
    expect(Array.from(r['fc.weight'].data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    // a training checkpoint wrapping its state_dict
    const legacy = join(FIXTURES, 'checkpoint.pt');
    const viaWhole = flattenStateDict(((await readPth(new Uint8Array(readFileSync(legacy)))) as Record<string, unknown>).model_state_dict);
    const viaStream = await readStateDict(legacy);
    expect(Object.keys(viaStream)).toEqual(Object.keys(viaWhole));
    expect(await withPthFile(legacy, async (p) => p.tensors.length)).toBeGreaterThan(Object.keys(viaWhole).length - 1);
  });
});

describe('readPthStreaming: hostile files give PthError', () => {
  const base = async () =>
    serializePth({
      a: new HostTensor(
        'float32',
        [64],
        Float32Array.from({ length: 64 }, (_, i) => i),
      ),
      b: new HostTensor('int64', [2], BigInt64Array.of(1n, 2n)),
    });

  it('every truncation fails cleanly (no other error type, no hang)', async () => {
    const bytes = await base();
    for (let n = 0; n < bytes.length; n += 7) {
      const e = await rejection(streamed(bytesSource(bytes.subarray(0, n))));
      expect(e, `truncated at ${n}`).toBeInstanceOf(Error);
      expect(['PthError', 'UnpicklingError'], `truncated at ${n}: ${e}`).toContain(e!.name);
    }
  });

  it('a file that shrinks under the reader (short reads)', async () => {
    const bytes = await base();
    const src: ByteSource = { size: bytes.length, read: async (o, l) => bytes.slice(o, o + Math.min(l, 100)) };
    const e = await rejection(streamed(src));
    expect(e).toBeInstanceOf(PthError);
    expect(e!.message).toMatch(/read 100 of \d+ bytes/);
  });

  it('lying sizes: storage larger than its entry, entries past the end, a huge central directory', async () => {
    const storage = f32bytes([1, 2, 3]);
    const lies = pickle(op.proto(2), op.emptyDict, op.str('a'), tensorOps('FloatStorage', '0', 1 << 30, 0, [1 << 30], [1]), op.setitem, op.stop);
    const e1 = await rejection(streamed(bytesSource(makePtZip(lies, { 0: storage }))));
    expect(e1).toBeInstanceOf(PthError);
    expect(e1!.message).toMatch(/declares 1073741824 float32 elements but holds 3/);
    const past = pickle(op.proto(2), op.emptyDict, op.str('a'), tensorOps('FloatStorage', '0', 3, 1, [3], [1]), op.setitem, op.stop);
    expect((await rejection(streamed(bytesSource(makePtZip(past, { 0: storage })))))!.message).toMatch(/reads element 3 of storage '0' which has 3/);
    // central directory entry declaring a 4 GiB stored entry at its offset
    const bytes = await base();
    const big = bytes.slice();
    const dv = new DataView(big.buffer);
    const cd = dv.getUint32(big.length - 6, true);
    dv.setUint32(cd + 20, 0xfffffff0, true);
    dv.setUint32(cd + 24, 0xfffffff0, true);
    const e3 = await rejection(streamed(bytesSource(big)));
    expect(e3).toBeInstanceOf(PthError);
    expect(e3!.message).toMatch(/lies outside the archive/);
    const cdSize = big.slice();
    new DataView(cdSize.buffer).setUint32(cdSize.length - 10, 0x7fffffff, true);
    expect((await rejection(streamed(bytesSource(cdSize))))!.message).toMatch(/runs past the end of the archive/);
  });

  it('the restricted unpickler still refuses foreign globals', async () => {
    const evil = pickle(op.proto(2), op.global('os', 'system'), op.str('echo hi'), op.tuple1, op.reduce, op.stop);
    const e = await rejection(openPth(bytesSource(makePtZip(evil, {}))));
    expect(e!.message).toMatch(/refusing to load global 'os\.system'/);
  });

  it('bad arguments', async () => {
    expect((await rejection(openPth(null as unknown as ByteSource)))!.message).toMatch(/^readPthStreaming: expected a source/);
    const bytes = await base();
    expect((await rejection(readPthStreaming(bytesSource(bytes), {} as never)))!.message).toMatch(/onTensor must be a function/);
    expect((await rejection((await openPth(bytesSource(bytes))).read('nope')))!.message).toMatch(/no tensor named 'nope'/);
    const notPth = await rejection(openPth(bytesSource(new Uint8Array(600).fill(7))));
    expect(notPth!.message).toMatch(/not a PyTorch checkpoint \(600 bytes starting 07 07/);
  });
});
