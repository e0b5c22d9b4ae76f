/**
 * The reduce kernel's variants on shapes large enough to select them (the property tests use small
 * shapes): two-pass split (full reductions), contiguous rows with and without vec4 loads, thread per
 * output (outer-axis reductions), and general addressing. GPU vs the registered float64 reference.
 */
import { describe, it, expect } from 'vitest';
import { tidy, type Tensor } from '../../src/node';
import { reducePlan } from '../../src/kernels/wgsl/reduce';
import { toGPU, fromGPU, poisonPool } from '../helpers/gpu-ref';
import { expectClose } from '../helpers/close';
import type { RefTensor } from '../../src/tensor/ops/define';
import type { DType } from '../../src/base/dtype';
import { registeredOps } from '../../src/tensor/ops/define';

/** Deterministic values; integer-valued so float sums are exact in any order. */
function values(shape: number[], dtype: DType, seed: number): RefTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed;
  const data = Float64Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s % 17) - 8;
  });
  // a unique extreme somewhere in the middle, and ties elsewhere, exercise arg tie-breaking across chunks
  data[Math.floor(n * 0.61)] = 50;
  data[Math.floor(n * 0.37)] = -50;
  return { shape, dtype, data };
}

/** `planned`: fields the first stage's kernel variant must have (read back from its key, 'reduce:' + the variant as JSON). */
const CASES: { shape: number[]; axes: number[]; variant: string; planned: Record<string, unknown> }[] = [
  { shape: [300_001], axes: [0], variant: 'w:c:p', planned: { mode: 'c', vec4: false, partialOut: true } }, // two passes, no vec4 (odd length)
  { shape: [4, 65_536], axes: [0, 1], variant: 'w:v4:p', planned: { mode: 'c', vec4: true, partialOut: true } }, // two passes, vec4
  { shape: [2, 200_000], axes: [1], variant: 'w:v4:p', planned: { mode: 'c', vec4: true, partialOut: true } }, // two outputs, each split
  { shape: [64, 1024], axes: [1], variant: 'w:v4:f', planned: { mode: 'c', vec4: true, partialOut: false } }, // rows, vec4
  { shape: [33, 1023], axes: [1], variant: 'w:c:f', planned: { mode: 'c', vec4: false, partialOut: false } }, // rows, scalar loads
  { shape: [300, 1030], axes: [0], variant: 't:r1', planned: { mode: 't', r1: true, vec4: false } }, // outer axis: thread per output
  { shape: [1030, 100], axes: [1], variant: 't:r1:v4', planned: { mode: 't', r1: true, vec4: true } }, // many rows: thread per row, vec4
  { shape: [1030, 3, 33], axes: [1, 2], variant: 't:r1', planned: { mode: 't', r1: true, vec4: false } }, // many rows, scalar loads
  { shape: [9, 100, 11, 3], axes: [0, 2], variant: 'w:g:f', planned: { mode: 'w', partialOut: false } }, // general addressing
  { shape: [9, 100, 11], axes: [0, 2], variant: 'w:r:f', planned: { mode: 'r', vec4: false, partialOut: false } }, // two reduced dims, inner contiguous: rows
  { shape: [7, 40, 4, 9], axes: [0, 2, 3], variant: 'w:r4:f', planned: { mode: 'r', vec4: true, partialOut: false } }, // NCHW over [0, 2, 3]: rows, vec4
  { shape: [6, 5, 4, 3], axes: [1, 3], variant: 't:rn', planned: { mode: 't', r1: false } }, // few elements per output
];

describe('reduce kernel variants match the reference', () => {
  for (const c of CASES) {
    for (const kind of ['sum', 'amax', 'amin', 'argmax', 'argmin'] as const) {
      const dtypes: DType[] = kind === 'sum' ? ['float32', 'int32'] : ['float32'];
      for (const dtype of dtypes) {
        if ((kind === 'argmax' || kind === 'argmin') && c.axes.length !== 1) continue;
        it(`${kind} ${dtype} [${c.shape}] over [${c.axes}] (${c.variant})`, async () => {
          const plan = reducePlan(kind === 'amax' ? 'max' : kind === 'amin' ? 'min' : kind, dtype, c.shape, c.axes);
          expect(JSON.parse(plan.stages[0].key.slice('reduce:'.length))).toMatchObject(c.planned);
          const op = registeredOps().get(kind)!;
          const x = values(c.shape, dtype, c.shape.length * 7 + c.axes.length);
          const attrs = { axes: c.axes, keepdim: false };
          poisonPool();
          const gx = toGPU(x) as Tensor;
          const y = tidy(() => op.call1([gx], attrs));
          expectClose((await fromGPU(y)).data, op.reference([x], attrs) as RefTensor, { rtol: 1e-6, atol: 0 }, kind);
          y.dispose();
          gx.dispose();
        });
      }
    }
  }
});
