import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors, SafetensorsError } from '../../src/formats/safetensors';
import { HostTensor, hostValues, toTensors } from '../../src/formats/host-tensor';
import { tensor } from '../../src/tensor/ops/creation';
import type { Tensor } from '../../src/tensor/tensor';

const enc = new TextEncoder();

/** A file from a header object and a data section, written by hand (independent of the serialiser). */
function file(header: unknown, data: number[] | Uint8Array, opts: { headerLen?: number } = {}): Uint8Array {
  const json = enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(opts.headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('parses a hand-written file of every dtype', () => {
    const h = (dtype: string, shape: number[], a: number, b: number) => ({ dtype, shape, data_offsets: [a, b] });
    const data = new Uint8Array([
      ...new Uint8Array(Float32Array.of(1.5, -2).buffer), // F32 0..8
      0x00,
      0x3e,
      0x00,
      0xc0, // F16 1.5, -2   8..12
      0xc0,
      0x3f,
      0x20,
      0xc0, // BF16 1.5, -2.5  12..16
      ...new Uint8Array(Float64Array.of(1.1).buffer), // F64 16..24
      ...new Uint8Array(BigInt64Array.of(-5n, 2n ** 40n).buffer), // I64 24..40
      ...new Uint8Array(Int32Array.of(-7).buffer), // I32 40..44
      ...new Uint8Array(Int16Array.of(-300).buffer), // I16 44..46
      0xff,
      0x80, // I8 -1, -128   46..48
      0xff,
      0x01, // U8 255, 1 48..50
      0x01,
      0x00,
      0x01, // BOOL 50..53
    ]);
    const header = {
      __metadata__: { format: 'pt', note: 'x' },
      f32: h('F32', [2], 0, 8),
      f16: h('F16', [2], 8, 12),
      bf16: h('BF16', [1, 2], 12, 16),
      f64: h('F64', [], 16, 24),
      i64: h('I64', [2], 24, 40),
      i32: h('I32', [1], 40, 44),
      i16: h('I16', [1], 44, 46),
      i8: h('I8', [2], 46, 48),
      u8: h('U8', [2], 48, 50),
      b: h('BOOL', [3], 50, 53),
    };
    const { tensors: t, metadata } = parseSafetensors(file(header, data));
    expect(metadata).toEqual({ format: 'pt', note: 'x' });
    const vals = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, [v.dtype, v.shape, hostValues(v)]]));
    expect(vals).toEqual({
      f32: ['float32', [2], [1.5, -2]],
      f16: ['float16', [2], [1.5, -2]],
      bf16: ['bfloat16', [1, 2], [1.5, -2.5]],
      f64: ['float64', [], [1.1]],
      i64: ['int64', [2], [-5, 2 ** 40]],
      i32: ['int32', [1], [-7]],
      i16: ['int16', [1], [-300]],
      i8: ['int8', [2], [-1, -128]],
      u8: ['uint8', [2], [255, 1]],
      b: ['bool', [3], [1, 0, 1]],
    });
    // HostTensors round-trip byte for byte through the serialiser
    return serializeSafetensors(t, metadata!).then((bytes) => {
      const again = parseSafetensors(bytes);
      expect(again.metadata).toEqual(metadata);
      for (const k of Object.keys(t)) {
        expect(again.tensors[k].dtype).toBe(t[k].dtype);
        expect(again.tensors[k].shape).toEqual(t[k].shape);
        expect(hostValues(again.tensors[k])).toEqual(hostValues(t[k]));
      }
    });
  });

  it('round-trips GPU tensors of every webgrad dtype', async () => {
    const src = {
      w: tensor([
        [1.25, -2],
        [3, 4.5],
      ]),
      i: tensor([-3, 0, 7], { dtype: 'int32' }),
      u: tensor([0, 4294967295], { dtype: 'uint32' }),
      m: tensor([true, false, true]),
      s: tensor(5),
      e: tensor([], { shape: [0, 3] }),
    };
    const bytes = await serializeSafetensors(src, { epoch: '3' });
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
    expect(JSON.parse(json).u.dtype).toBe('U32');
    expect(JSON.parse(json).m.dtype).toBe('BOOL');
    expect((8 + json.length) % 8).toBe(0);
    const { tensors, metadata } = parseSafetensors(bytes);
    expect(metadata).toEqual({ epoch: '3' });
    expect(Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, [v.dtype, v.shape]]))).toEqual({
      e: ['float32', [0, 3]],
      i: ['int32', [3]],
      m: ['bool', [3]],
      s: ['float32', []],
      u: ['uint32', [2]],
      w: ['float32', [2, 2]],
    });
    const back = toTensors(tensors) as Record<string, Tensor>;
    for (const k of Object.keys(src) as (keyof typeof src)[]) {
      expect(back[k].dtype).toBe(src[k].dtype);
      expect(await back[k].toArray()).toEqual(await src[k].toArray());
    }
  });

  it('toTensors converts host dtypes to webgrad dtypes', async () => {
    const t = toTensors({
      a: new HostTensor('float16', [2], Uint16Array.of(0x3e00, 0xfc00)),
      b: new HostTensor('float64', [1], Float64Array.of(0.1)),
      c: { d: new HostTensor('int64', [2], BigInt64Array.of(-(2n ** 31n), 2n ** 31n - 1n)) },
      u: new HostTensor('uint8', [2], Uint8Array.of(0, 255)),
      i8: new HostTensor('int8', [1], Int8Array.of(-128)),
      n: 3,
    }) as any;
    expect([t.a.dtype, await t.a.toArray()]).toEqual(['float32', [1.5, -Infinity]]);
    expect(await t.b.toArray()).toEqual([Math.fround(0.1)]);
    expect([t.c.d.dtype, await t.c.d.toArray()]).toEqual(['int32', [-(2 ** 31), 2 ** 31 - 1]]);
    expect([t.u.dtype, await t.u.toArray()]).toEqual(['int32', [0, 255]]);
    expect(await t.i8.toArray()).toEqual([-128]);
    expect(t.n).toBe(3);
    expect(() => toTensors({ big: new HostTensor('int64', [1], BigInt64Array.of(2n ** 31n)) })).toThrow(
      /big: int64 value 2147483648 at flat index 0 does not fit in int32/,
    );
  });

  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const bad: [string, Uint8Array, RegExp][] = [
    ['short file', new Uint8Array(5), /starts with an 8-byte header length/],
    ['header past end', file(ok, new Uint8Array(8), { headerLen: 1000 }), /header length 1000 runs past the end/],
    ['not JSON', file('x', new Uint8Array(0)), /must be a JSON object/],
    ['unknown dtype', file({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /dtype "F8" is not supported/],
    ['bad shape', file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape must be an array of non-negative integers/],
    [
      'size mismatch',
      file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /shape \[3\] of F32 needs 12 bytes; data_offsets \[0, 8\] hold 8/,
    ],
    ['out of bounds', file(ok, new Uint8Array(4)), /run past the data section \(4 bytes\)/],
    ['overlap', file({ ...ok, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /overlap the previous tensor/],
    ['gap', file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /leave a gap after byte 0/],
    ['trailing', file(ok, new Uint8Array(12)), /trailing bytes/],
    ['begin > end', file({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /begin after end/],
    ['metadata type', file({ __metadata__: { a: 1 } }, new Uint8Array(0)), /__metadata__\["a"\] must be a string/],
  ];
  for (const [what, bytes, msg] of bad) {
    it(`rejects: ${what}`, () => {
      expect(() => parseSafetensors(bytes)).toThrow(SafetensorsError);
      expect(() => parseSafetensors(bytes)).toThrow(msg);
    });
  }

  it('keys such as __proto__ stay plain data', () => {
    const { tensors } = parseSafetensors(file({ ['__proto__']: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, [7]));
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    // biome-ignore lint/complexity/useLiteralKeys: the key under test is the literal string '__proto__'
    // biome-ignore lint/suspicious/noProto: a hostile file names a tensor '__proto__'; it must stay an own key
    expect(hostValues(tensors['__proto__'])).toEqual([7]);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
  });
});
