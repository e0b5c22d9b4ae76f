/**
 * Broadcast addressing of the elementwise kernel on hand-picked shape pairs (the property tests draw
 * one full-shape operand and one suffix with some dims set to 1, which misses several coalescing
 * patterns): operands read at the flat index, single-element operands, and gathering operands whose
 * outer, middle or inner coalesced dims are broadcast. GPU vs the registered float64 reference.
 */
import { describe, it, expect } from 'vitest';
import { tidy, type Tensor } from '../../src/node';
import { coalesce } from '../../src/kernels/wgsl/elementwise';
import { broadcastStrides } from '../../src/base/shape';
import { toGPU, fromGPU, poisonPool } from '../helpers/gpu-ref';
import { expectClose } from '../helpers/close';
import type { RefTensor } from '../../src/tensor/ops/define';
import { registeredOps } from '../../src/tensor/ops/define';

function values(shape: number[], seed: number): RefTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed;
  return {
    shape,
    dtype: 'float32',
    data: Float64Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return (s % 17) - 8;
    }),
  };
}

const PAIRS: [number[], number[]][] = [
  [
    [3, 1],
    [3, 4],
  ], // column vector: outer dim gathered
  [
    [1, 4],
    [3, 1],
  ], // both operands broadcast
  [
    [2, 3, 4, 5],
    [1, 3, 1, 1],
  ], // per-channel vector (batch-norm, bias)
  [
    [2, 1, 4, 1],
    [1, 3, 1, 5],
  ], // alternating broadcast dims
  [
    [2, 3, 4, 5],
    [2, 3, 1, 5],
  ], // middle dim broadcast
  [[6, 1, 1, 7], [1]], // one-element operand
  [
    [5, 2, 3],
    [5, 2, 3],
  ], // same shapes
  [
    [4, 1, 3, 1, 2],
    [1, 5, 1, 6, 1],
  ],
];

describe('elementwise broadcast addressing matches the reference', () => {
  for (const [sa, sb] of PAIRS) {
    for (const name of ['add', 'mul', 'sub'] as const) {
      it(`${name} [${sa}] with [${sb}]`, async () => {
        const op = registeredOps().get(name)!;
        const a = values(sa, sa.length * 13 + 1),
          b = values(sb, sb.length * 7 + 3);
        poisonPool();
        const ga = toGPU(a) as Tensor,
          gb = toGPU(b) as Tensor;
        for (const [x, y, rx, ry] of [
          [ga, gb, a, b],
          [gb, ga, b, a],
        ] as const) {
          const out = tidy(() => op.call1([x, y], {}));
          expectClose((await fromGPU(out)).data, op.reference([rx, ry], {}) as RefTensor, { rtol: 0, atol: 0 }, name);
          out.dispose();
        }
        ga.dispose();
        gb.dispose();
      });
    }
  }
  it('coalesces [8,64,64,64]·[1,64,1,1] to rank 3', () => {
    const out = [8, 64, 64, 64];
    const plan = coalesce(out, [broadcastStrides(out, out), broadcastStrides([1, 64, 1, 1], out)]);
    expect(plan).toEqual({
      shape: [8, 64, 4096],
      strides: [
        [262144, 4096, 1],
        [0, 1, 0],
      ],
    });
  });
});
