/**
 * matmul and linear beyond the registry tests: every kernel variant forced in turn against the
 * float64 reference (odd sizes, 1×1, non-multiples of the tiles, both transposes, broadcast
 * batches), the autotune path, and the argument errors.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { matmul, linear, tensor, zeros, configureMatmul, tidy, getDefaultDevice, ArgumentError } from '../../src/node';
import { MATMUL_VARIANTS } from '../../src/kernels/wgsl/matmul';
import { tuneMatmul, matmulTuning, resetMatmulTuning } from '../../src/kernels/wgsl/matmul-autotune';
import { matmulCase } from './cases/matmul';
import { toGPU, poisonPool } from '../helpers/gpu-ref';
import { mismatch } from '../helpers/close';
import type { Tensor } from '../../src/node';
import type { RefOperand } from '../../src/tensor/ops/define';
import { registeredOps } from '../../src/tensor/ops/define';

const op = registeredOps().get('matmul')!;
const tol = { rtol: 1e-4, atol: 1e-4 };

async function check(inputs: RefOperand[], attrs: object) {
  poisonPool();
  const want = op.reference(inputs, attrs) as { shape: number[]; data: Float64Array; dtype: 'float32' };
  const gpu = inputs.map(toGPU) as Tensor[];
  const y = tidy(() => op.call1(gpu, attrs));
  try {
    expect(y.shape).toEqual(want.shape);
    const m = mismatch(await y.data(), want, tol);
    if (m) throw new Error(`${m}\nshapes ${inputs.map((x) => JSON.stringify((x as { shape: number[] }).shape)).join(' · ')} attrs ${JSON.stringify(attrs)}`);
  } finally {
    y.dispose();
    gpu.forEach((t) => t.dispose());
  }
}

const rnd = (shape: number[], seed: number) => {
  let s = seed;
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    shape,
    dtype: 'float32' as const,
    data: Float64Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return Math.fround((s / 2147483648) * 4 - 2);
    }),
  };
};

afterAll(() => {
  configureMatmul({ variant: null, autotune: true });
});

describe('matmul kernel variants', () => {
  for (const variant of Object.keys(MATMUL_VARIANTS)) {
    it(`matmul variant ${variant} matches the reference`, async () => {
      configureMatmul({ variant });
      try {
        // fixed edge cases: 1×1, sizes around the tiles, every transpose, aligned and not
        const fixed: [number, number, number][] = [
          [1, 1, 1],
          [5, 1, 9],
          [33, 17, 5],
          [65, 66, 7],
          [8, 12, 16],
          [3, 4, 0],
        ];
        let seed = 1;
        for (const [m, n, k] of fixed)
          for (const tA of [false, true])
            for (const tB of [false, true]) {
              await check([rnd(tA ? [k, m] : [m, k], seed++), rnd(tB ? [n, k] : [k, n], seed++)], { transA: tA, transB: tB });
            }
        // broadcast batches on both sides
        await check([rnd([2, 1, 9, 6], 7), rnd([3, 6, 5], 8)], { transA: false, transB: false });
        await check([rnd([3, 8, 12], 9), rnd([12, 8], 10)], { transA: false, transB: false });
        await fc.assert(
          fc.asyncProperty(matmulCase, async ({ inputs, attrs }) => check(inputs, attrs)),
          { numRuns: 8 },
        );
      } finally {
        configureMatmul({ variant: null });
      }
    }, 300_000); // eight shader variants (transposes × alignment) to compile: seconds each on a loaded CPU adapter
  }

  it('matmul variants agree with each other on one problem', async () => {
    const a = toGPU(rnd([70, 45], 3)) as Tensor,
      b = toGPU(rnd([45, 38], 4)) as Tensor;
    const outs: Float32Array[] = [];
    for (const variant of Object.keys(MATMUL_VARIANTS)) {
      configureMatmul({ variant });
      const y = matmul(a, b);
      outs.push((await y.data()) as Float32Array);
      y.dispose();
    }
    configureMatmul({ variant: null });
    for (const o of outs.slice(1))
      for (let i = 0; i < o.length; i++) expect(Math.abs(o[i] - outs[0][i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(outs[0][i])));
    a.dispose();
    b.dispose();
  });
});

describe('matmul autotune', () => {
  it('matmul autotune measures the candidates once per shape class and uses the winner', async () => {
    resetMatmulTuning();
    configureMatmul({ variant: null, autotune: true });
    const device = getDefaultDevice();
    const problem = { batchShape: [], aStrides: [], bStrides: [], M: 96, N: 96, K: 64, transA: false, transB: false };
    const r = await tuneMatmul(device, problem);
    expect(Object.keys(MATMUL_VARIANTS)).toContain(r.variant);
    expect(Object.keys(r.secondsPerRun).length).toBeGreaterThan(1);
    expect(await tuneMatmul(device, problem)).toBe(r);
    expect(matmulTuning()).toContain(r);
    // a real matmul of that class still gives the reference result with the chosen variant
    await check([rnd([96, 64], 11), rnd([64, 96], 12)], { transA: false, transB: false });
  });
});

describe('matmul and linear semantics', () => {
  it('matmul follows torch.matmul for 1-D operands', async () => {
    const v = tensor([1, 2, 3]);
    const m = tensor([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    const dot = matmul(v, v);
    expect(dot.shape).toEqual([]);
    expect(await dot.item()).toBe(14);
    expect(await matmul(v, m).toArray()).toEqual([4, 5]);
    expect(await matmul(tensor([[1, 2, 3]]), v).toArray()).toEqual([14]);
    expect(matmul(zeros([4, 2, 3]), v).shape).toEqual([4, 2]);
    expect(matmul(v, zeros([4, 3, 5])).shape).toEqual([4, 5]);
  });

  it('matmul errors name both shapes', () => {
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]))).toThrow(ArgumentError);
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]))).toThrow(/\[4, 5\].*\[2, 3\]/);
    expect(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 5]))).toThrow(/batch/);
    expect(() => matmul(zeros([]), zeros([3]))).toThrow(/0-d/);
    expect(() => matmul(tensor([1, 2], { dtype: 'int32' }), zeros([2]))).toThrow(/float32/);
    expect(() => matmul(zeros([3]), zeros([3, 2]), { transA: true })).toThrow(/transA/);
  });

  it('linear is x·wᵀ + b and checks its arguments', async () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    const w = tensor([
      [1, 0],
      [1, 1],
      [0, 2],
    ]);
    expect(await linear(x, w, tensor([1, 2, 3])).toArray()).toEqual([
      [2, 5, 7],
      [4, 9, 11],
    ]);
    expect(await linear(tensor([1, 2]), w).toArray()).toEqual([1, 3, 4]);
    expect(() => linear(zeros([2, 3]), w)).toThrow(/features/);
    expect(() => linear(x, w, zeros([2]))).toThrow(/bias/);
  });
});
