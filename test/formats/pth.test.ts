import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flattenStateDict, readPth, PthError } from '../../src/formats/pth';
import { HostTensor, hostValues } from '../../src/formats/host-tensor';
import { UnpicklingError } from '../../src/formats/pickle';
import { loadPth } from '../../src/io/files';
import { FIXTURES, f32bytes, makePtZip, makeZip, op, pickle, tensorOps } from './helpers';

const load = (f: string) => readPth(new Uint8Array(readFileSync(join(FIXTURES, f))));
const single = async (f: string) => ((await load(f)) as { tensor: HostTensor }).tensor;
const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));
const range = (a: number, n: number, step = 1) => Array.from({ length: n }, (_, i) => a + i * step);

function expectTensor(t: unknown, dtype: string, shape: number[], values?: number[]) {
  expect(t).toBeInstanceOf(HostTensor);
  const h = t as HostTensor;
  expect(h.dtype).toBe(dtype);
  expect(h.shape).toEqual(shape);
  if (values) expect(hostValues(h)).toEqual(values);
}

describe('readPth: fixtures written by torch.save', () => {
  it('single tensors of every dtype load with exact values', async () => {
    expectTensor(await single('float32.pt'), 'float32', [4], f32([1.0, 2.5, -3.7, 0.0]));
    expectTensor(await single('float64.pt'), 'float64', [3], [1.1, 2.2, 3.3]);
    expectTensor(await single('int64.pt'), 'int64', [4], [100, -200, 300, 0]);
    expect((await single('int64.pt')).data).toBeInstanceOf(BigInt64Array);
    expectTensor(await single('int32.pt'), 'int32', [3], [10, 20, -30]);
    expectTensor(await single('int16.pt'), 'int16', [3], [1000, -2000, 3000]);
    expectTensor(await single('int8.pt'), 'int8', [4], [127, -128, 0, 50]);
    expectTensor(await single('uint8.pt'), 'uint8', [4], [0, 128, 255, 42]);
    expectTensor(await single('bool.pt'), 'bool', [5], [1, 0, 1, 1, 0]);
    expectTensor(await single('float16.pt'), 'float16', [3], [1.5, -2.25, 3.125]);
    expectTensor(await single('bfloat16.pt'), 'bfloat16', [3], [1.5, -2.5, 3.5]);
    expectTensor(await single('tensor_2d.pt'), 'float32', [3, 2], [1, 2, 3, 4, 5, 6]);
    expectTensor(await single('empty.pt'), 'float32', [0], []);
    expectTensor(await single('scalar.pt'), 'float32', [], [42]);
    expectTensor(await single('special_values.pt'), 'float32', [5], [NaN, Infinity, -Infinity, 0, 1]);
    expectTensor(await single('extreme_values.pt'), 'float32', [4], f32([1e-30, 1e30, -1e-30, -1e30]));
    for (const [f, shape] of [
      ['tensor_3d.pt', [2, 3, 4]],
      ['tensor_4d.pt', [2, 3, 2, 2]],
    ] as const) {
      const t = await single(f);
      expectTensor(t, 'float32', [...shape]);
      expect(hostValues(t).every(Number.isFinite)).toBe(true);
      expect(new Set(hostValues(t)).size).toBe(t.size); // random values, all distinct
    }
    const big = hostValues(await single('large_shape.pt'));
    expect(big.length).toBe(10000);
    expect([big[0], big[50 * 100 + 50], big[99 * 100 + 99], big.reduce((a, b) => a + b)]).toEqual([1, 2, 3, 6]);
  });

  it('state dicts, nested dicts, checkpoints, parameters and buffers', async () => {
    const sd = flattenStateDict(await load('state_dict.pt'));
    expect(Object.keys(sd)).toEqual(['weight', 'bias', 'running_mean', 'running_var']);
    expectTensor(sd.weight, 'float32', [3, 4]);
    expectTensor(sd.bias, 'float32', [3]);
    expectTensor(sd.running_mean, 'float32', [3], [0, 0, 0]);
    expectTensor(sd.running_var, 'float32', [3], [1, 1, 1]);

    const nested = flattenStateDict(await load('nested_dict.pt'));
    expect(Object.fromEntries(Object.entries(nested).map(([k, t]) => [k, t.shape]))).toEqual({
      'layer1.weight': [2, 3],
      'layer1.bias': [2],
      'layer2.weight': [4, 2],
      'layer2.bias': [4],
    });

    const ck = (await load('checkpoint.pt')) as any;
    expect(ck.epoch).toBe(42);
    expect(ck.loss).toBe(0.123);
    expect(Object.fromEntries(Object.entries(flattenStateDict(ck)).map(([k, t]) => [k, t.shape]))).toEqual({
      'model_state_dict.fc1.weight': [10, 5],
      'model_state_dict.fc1.bias': [10],
      'model_state_dict.fc2.weight': [3, 10],
      'model_state_dict.fc2.bias': [3],
      'optimizer_state_dict.state.0.momentum_buffer': [10, 5],
    });

    const cs = (await load('complex_structure.pt')) as any;
    expect(cs.metadata).toEqual({ version: 1, name: 'test_model' });
    expect(cs.config).toEqual({ hidden_size: 4, num_layers: 2 });
    expect(Object.fromEntries(Object.entries(flattenStateDict(cs.state)).map(([k, t]) => [k, t.shape]))).toEqual({
      'encoder.layer_0.weight': [4, 3],
      'encoder.layer_0.bias': [4],
      'encoder.layer_1.weight': [2, 4],
      'encoder.layer_1.bias': [2],
      'decoder.weight': [3, 2],
      'decoder.bias': [3],
    });

    expectTensor(((await load('parameter.pt')) as any).param, 'float32', [3, 3]);
    const buf = (await load('buffers.pt')) as any;
    expectTensor(buf.buffer1, 'int32', [3], [1, 2, 3]);
    expectTensor(buf.buffer2, 'bool', [2], [1, 0]);
    const mixed = (await load('mixed_types.pt')) as any;
    expectTensor(mixed.float32, 'float32', [2], [1, 2]);
    expectTensor(mixed.int64, 'int64', [2], [100, 200]);
    expectTensor(mixed.bool, 'bool', [2], [1, 0]);
    expectTensor(mixed.float64, 'float64', [2], [1.1, 2.2]);
  });

  it('legacy format: storages after the pickle, views at offsets', async () => {
    const off = (await load('legacy_with_offsets.pt')) as any;
    expectTensor(off.tensor1, 'float32', [10]); // 1 + 0.01 * arange(10), rounded by float32 arithmetic
    hostValues(off.tensor1).forEach((v, i) => expect(v).toBeCloseTo(1 + i / 100, 6));
    expectTensor(off.tensor2, 'float32', [5], f32([2, 2.1, 2.2, 2.3, 2.4]));
    expectTensor(off.tensor3, 'float32', [5], f32([3, 3.1, 3.2, 3.3, 3.4]));
    const views = (await load('legacy_uncloned_views.pt')) as any; // one storage of 100, offsets 10 and 50
    expectTensor(views.tensor1, 'float32', [10], range(10, 10));
    expectTensor(views.tensor2, 'float32', [10], range(50, 10));
    const shared = (await load('legacy_shared_storage.pt')) as any;
    expect([shared.view1.shape, shared.view2.shape, shared.view3.shape]).toEqual([[10], [20], [10]]);
    const simple = flattenStateDict(await load('simple_legacy.pt'));
    expectTensor(simple.weight, 'float32', [2, 3]);
    expectTensor(simple.bias, 'float32', [2], [1, 1]);
    expectTensor(simple.running_mean, 'float32', [2], [0, 0]);
  });

  it('old tar format', async () => {
    expectTensor(((await load('tar_float32.tar')) as any).tensor, 'float32', [4], f32([1.0, 2.5, -3.7, 0.0]));
    expectTensor(((await load('tar_float64.tar')) as any).tensor, 'float64', [3], [1.1, 2.2, 3.3]);
    expectTensor(((await load('tar_int64.tar')) as any).tensor, 'int64', [4], [100, -200, 300, 0]);
    expectTensor(((await load('tar_2d_tensor.tar')) as any).matrix, 'float32', [3, 4], range(1, 12));
    const wb = (await load('tar_weight_bias.tar')) as any;
    expectTensor(wb.weight, 'float32', [2, 3], f32([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]));
    expectTensor(wb.bias, 'float32', [2], f32([0.01, 0.02]));
    const m = (await load('tar_multi_dtype.tar')) as any;
    expectTensor(m.float_tensor, 'float32', [3], [1.5, 2.5, 3.5]);
    expectTensor(m.double_tensor, 'float64', [2], [1.111, 2.222]);
    expectTensor(m.int_tensor, 'int64', [4], [10, 20, 30, 40]);
  });

  it('broken.pt gives a clear error', async () => {
    await expect(load('broken.pt')).rejects.toThrow(/not a PyTorch checkpoint \(3 bytes starting 61 62 63\)/);
    await expect(readPth(new Uint8Array(0))).rejects.toThrow(PthError);
  });

  it('loadPth reads from a path', async () => {
    expectTensor(((await loadPth(join(FIXTURES, 'int32.pt'))) as any).tensor, 'int32', [3], [10, 20, -30]);
  });
});

