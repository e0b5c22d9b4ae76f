/**
 * float16 tensors (WebGPU 'shader-f16'): storage in f16, arithmetic in f32. Each f16 kernel is checked
 * against the float64 reference of its op, run on the same f16-rounded inputs and rounded to f16 at the
 * end (what an f32-accumulating kernel should store, within an f16 ulp and the f32 accumulation error).
 * Also: host encode/decode, the ops that refuse float16 by name, and the missing-feature error.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import fc from 'fast-check';
import { tensor, cast, conv2d, maxPool2d, interpolate, concat, add, sigmoid, exp, matmul, getDefaultDevice, Device, ArgumentError } from '../../src/node';
import { requestAdapter } from '../../src/kernels/webgpu/device';
import { hasFloat16, roundFloat16, toFloat16Bits, fromFloat16Bits } from '../../src/base/dtype';
import { refConv2d } from '../../src/tensor/ops/ref/conv';
import { refMaxPool } from '../../src/tensor/ops/ref/pool';
import { refInterpolate } from '../../src/tensor/ops/ref/resize';
import type { RefTensor } from '../../src/tensor/ops/define';
import { poisonPool } from '../helpers/gpu-ref';

const RUNS = 15;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** f16-representable values in [-3, 3]. */
const half = (s: number[]) =>
  fc
    .array(fc.double({ min: -3, max: 3, noNaN: true }).map(roundFloat16), { minLength: size(s), maxLength: size(s) })
    .map((v): RefTensor => ({ shape: s, dtype: 'float16', data: Float64Array.from(v) }));
const gpu = (r: RefTensor) => tensor(Float32Array.from(r.data), { shape: r.shape, dtype: 'float16' });

/** |got − f16(want)| ≤ atol + rtol·|want|, where atol scales with `scale` (the sum of |terms| for a reduction). */
function expectNear(got: ArrayLike<number>, want: RefTensor, rtol = 2 ** -10, scale?: Float64Array): void {
  expect(got.length).toBe(want.data.length);
  for (let i = 0; i < got.length; i++) {
    const w = roundFloat16(want.data[i]);
    const tol = rtol * Math.abs(w) + (scale ? 1e-6 * scale[i] : 0) + 1e-7;
    if (!(Math.abs(got[i] - w) <= tol)) throw new Error(`element ${i} of ${want.shape}: got ${got[i]}, want ${w} (float64 ${want.data[i]}), tol ${tol}`);
  }
}

beforeAll(() => {
  if (!hasFloat16(getDefaultDevice())) throw new Error('this adapter lacks shader-f16; the float16 tests need it (lavapipe has it)');
});

describe('float16 on the host', () => {
  it('encode/decode round trips, ties to even, overflow to Infinity, subnormals', () => {
    expect(fromFloat16Bits(toFloat16Bits(1))).toBe(1);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(roundFloat16(65519)).toBe(65504);
    expect(roundFloat16(65520)).toBe(Infinity);
    expect(roundFloat16(-1e6)).toBe(-Infinity);
    expect(roundFloat16(1 + 2 ** -11)).toBe(1); // tie: to even
    expect(roundFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundFloat16(2 ** -24)).toBe(2 ** -24);
    expect(roundFloat16(2 ** -26)).toBe(0);
    expect(roundFloat16(0.1)).toBe(0.0999755859375);
    expect(Number.isNaN(roundFloat16(NaN))).toBe(true);
    for (let h = 0; h < 0x7c00; h += 7) expect(toFloat16Bits(fromFloat16Bits(h))).toBe(h);
  });

  it('tensor(…, { dtype: "float16" }) stores 2 bytes an element and data() decodes to a Float32Array', async () => {
    const t = tensor([1, 2.5, -3, 0.1, 70000], { dtype: 'float16' });
    expect(t.dtype).toBe('float16');
    expect(t.storage.byteSize).toBe(10);
    const d = await t.data();
    expect(d).toBeInstanceOf(Float32Array);
    expect([...d]).toEqual([1, 2.5, -3, 0.0999755859375, Infinity]);
  });
});

