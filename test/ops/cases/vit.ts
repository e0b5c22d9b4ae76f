/** Cases of the ops SAM's ViT image encoder added: window partition/unpartition, LayerNorm2d and 1-d interpolation. */
import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable, OpCase } from '../../helpers/cases';
import type { RefTensor } from '../../../src/tensor/ops/define';
import type { RefResize1dParams } from '../../../src/tensor/ops/ref/resize';

const padded = (n: number, ws: number) => Math.ceil(n / ws) * ws;

/** Grids with and without padding: H, W in 1..7, window 1..4, so H, W below, equal to and above ws all occur. */
const grid = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 7 }),
  W: fc.integer({ min: 1, max: 7 }),
  C: fc.integer({ min: 1, max: 3 }),
  ws: fc.integer({ min: 1, max: 4 }),
});

const partition = grid.chain(({ B, H, W, C, ws }) => refTensor([B, H, W, C]).map((x): OpCase => ({ inputs: [x], attrs: { windowSize: ws } })));

const unpartition = grid.chain(({ B, H, W, C, ws }) => {
  const Hp = padded(H, ws),
    Wp = padded(W, ws);
  const n = (B * Hp * Wp) / (ws * ws);
  return refTensor([n, ws, ws, C]).map((w): OpCase => ({ inputs: [w], attrs: { windowSize: ws, padHw: [Hp, Wp], hw: [H, W] } }));
});

/** Pixels whose channels are not nearly constant (the normalisation's gradient blows up there). */
function channelsVary(x: RefTensor): boolean {
  const [N, C] = x.shape;
  const P = x.shape.slice(2).reduce((a, b) => a * b, 1);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < P; p++) {
      const vs = Array.from({ length: C }, (_, c) => x.data[(n * C + c) * P + p]);
      const m = vs.reduce((a, b) => a + b, 0) / C;
      if (vs.reduce((a, v) => a + (v - m) ** 2, 0) / C < 0.05) return false;
    }
  return true;
}

const layerNorm2d = fc
  .tuple(
    fc.integer({ min: 1, max: 2 }),
    fc.integer({ min: 2, max: 5 }),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 3 }),
    fc.constantFrom(1e-6, 0.1),
  )
  .chain(([n, c, h, w, eps]) =>
    fc
      .tuple(refTensor([n, c, h, w]), refTensor([c], { min: -1.5, max: 1.5 }), refTensor([c], { min: -1, max: 1 }))
      .map(([x, wt, b]): OpCase => ({ inputs: [x, wt, b], attrs: { eps } })),
  )
  .filter((c) => channelsVary(c.inputs[0] as RefTensor));

/** 1-d resizes up and down, by size or factor, nearest and linear (both alignCorners). */
const resize1d = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    C: fc.integer({ min: 1, max: 3 }),
    L: fc.integer({ min: 1, max: 9 }),
    size: fc.option(fc.integer({ min: 1, max: 13 })),
    sf: fc.constantFrom(0.5, 0.7, 1.5, 2, 2.5, 3),
    mode: fc.constantFrom<'nearest' | 'linear'>('nearest', 'linear'),
    alignCorners: fc.boolean(),
  })
  .map((r): [number, number, RefResize1dParams] => [
    r.N,
    r.C,
    {
      mode: r.mode,
      alignCorners: r.mode === 'linear' && r.alignCorners,
      inputSize: r.L,
      outputSize: r.size ?? Math.floor(r.L * r.sf),
      scaleFactor: r.size ? null : r.sf,
    },
  ])
  .filter(([, , a]) => a.outputSize >= 1)
  .chain(([n, c, a]) => refTensor([n, c, a.inputSize]).map((x): OpCase => ({ inputs: [x], attrs: a })));

export const vitCases: CaseTable = {
  windowPartition: { arb: partition, runs: 30, gradRuns: 10 },
  windowUnpartition: { arb: unpartition, runs: 30, gradRuns: 10 },
  layerNorm2d: { arb: layerNorm2d, tol: { rtol: 1e-3, atol: 1e-4 }, runs: 20, gradRuns: 15 },
  interpolate1d: { arb: resize1d, runs: 30, gradRuns: 15 },
};