describe('readPth: strides, offsets, shared storages, deflate, byte order', () => {
  // storage '0' holds 0..11; 'a' is its transpose view (3,4)ᵀ, 'b' a strided slice of the same storage
  const storage = f32bytes(range(0, 12));
  const pkl = pickle(
    op.proto(2),
    op.emptyDict,
    op.str('a'),
    tensorOps('FloatStorage', '0', 12, 0, [4, 3], [1, 4]),
    op.setitem,
    op.str('b'),
    tensorOps('FloatStorage', '0', 12, 5, [2, 2], [4, 2]),
    op.setitem,
    op.str('c'),
    tensorOps('FloatStorage', '0', 12, 0, [2, 3], [0, 1]),
    op.setitem,
    op.str('d'),
    tensorOps('DoubleStorage', '1', 6, 0, [3, 2], [1, 3]),
    op.setitem,
    op.str('e'),
    tensorOps('BoolStorage', '2', 4, 0, [2, 2], [1, 2]),
    op.setitem,
    op.stop,
  );
  const expected = { a: [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11], b: [5, 7, 9, 11], c: [0, 1, 2, 0, 1, 2] };
  const more = { 1: new Uint8Array(Float64Array.of(0, 1, 2, 3, 4, 5).buffer), 2: Uint8Array.of(1, 1, 0, 0) };

  it('non-contiguous views are copied out in logical order', async () => {
    for (const deflate of [false, true]) {
      const r = (await readPth(makePtZip(pkl, { 0: storage, ...more }, { deflate }))) as Record<string, HostTensor>;
      expectTensor(r.a, 'float32', [4, 3], expected.a);
      expectTensor(r.b, 'float32', [2, 2], expected.b);
      expectTensor(r.c, 'float32', [2, 3], expected.c);
      expectTensor(r.d, 'float64', [3, 2], [0, 3, 1, 4, 2, 5]);
      expectTensor(r.e, 'bool', [2, 2], [1, 0, 1, 0]);
    }
  });

  it('zip64 archives (64-bit sizes and offsets in extra fields)', async () => {
    const r = (await readPth(makePtZip(pkl, { 0: storage, ...more }, { zip64: true }))) as Record<string, HostTensor>;
    expectTensor(r.a, 'float32', [4, 3], expected.a);
    expectTensor(r.e, 'bool', [2, 2], [1, 0, 1, 0]);
  });

  it('big-endian archives are byte-swapped', async () => {
    const be = new Uint8Array(storage.length);
    for (let i = 0; i < storage.length; i += 4)
      be.set(
        storage
          .subarray(i, i + 4)
          .slice()
          .reverse(),
        i,
      );
    const be1 = new Uint8Array(more[1].length);
    for (let i = 0; i < be1.length; i += 8)
      be1.set(
        more[1]
          .subarray(i, i + 8)
          .slice()
          .reverse(),
        i,
      );
    const r = (await readPth(makePtZip(pkl, { 0: be, 1: be1, 2: more[2] }, { byteorder: 'big' }))) as Record<string, HostTensor>;
    expectTensor(r.a, 'float32', [4, 3], expected.a);
    expectTensor(r.d, 'float64', [3, 2], [0, 3, 1, 4, 2, 5]);
  });

  it('views reading past their storage are refused', async () => {
    const bad = pickle(op.proto(2), op.emptyDict, op.str('a'), tensorOps('FloatStorage', '0', 12, 10, [2, 2], [4, 1]), op.setitem, op.stop);
    await expect(readPth(makePtZip(bad, { 0: storage }))).rejects.toThrow(/reads element 15 of storage '0' which has 12/);
    const missing = pickle(op.proto(2), op.emptyDict, op.str('a'), tensorOps('FloatStorage', '7', 12, 0, [12], [1]), op.setitem, op.stop);
    await expect(readPth(makePtZip(missing, { 0: storage }))).rejects.toThrow(/storage '7' is missing/);
    const short = pickle(op.proto(2), op.emptyDict, op.str('a'), tensorOps('FloatStorage', '0', 12, 0, [12], [1]), op.setitem, op.stop);
    await expect(readPth(makePtZip(short, { 0: storage.subarray(0, 40) }))).rejects.toThrow(/declares 12 float32 elements but holds 10/);
  });
});