describe('float16 kernels against the float64 references', () => {
  it('cast float32 → float16 → float32 rounds to nearest (even)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: -70000, max: 70000, noNaN: true }).map(Math.fround), { minLength: 1, maxLength: 40 }), async (v) => {
        poisonPool();
        const h = cast(tensor(v), 'float16');
        expect(h.dtype).toBe('float16');
        const back = cast(h, 'float32');
        const got = [...(await back.data())],
          viaData = [...(await h.data())];
        expect(got).toEqual(v.map(roundFloat16));
        expect(viaData).toEqual(got);
        h.dispose();
        back.dispose();
      }),
      { numRuns: RUNS },
    );
  });

  it('conv2d (groups, stride, dilation, padding, bias, relu): f32 accumulation, one f16 rounding', async () => {
    const arb = fc
      .record({
        n: fc.integer({ min: 1, max: 2 }),
        g: fc.integer({ min: 1, max: 2 }),
        cg: fc.integer({ min: 1, max: 5 }),
        og: fc.integer({ min: 1, max: 6 }),
        h: fc.integer({ min: 3, max: 9 }),
        w: fc.integer({ min: 3, max: 9 }),
        k: fc.integer({ min: 1, max: 3 }),
        s: fc.integer({ min: 1, max: 2 }),
        d: fc.integer({ min: 1, max: 2 }),
        p: fc.integer({ min: 0, max: 2 }),
        bias: fc.boolean(),
        relu: fc.boolean(),
      })
      .filter((c) => c.h + 2 * c.p >= c.d * (c.k - 1) + 1 && c.w + 2 * c.p >= c.d * (c.k - 1) + 1)
      .chain((c) => fc.tuple(fc.constant(c), half([c.n, c.g * c.cg, c.h, c.w]), half([c.g * c.og, c.cg, c.k, c.k]), half([c.g * c.og])));
    await fc.assert(
      fc.asyncProperty(arb, async ([c, x, w, b]) => {
        poisonPool();
        const attrs = {
          stride: [c.s, c.s] as [number, number],
          padding: [c.p, c.p, c.p, c.p] as [number, number, number, number],
          dilation: [c.d, c.d] as [number, number],
          groups: c.g,
          act: (c.relu ? 'relu' : 'none') as 'relu' | 'none',
        };
        const X = gpu(x),
          W = gpu(w),
          B = gpu(b);
        const y = conv2d(X, W, { bias: c.bias ? B : undefined, stride: c.s, padding: c.p, dilation: c.d, groups: c.g, activation: c.relu ? 'relu' : 'none' });
        expect(y.dtype).toBe('float16');
        const want = refConv2d(x, w, c.bias ? b : undefined, attrs);
        const scale = refConv2d(
          { ...x, data: x.data.map(Math.abs) },
          { ...w, data: w.data.map(Math.abs) },
          c.bias ? { ...b, data: b.data.map(Math.abs) } : undefined,
          { ...attrs, act: 'none' },
        ).data;
        expect(y.shape).toEqual(want.shape);
        expectNear(await y.data(), want, 2 ** -10, scale);
        [X, W, B, y].forEach((t) => t.dispose());
      }),
      { numRuns: RUNS },
    );
  });

  it('maxPool2d (ceilMode, padding, stride) picks exact f16 values', async () => {
    const arb = fc
      .record({
        h: fc.integer({ min: 1, max: 9 }),
        w: fc.integer({ min: 1, max: 9 }),
        k: fc.integer({ min: 1, max: 3 }),
        s: fc.integer({ min: 1, max: 3 }),
        ceil: fc.boolean(),
        pad: fc.boolean(),
      })
      .filter((c) => c.h >= c.k && c.w >= c.k)
      .chain((c) => fc.tuple(fc.constant(c), half([2, 3, c.h, c.w])));
    await fc.assert(
      fc.asyncProperty(arb, async ([c, x]) => {
        poisonPool();
        const p = c.pad ? Math.floor(c.k / 2) : 0;
        const X = gpu(x);
        const y = maxPool2d(X, { kernelSize: c.k, stride: c.s, padding: p, ceilMode: c.ceil });
        expect(y.dtype).toBe('float16');
        const [want] = refMaxPool(x, {
          adaptive: false,
          kernel: [c.k, c.k],
          stride: [c.s, c.s],
          padding: [p, p],
          dilation: [1, 1],
          ceilMode: c.ceil,
          countIncludePad: false,
          divisorOverride: null,
          outputSize: [y.shape[2], y.shape[3]],
          inputSize: [c.h, c.w],
        });
        expect(y.shape).toEqual(want.shape);
        expect([...(await y.data())]).toEqual([...want.data]);
        X.dispose();
        y.dispose();
      }),
      { numRuns: RUNS },
    );
  });

  it('interpolate bilinear (both alignCorners) and nearest; upsampleLike sizes', async () => {
    const arb = fc
      .record({
        h: fc.integer({ min: 1, max: 7 }),
        w: fc.integer({ min: 1, max: 7 }),
        oh: fc.integer({ min: 1, max: 12 }),
        ow: fc.integer({ min: 1, max: 12 }),
        mode: fc.constantFrom('bilinear' as const, 'nearest' as const),
        ac: fc.boolean(),
      })
      .chain((c) => fc.tuple(fc.constant(c), half([1, 2, c.h, c.w])));
    await fc.assert(
      fc.asyncProperty(arb, async ([c, x]) => {
        poisonPool();
        const X = gpu(x);
        const alignCorners = c.mode === 'bilinear' ? c.ac : false;
        const y = interpolate(X, { size: [c.oh, c.ow], mode: c.mode, alignCorners: c.mode === 'bilinear' ? c.ac : undefined });
        expect(y.dtype).toBe('float16');
        const want = refInterpolate(x, { mode: c.mode, alignCorners, inputSize: [c.h, c.w], outputSize: [c.oh, c.ow], scaleFactor: [null, null] });
        // the kernel computes its taps in f32 (as PyTorch for float tensors): allow the f32 weight error on top of one f16 rounding
        expectNear(
          await y.data(),
          want,
          2 ** -10,
          Float64Array.from(want.data, () => 30),
        );
        X.dispose();
        y.dispose();
      }),
      { numRuns: RUNS },
    );
  });

  it('concat copies 2-byte elements (odd sizes included) along any dim', async () => {
    const arb = fc
      .record({
        a: fc.integer({ min: 1, max: 3 }),
        b: fc.integer({ min: 1, max: 3 }),
        c: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 3 }),
        dim: fc.integer({ min: 0, max: 2 }),
      })
      .chain((s) => fc.tuple(fc.constant(s), fc.array(half([s.a, s.b, s.c]), { minLength: s.k, maxLength: s.k })));
    await fc.assert(
      fc.asyncProperty(arb, async ([s, parts]) => {
        poisonPool();
        const G = parts.map(gpu);
        const y = concat(G, s.dim);
        expect(y.dtype).toBe('float16');
        const got = await y.data();
        // reference: index walk
        const outShape = [s.a, s.b, s.c];
        outShape[s.dim] *= s.k;
        const want: number[] = [];
        for (let i = 0; i < outShape[0]; i++)
          for (let j = 0; j < outShape[1]; j++)
            for (let l = 0; l < outShape[2]; l++) {
              const idx = [i, j, l];
              const part = Math.floor(idx[s.dim] / [s.a, s.b, s.c][s.dim]);
              idx[s.dim] %= [s.a, s.b, s.c][s.dim];
              want.push(parts[part].data[(idx[0] * s.b + idx[1]) * s.c + idx[2]]);
            }
        expect([...got]).toEqual(want);
        G.forEach((t) => t.dispose());
        y.dispose();
      }),
      { numRuns: RUNS },
    );
  });

  it('add (f16 + f16 → f16, broadcast) and sigmoid (f16 → float32)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(fc.constant(n))),
        async (m, [n]) => {
          const [a, b] = fc.sample(fc.tuple(half([m, n]), half([1, n])), 1)[0];
          poisonPool();
          const A = gpu(a),
            B = gpu(b);
          const y = add(A, B);
          expect(y.dtype).toBe('float16');
          expectNear(await y.data(), { shape: [m, n], dtype: 'float16', data: Float64Array.from(a.data, (v, i) => v + b.data[i % n]) });
          const z = add(A, 0.5);
          expect(z.dtype).toBe('float16');
          const s = sigmoid(A);
          expect(s.dtype).toBe('float32');
          const sg = await s.data();
          a.data.forEach((v, i) => expect(Math.abs(sg[i] - 1 / (1 + Math.exp(-v)))).toBeLessThan(1e-6));
          [A, B, y, z, s].forEach((t) => t.dispose());
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('float16 errors', () => {
  it('ops without float16 kernels refuse it, naming the op and the dtype', () => {
    const h = tensor([1, 2, 3, 4], { dtype: 'float16', shape: [2, 2] });
    expect(() => exp(h)).toThrow(/exp.*float16.*exp does not support float16/);
    expect(() => exp(h)).toThrow(ArgumentError);
    expect(() => matmul(h, h)).toThrow(/float16/);
    const x = tensor(
      [
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
      ],
      { dtype: 'float16' },
    );
    expect(() => conv2d(x, tensor([[[[1]]]]))).toThrow(/conv2d: argument 'weight' has dtype float32; expected float16/);
    expect(() =>
      conv2d(
        tensor([
          [
            [
              [1, 2],
              [3, 4],
            ],
          ],
        ]),
        cast(tensor([[[[1]]]]), 'float16'),
      ),
    ).toThrow(/'weight' has dtype float16; expected float32/);
    h.dispose();
    x.dispose();
  });

  it('a device without shader-f16 refuses float16 tensors with a clear error', async () => {
    const adapter = await requestAdapter();
    const plain = new Device(await adapter.requestDevice(), adapter.info, { label: 'no-f16' });
    try {
      expect(hasFloat16(plain)).toBe(false);
      expect(() => tensor([1, 2], { dtype: 'float16', device: plain })).toThrow(
        /float16 tensors need the WebGPU feature 'shader-f16', which device no-f16 lacks/,
      );
      expect(() => cast(tensor([1, 2], { device: plain }), 'float16')).toThrow(/shader-f16/);
    } finally {
      plain.gpu.destroy();
    }
  });
});
