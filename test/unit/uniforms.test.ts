/** UniformLayout: offsets follow WGSL's uniform-address-space rules, checked on the GPU itself. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { getDefaultDevice } from '../../src/node';
import { UniformLayout, type UniformField, type ScalarType } from '../../src/kernels/webgpu/uniforms';
import { empty } from '../../src/tensor/tensor';
import { buildShader } from '../../src/kernels/wgsl/builder';

/** Offsets per the WGSL spec: scalars align to 4, array<vec4<T>, N> to 16 with stride 16; struct size rounds to 16. */
function specOffsets(fields: readonly UniformField[]): { offsets: number[]; size: number } {
  let off = 0;
  const offsets = fields.map((f) => {
    const isArr = 'vec4s' in f;
    off = isArr ? Math.ceil(off / 16) * 16 : Math.ceil(off / 4) * 4;
    const at = off;
    off += isArr ? 16 * f.vec4s : 4;
    return at;
  });
  return { offsets, size: Math.max(16, Math.ceil(off / 16) * 16) };
}

/** Runs a kernel copying every word of every field (bitcast to u32) into a storage buffer, in field order. */
async function roundTrip(fields: UniformField[], values: Record<string, number | number[]>): Promise<Uint32Array> {
  const layout = new UniformLayout(fields);
  const lines: string[] = [];
  let k = 0;
  for (const f of fields) {
    if ('vec4s' in f) for (let i = 0; i < f.vec4s * 4; i++) lines.push(`out[${k++}u] = bitcast<u32>(p.${f.name}[${i >> 2}][${i & 3}]);`);
    else lines.push(`out[${k++}u] = bitcast<u32>(p.${f.name});`);
  }
  const shader = buildShader({ uniforms: layout, storage: [{ name: 'out', type: 'u32', access: 'read_write' }], workgroupSize: 1, body: lines.join('\n') });
  const device = getDefaultDevice();
  const out = empty([k], 'uint32', device);
  device.run('uniform-roundtrip', `test-uniform-roundtrip:${JSON.stringify(fields)}`, () => shader, [out.buffer], [1], { layout, values });
  const got = (await out.data()) as Uint32Array;
  out.dispose();
  return got;
}

/** The words the kernel should see, per field, in order. */
function expectedWords(fields: UniformField[], values: Record<string, number | number[]>): number[] {
  const dv = new DataView(new ArrayBuffer(4));
  const word = (t: ScalarType, x: number) => {
    if (t === 'f32') dv.setFloat32(0, x, true);
    else if (t === 'i32') dv.setInt32(0, x, true);
    else dv.setUint32(0, x >>> 0, true);
    return dv.getUint32(0, true);
  };
  return fields.flatMap((f) => {
    const v = values[f.name];
    const list = typeof v === 'number' ? [v] : v;
    const n = 'vec4s' in f ? f.vec4s * 4 : 1;
    return Array.from({ length: n }, (_, i) => word(f.type, list[i] ?? 0));
  });
}

const scalarType = fc.constantFrom<ScalarType>('u32', 'i32', 'f32');
const scalarValue = (t: ScalarType) =>
  t === 'u32'
    ? fc.nat({ max: 0xffffffff })
    : t === 'i32'
      ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
      : fc.float({ noNaN: true, noDefaultInfinity: true }).map(Math.fround);
const fieldsArb = fc
  .array(fc.record({ type: scalarType, vec4s: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 3 }) }), { minLength: 1, maxLength: 8 })
  .map((fs) => fs.map((f, i): UniformField => (f.vec4s ? { name: `f${i}`, type: f.type, vec4s: f.vec4s } : { name: `f${i}`, type: f.type })));
// blocks are at most 256 bytes (one arena slot)
const caseArb = fieldsArb
  .filter((fs) => new UniformLayout(fs).byteSize <= 256)
  .chain((fields) =>
    fc.tuple(
      fc.constant(fields),
      fc.tuple(...fields.map((f) => ('vec4s' in f ? fc.array(scalarValue(f.type), { minLength: 0, maxLength: f.vec4s * 4 }) : scalarValue(f.type)))),
    ),
  );

describe('UniformLayout', () => {
  it('places fields where WGSL does (spec rules)', () => {
    const fields: UniformField[] = [
      { name: 'n', type: 'u32' },
      { name: 'shape', type: 'u32', vec4s: 2 },
      { name: 'alpha', type: 'f32' },
      { name: 'beta', type: 'i32' },
      { name: 'c', type: 'f32' },
      { name: 'strides', type: 'i32', vec4s: 1 },
      { name: 'tail', type: 'u32' },
    ];
    const layout = new UniformLayout(fields);
    expect(fields.map((f) => layout.offsetOf(f.name))).toEqual([0, 16, 48, 52, 56, 64, 80]);
    expect(layout.byteSize).toBe(96);
    expect(new UniformLayout([{ name: 'x', type: 'u32' }]).byteSize).toBe(16);
    fc.assert(
      fc.property(fieldsArb, (fs) => {
        const l = new UniformLayout(fs);
        const s = specOffsets(fs);
        expect(fs.map((f) => l.offsetOf(f.name))).toEqual(s.offsets);
        expect(l.byteSize).toBe(s.size);
      }),
      { numRuns: 200 },
    );
  });

  it('a block over 256 bytes is refused at dispatch, naming the op', async () => {
    const big: UniformField[] = [
      { name: 'a', type: 'u32', vec4s: 16 },
      { name: 'b', type: 'u32' },
    ];
    await expect(roundTrip(big, { a: [], b: 1 })).rejects.toThrow(/uniform-roundtrip: uniform block of 272 bytes exceeds 256/);
  });

  it('rejects missing and oversized values', () => {
    const l = new UniformLayout([
      { name: 'a', type: 'u32' },
      { name: 'v', type: 'f32', vec4s: 1 },
    ]);
    const dv = new DataView(new ArrayBuffer(64));
    expect(() => l.pack({ a: 1 }, dv)).toThrow(/'v' has no value/);
    expect(() => l.pack({ a: 1, v: [1, 2, 3, 4, 5] }, dv)).toThrow(/'v' holds 4 values; got 5/);
  });

  it('the GPU reads every packed field back exactly (fixed layout)', async () => {
    const fields: UniformField[] = [
      { name: 'n', type: 'u32' },
      { name: 'shape', type: 'u32', vec4s: 2 },
      { name: 'alpha', type: 'f32' },
      { name: 'beta', type: 'i32' },
      { name: 'strides', type: 'i32', vec4s: 1 },
      { name: 'tail', type: 'f32' },
    ];
    const values = { n: 0xfffffff0, shape: [3, 5, 7, 11, 13], alpha: -2.5, beta: -7, strides: [-1, 2, -3, 4], tail: 1e-30 };
    expect([...(await roundTrip(fields, values))]).toEqual(expectedWords(fields, values));
    const sub: UniformField[] = [
      { name: 'a', type: 'f32' },
      { name: 'b', type: 'f32' },
      { name: 'v', type: 'f32', vec4s: 1 },
    ];
    const sv = { a: 1e-40, b: -0, v: [-1e-39, 3.4e38, -0, 1.4e-45] };
    expect([...(await roundTrip(sub, sv))]).toEqual(expectedWords(sub, sv)); // subnormals and -0 survive
  });

  it('the GPU reads every packed field back exactly (random layouts)', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ([fields, vals]) => {
        const values = Object.fromEntries(fields.map((f, i) => [f.name, vals[i]]));
        expect([...(await roundTrip(fields, values))]).toEqual(expectedWords(fields, values));
      }),
      { numRuns: 12 },
    );
  });
});