describe('readPth: malicious pickles are refused before anything runs', () => {
  const attacks: [string, number[]][] = [
    ['os.system', [...op.global('os', 'system'), ...op.str('touch /tmp/pwned'), ...op.tuple1, ...op.reduce]],
    ['posix.system', [...op.global('posix', 'system'), ...op.str('id'), ...op.tuple1, ...op.reduce]],
    ['builtins.eval', [...op.str('builtins'), ...op.str('eval'), ...op.stackGlobal, ...op.str('1+1'), ...op.tuple1, ...op.reduce]],
    ['subprocess.Popen', [...op.global('subprocess', 'Popen'), ...op.mark, ...op.str('ls'), ...op.tuple, ...op.newobj]],
    ['builtins.getattr', [...op.global('builtins', 'getattr'), ...op.global('collections', 'OrderedDict'), ...op.str('x'), ...op.tuple, ...op.reduce]],
  ];
  for (const [name, ops] of attacks) {
    it(`refuses ${name}`, async () => {
      // the payload is wrapped in a dict entry after a valid tensor, so a permissive reader would get far
      const pkl = pickle(
        op.proto(2),
        op.emptyDict,
        op.str('w'),
        tensorOps('FloatStorage', '0', 1, 0, [1], [1]),
        op.setitem,
        op.str('x'),
        ops,
        op.setitem,
        op.stop,
      );
      const zip = makePtZip(pkl, { 0: f32bytes([1]) });
      const err = await readPth(zip).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(UnpicklingError);
      expect(err.message).toContain(`refusing to load global '${name}'`);
      // the error points at the GLOBAL opcode, before the REDUCE that would call it
      const at = Number(/at byte (\d+)/.exec(err.message)![1]);
      expect(at).toBeLessThan(pkl.lastIndexOf(ops.at(-1)!));
    });
  }

  it('refuses a malicious legacy-format file too', async () => {
    const magic = pickle(op.proto(2), [0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19], op.stop);
    const proto = pickle(op.proto(2), [0x4d, 0xe9, 0x03], op.stop);
    const sys = pickle(op.proto(2), op.emptyDict, op.stop);
    const evil = pickle(op.proto(2), op.global('os', 'system'), op.str('echo hi'), op.tuple1, op.reduce, op.stop);
    await expect(readPth(Uint8Array.from([...magic, ...proto, ...sys, ...evil]))).rejects.toThrow(/refusing to load global 'os\.system'/);
  });

  it('a zip without data.pkl is not a checkpoint', async () => {
    await expect(readPth(makeZip([{ name: 'x/y.txt', data: new Uint8Array(3) }]))).rejects.toThrow(/no data\.pkl/);
  });
});
