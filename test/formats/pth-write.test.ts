/** serializePth / savePth: torch.save's zip format, read back by readPth (and by torch; see the report). */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPth, flattenStateDict } from '../../src/formats/pth';
import { serializePth, stateDict, crc32, PthWriteError } from '../../src/formats/pth-write';
import { HostTensor, hostValues } from '../../src/formats/host-tensor';
import { readZipDirectory, readZipEntry } from '../../src/formats/zip';
import { savePth, tensor, tree } from '../../src/node';
import { FIXTURES } from './helpers';

const vals = (t: unknown) => hostValues(t as HostTensor);

describe('serializePth', () => {
  it('CRC-32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('round-trips every storable dtype, shapes, order, shared storages and strided views', async () => {
    const buf = Float32Array.from({ length: 12 }, (_, i) => i);
    const bytes = await serializePth({
      'a.weight': new HostTensor('float32', [2, 3], Float32Array.of(1, 2, -3.5, 4, 5e-30, 6e30)),
      'bn.num_batches_tracked': new HostTensor('int32', [], Int32Array.of(7)),
      head: { storage: { dtype: 'float32', data: buf }, offset: 2, shape: [2, 2], stride: [4, 1] },
      tail: { storage: { dtype: 'float32', data: buf }, offset: 0, shape: [4, 3], stride: [1, 4] },
      mask: new HostTensor('bool', [3], Uint8Array.of(1, 0, 1)),
      big: new HostTensor('int64', [2], BigInt64Array.of(5_000_000_000n, -3n)),
      d: new HostTensor('float64', [1, 2], Float64Array.of(0.5, -1e300)),
      h: new HostTensor('float16', [1], Uint16Array.of(0x3e00)),
      i8: new HostTensor('int8', [2], Int8Array.of(-128, 127)),
      empty: new HostTensor('float32', [0, 3], new Float32Array(0)),
    });
    const r = (await readPth(bytes)) as Record<string, HostTensor>;
    expect(Object.keys(r)).toEqual(['a.weight', 'bn.num_batches_tracked', 'head', 'tail', 'mask', 'big', 'd', 'h', 'i8', 'empty']);
    expect(vals(r['a.weight'])).toEqual(Array.from(Float32Array.of(1, 2, -3.5, 4, 5e-30, 6e30)));
    expect(r['bn.num_batches_tracked'].dtype).toBe('int64');
    expect(r['bn.num_batches_tracked'].shape).toEqual([]);
    expect(vals(r['bn.num_batches_tracked'])).toEqual([7]);
    expect(vals(r.head)).toEqual([2, 3, 6, 7]);
    expect(vals(r.tail)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect([r.mask.dtype, vals(r.mask)]).toEqual(['bool', [1, 0, 1]]);
    expect((r.big.data as BigInt64Array)[0]).toBe(5_000_000_000n);
    expect(vals(r.d)).toEqual([0.5, -1e300]);
    expect(vals(r.h)).toEqual([1.5]);
    expect(vals(r.i8)).toEqual([-128, 127]);
    expect(r.empty.shape).toEqual([0, 3]);
    // torch's layout: data.pkl, version 3, byteorder, one storage per distinct buffer, data 64-byte aligned, CRCs right
    const dir = readZipDirectory(bytes);
    const names = [...dir.keys()];
    expect(names[0]).toBe('archive/data.pkl');
    expect(names).toContain('archive/version');
    expect(names.filter((n) => n.startsWith('archive/data/'))).toHaveLength(9); // head and tail share one
    expect(new TextDecoder().decode(await readZipEntry(bytes, dir.get('archive/version')!))).toBe('3\n');
    expect(new TextDecoder().decode(await readZipEntry(bytes, dir.get('archive/byteorder')!))).toBe('little');
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    for (const e of dir.values()) {
      const start = e.headerOffset + 30 + dv.getUint16(e.headerOffset + 26, true) + dv.getUint16(e.headerOffset + 28, true);
      expect(start % 64, e.name).toBe(0);
      expect(dv.getUint32(e.headerOffset + 14, true), e.name).toBe(crc32(await readZipEntry(bytes, e)));
    }
  });

  it('re-serialises a state_dict written by torch.save to the same values', async () => {
    const sd = flattenStateDict(await readPth(new Uint8Array(readFileSync(join(FIXTURES, 'state_dict.pt')))));
    const again = flattenStateDict(await readPth(await serializePth(sd)));
    expect(Object.keys(again)).toEqual(Object.keys(sd));
    for (const k of Object.keys(sd)) {
      expect(again[k].shape).toEqual(sd[k].shape);
      expect(vals(again[k])).toEqual(vals(sd[k]));
    }
  });

  it('errors name the key and what was wrong', async () => {
    const s = { dtype: 'float32' as const, data: new Float32Array(4) };
    await expect(serializePth({ 'x.y': { storage: s, offset: 2, shape: [2, 2], stride: [2, 1] } })).rejects.toThrow(
      /'x\.y' of size \[2, 2\], stride \[2, 1\] at offset 2 reads element 5 of a storage of 4/,
    );
    await expect(serializePth({ u: new HostTensor('uint32', [1], Uint32Array.of(1)) })).rejects.toThrow(PthWriteError);
    await expect(serializePth({ u: new HostTensor('uint32', [1], Uint32Array.of(1)) })).rejects.toThrow(/'u' is uint32/);
    await expect(serializePth({ a: s as any })).rejects.toThrow(/'a' must be a Tensor, a HostTensor/);
    await expect(
      serializePth({
        a: { storage: s, offset: 0, shape: [4], stride: [1] },
        b: { storage: { dtype: 'int32', data: s.data }, offset: 0, shape: [1], stride: [1] },
      }),
    ).rejects.toThrow(/'b' reads a storage as int32 that another tensor reads as float32/);
  });

  it('savePth writes GPU tensors of params and state in PyTorch module order; tied tensors share a storage', async () => {
    const w = tensor(Float32Array.of(1, 2, 3, 4), { shape: [2, 2] });
    const params = {
      conv: { weight: w },
      bn: { weight: tensor(Float32Array.of(1, 1), { shape: [2] }), bias: tensor(Float32Array.of(0, 0), { shape: [2] }) },
      tied: { weight: w },
    };
    const state = {
      bn: {
        running_mean: tensor(Float32Array.of(0.5, -0.5), { shape: [2] }),
        num_batches_tracked: tensor(Int32Array.of(3), { shape: [], dtype: 'int32' }),
        mask: tensor(Uint32Array.of(1, 0), { shape: [2], dtype: 'bool' }),
      },
    };
    const sd = stateDict(params, state);
    expect(Object.keys(sd)).toEqual(['conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.num_batches_tracked', 'bn.mask', 'tied.weight']);
    const dir = mkdtempSync(join(tmpdir(), 'pthw-'));
    try {
      const file = join(dir, 'model.pth');
      await savePth(file, sd);
      const bytes = new Uint8Array(readFileSync(file));
      const names = [...readZipDirectory(bytes).keys()];
      expect(names[0]).toBe('model/data.pkl'); // torch names the folder after the file
      expect(names.filter((n) => n.startsWith('model/data/'))).toHaveLength(6);
      const r = (await readPth(bytes)) as Record<string, HostTensor>;
      expect(Object.keys(r)).toEqual(Object.keys(sd));
      expect(vals(r['conv.weight'])).toEqual([1, 2, 3, 4]);
      expect(vals(r['tied.weight'])).toEqual([1, 2, 3, 4]);
      expect([r['bn.num_batches_tracked'].dtype, vals(r['bn.num_batches_tracked'])]).toEqual(['int64', [3]]);
      expect([r['bn.mask'].dtype, vals(r['bn.mask'])]).toEqual(['bool', [1, 0]]);
      expect(vals(r['bn.running_mean'])).toEqual([0.5, -0.5]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      tree.dispose([params, state]);
    }
  });
});
