/** The hand-written ONNX reader: a model built with a tiny protobuf writer here, then mutated (fuzz). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OnnxError, readOnnx } from '../../src/formats/onnx';

// ---- a minimal protobuf writer (independent of the reader) --------------------------------------
const varint = (v: number | bigint): number[] => {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
};
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const vint = (field: number, v: number | bigint) => [...tag(field, 0), ...varint(v)];
const bytes = (field: number, b: number[] | Uint8Array) => [...tag(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, [...new TextEncoder().encode(s)]);
const f32 = (v: number) => [...new Uint8Array(Float32Array.of(v).buffer)];
const fixed32 = (field: number, v: number) => [...tag(field, 5), ...f32(v)];
const packedF32 = (field: number, vs: number[]) => bytes(field, vs.flatMap(f32));
const packedInts = (field: number, vs: number[]) =>
  bytes(
    field,
    vs.flatMap((v) => varint(v)),
  );

const attr = (name: string, type: number, body: number[]) => bytes(5, [...str(1, name), ...vint(20, type), ...body]);
const conv = [
  ...str(1, 'x'),
  ...str(1, 'w'),
  ...str(1, 'b'),
  ...str(2, 'y'),
  ...str(3, 'conv0'),
  ...str(4, 'Conv'),
  ...attr('dilations', 7, packedInts(8, [2, 2])),
  ...attr('pads', 7, [...vint(8, 2), ...vint(8, 2), ...vint(8, 2), ...vint(8, 2)]), // unpacked ints
  ...attr('group', 2, vint(3, 1)),
  ...attr('axis', 2, vint(3, -1)),
  ...attr('alpha', 1, fixed32(2, 0.25)),
  ...attr('scales', 6, packedF32(7, [1.5, 2])),
  ...attr('mode', 3, str(4, 'linear')),
  ...attr('names', 8, [...str(9, 'a'), ...str(9, 'bc')]),
];
const rawW = new Float32Array(2 * 1 * 3 * 3).map((_, i) => i - 4.5);
const wInit = [...packedInts(1, [2, 1, 3, 3]), ...vint(2, 1), ...str(8, 'w'), ...bytes(9, new Uint8Array(rawW.buffer))];
const bInit = [...vint(1, 2), ...vint(2, 1), ...str(8, 'b'), ...packedF32(4, [0.5, -0.5])]; // unpacked dims, float_data
const i64Init = [...vint(1, 3), ...vint(2, 7), ...str(8, 'shape'), ...packedInts(7, [1, -1, 9])];
const dim = (v: number | string) => bytes(1, typeof v === 'number' ? vint(1, v) : str(2, v));
const valueInfo = (name: string, dims: (number | string)[]) => [...str(1, name), ...bytes(2, bytes(1, [...vint(1, 1), ...bytes(2, dims.flatMap(dim))]))];
const graph = [
  ...bytes(1, conv),
  ...str(2, 'g'),
  ...bytes(5, wInit),
  ...bytes(5, bInit),
  ...bytes(5, i64Init),
  ...bytes(11, valueInfo('x', ['N', 1, 5, 5])),
  ...bytes(12, valueInfo('y', ['N', 2, 5, 5])),
];
const modelBytes = Uint8Array.from([
  ...vint(1, 7),
  ...str(2, 'hand'),
  ...str(3, '1.0'),
  ...bytes(8, [...str(1, ''), ...vint(2, 13)]),
  ...bytes(7, graph),
  ...str(6, 'doc'),
]);

describe('ONNX reader', () => {
  it('reads nodes, attributes of every kind, initializers (raw_data, float_data, int64) and value infos', () => {
    const m = readOnnx(modelBytes);
    expect(m.irVersion).toBe(7);
    expect(m.producerName).toBe('hand');
    expect(m.opsetImport).toEqual([{ domain: '', version: 13 }]);
    const [n] = m.graph.nodes;
    expect(n).toMatchObject({ name: 'conv0', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'] });
    expect(n.attributes).toEqual({
      dilations: [2, 2],
      pads: [2, 2, 2, 2],
      group: 1,
      axis: -1,
      alpha: 0.25,
      scales: [1.5, 2],
      mode: 'linear',
      names: ['a', 'bc'],
    });
    const w = m.graph.initializers.get('w')!;
    expect(w.shape).toEqual([2, 1, 3, 3]);
    expect(Array.from(w.data as Float32Array)).toEqual(Array.from(rawW));
    expect(m.graph.initializers.get('b')).toMatchObject({ dtype: 'float32', shape: [2] });
    expect(Array.from(m.graph.initializers.get('b')!.data as Float32Array)).toEqual([0.5, -0.5]);
    expect(Array.from(m.graph.initializers.get('shape')!.data as BigInt64Array)).toEqual([1n, -1n, 9n]);
    expect(m.graph.inputs).toEqual([{ name: 'x', elemType: 1, shape: ['N', 1, 5, 5] }]);
  });

  it('clear errors: empty input, truncation, wrong data length, external data, unknown dtype', () => {
    expect(() => readOnnx(new Uint8Array(0))).toThrow(/no graph in 0 bytes/);
    expect(() => readOnnx(modelBytes.subarray(0, modelBytes.length - 40))).toThrow(OnnxError);
    const bad = (init: number[]) => Uint8Array.from(bytes(7, bytes(5, init)));
    expect(() => readOnnx(bad([...packedInts(1, [3]), ...vint(2, 1), ...str(8, 'short'), ...bytes(9, [0, 0, 0, 0])]))).toThrow(
      /tensor 'short' has 4 bytes of raw_data; shape \[3\] of float32 needs 12/,
    );
    expect(() => readOnnx(bad([...vint(2, 1), ...str(8, 'ext'), ...vint(14, 1)]))).toThrow(/'ext' keeps its data in an external file/);
    expect(() => readOnnx(bad([...vint(2, 8), ...str(8, 'strs')]))).toThrow(/'strs' has data_type 8/);
    expect(() => readOnnx(Uint8Array.from([...tag(7, 2), 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(/runs past the end/);
    // a string field longer than what is left of its message
    expect(() => readOnnx(Uint8Array.from(bytes(7, [...tag(2, 2), 10, 65, 66])))).toThrow(
      /length 10 runs past the end of the enclosing message \(2 bytes left\)/,
    );
    expect(() => readOnnx(Uint8Array.from(bytes(7, [...tag(30, 1), 1, 2, 3])))).toThrow(/truncated fixed64/);
    expect(() => readOnnx(Uint8Array.from(bytes(7, [...tag(30, 3)])))).toThrow(/unsupported wire type 3/);
  });

  it('fuzz: mutated models parse or throw an OnnxError, never crash or hang (300 mutations)', () => {
    const mutation = fc.record({ kind: fc.constantFrom('set', 'flip', 'delete', 'insert', 'truncate'), pos: fc.nat(), byte: fc.nat(255) });
    const counts = { ok: 0, error: 0 };
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (edits) => {
        let b = Array.from(modelBytes);
        for (const e of edits) {
          const p = b.length ? e.pos % b.length : 0;
          if (e.kind === 'set') b[p] = e.byte;
          else if (e.kind === 'flip') b[p] ^= 1 << (e.byte & 7);
          else if (e.kind === 'delete') b.splice(p, 1);
          else if (e.kind === 'insert') b.splice(p, 0, e.byte);
          else b = b.slice(0, p);
        }
        try {
          readOnnx(Uint8Array.from(b));
          counts.ok++;
        } catch (e) {
          if (!(e instanceof OnnxError) || !e.message) throw new Error(`bad throw: ${String(e)}`);
          counts.error++;
        }
      }),
      { numRuns: 300, seed: 20261122 },
    );
    expect(counts.error).toBeGreaterThan(30);
  });
});
