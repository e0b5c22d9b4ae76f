/**
 * Every kernel family through the shader builder: f32 variants hold no f16 text (docs/ENGINE.md's
 * rule for generators that take an element type), f16 variants enable it; each module declares one
 * binding per listed type, and helpers at most once.
 */
import { describe, it, expect } from 'vitest';
import type { Shader } from '../../src/kernels/wgsl/builder';
import { HELPERS } from '../../src/kernels/wgsl/helpers';
import { convSource } from '../../src/kernels/wgsl/conv';
import { poolPlan, type PoolGeometry } from '../../src/kernels/wgsl/pool';
import { resizePlan } from '../../src/kernels/wgsl/resize';
import { copyRegionKernel, padKernel, stridedGatherKernel } from '../../src/kernels/wgsl/layout';
import { elementwiseKernel } from '../../src/kernels/wgsl/elementwise';
import { reducePlan } from '../../src/kernels/wgsl/reduce';
import { matmulPlan, MATMUL_VARIANTS } from '../../src/kernels/wgsl/matmul';
import { randomKernel } from '../../src/kernels/wgsl/random';
import { updateKernel } from '../../src/kernels/wgsl/fused-update';
import { affineKernel, jitterKernel, normalizeKernel } from '../../src/kernels/wgsl/augment';
import { iouGradKernel, iouKernel, linear4Kernel, matchKernel, priorKernel } from '../../src/kernels/wgsl/boxes';
import * as nmsKernels from '../../src/kernels/wgsl/nms';
import { assembleKernel, bestClassKernel } from '../../src/kernels/wgsl/multibox';
import { detectionTargetsKernel } from '../../src/kernels/wgsl/detection-augment';
import { confusionClearKernel, confusionCountKernel } from '../../src/kernels/wgsl/confusion-matrix';
import { bnApplyPlan, bnGradCoeffsPlan, bnGradStatsPlan, bnRunningPlan, bnStatsPlan } from '../../src/kernels/wgsl/norm';

const geo: PoolGeometry = {
  H: 8,
  W: 8,
  OH: 4,
  OW: 4,
  adaptive: false,
  kH: 2,
  kW: 2,
  sH: 2,
  sW: 2,
  pH: 0,
  pW: 0,
  dH: 1,
  dW: 1,
  countIncludePad: false,
  divisorOverride: 0,
};
const rs = { n: 16, H: 4, W: 4, OH: 8, OW: 8, scaleH: 0.5, scaleW: 0.5, alignCorners: false };
const conv = (elem: 'f32' | 'f16') => convSource({ kind: 'fwd', tc: 4, tp: 4, bias: true, act: 'relu', elem });
const ew = (dt: 'float32' | 'float16') =>
  elementwiseKernel(
    'add',
    'v0 + v1',
    [
      { dtype: dt, shape: [2, 3] },
      { dtype: dt, shape: [3] },
    ],
    'float32',
    dt,
    [2, 3],
  ).source();

/** Kernels that take an element type, as [f32 source, f16 source]. */
const PAIRS: [string, Shader, Shader][] = [
  ['conv2d', conv('f32'), conv('f16')],
  ['maxPool2d', poolPlan('max', geo, 16, 'f32').source(), poolPlan('max', geo, 16, 'f16').source()],
  ['interpolate', resizePlan('bilinear', false, rs, 'f32').source(), resizePlan('bilinear', false, rs, 'f16').source()],
  [
    'copyRegion',
    copyRegionKernel({ shape: [2, 3], base: 0, dstStride: [3, 1] }, 'u32').source(),
    copyRegionKernel({ shape: [2, 3], base: 0, dstStride: [3, 1] }, 'f16').source(),
  ],
  ['elementwise', ew('float32'), ew('float16')],
];

const OTHERS: [string, Shader][] = [
  ['stridedGather', stridedGatherKernel({ shape: [2, 3], base: 0, start: [0, 0], step: [1, 1], wrap: [0, 0], stride: [1, 2] }).source()],
  ['pad', padKernel('reflect', 'f32', { outShape: [4], inShape: [2], lo: [1], value: 0 }).source()],
  ...reducePlan('argmax', 'float32', [4, 100_000], [1]).stages.map((s, i) => [`reduce stage ${i}`, s.source()] as [string, Shader]),
  ['reduce sum int32', reducePlan('sum', 'int32', [8, 8], [1]).stages[0].source()],
  ...Object.entries(MATMUL_VARIANTS).map(
    ([name, tile]) =>
      [`matmul ${name}`, matmulPlan({ batchShape: [], aStrides: [], bStrides: [], M: 8, N: 8, K: 8, transA: false, transB: true }, tile).source()] as [
        string,
        Shader,
      ],
  ),
  ['random normal', randomKernel('normal').source()],
  ['adam', updateKernel({ name: 'adam', state: ['m', 'v'], scalars: ['lr'], body: 'm = g; v = g; p = p - s.lr * m;' }).source()],
  ['affine', affineKernel('bilinear').source()],
  ['jitter', jitterKernel().source()],
  ['normalize', normalizeKernel().source()],
  ['bn stats', bnStatsPlan(2, 3, 4).source()],
  ['bn apply', bnApplyPlan(24, 3, 4, 1e-5, true).source()],
  ['bn gradStats', bnGradStatsPlan(2, 3, 4, true).source()],
  ['bn gradCoeffs', bnGradCoeffsPlan(3, 1e-5, 8, true).source()],
  ['bn running', bnRunningPlan(3, 0.1, 1).source()],
  // detection: boxes, anchors, matching, NMS, multibox detection, augmentation targets
  ...[
    linear4Kernel(),
    iouKernel({ giou: false, pairwise: false }),
    iouKernel({ giou: true, pairwise: true }),
    iouGradKernel({ giou: true, pairwise: false }),
    priorKernel(),
    matchKernel(true),
    matchKernel(false),
    nmsKernels.sortInitKernel(),
    nmsKernels.sortGlobalKernel(),
    nmsKernels.sortLocalKernel(),
    nmsKernels.histogramKernel(),
    nmsKernels.selectKernel(),
    nmsKernels.compactKernel(),
    nmsKernels.padKernel(),
    nmsKernels.gatherKernel(true),
    nmsKernels.resolveKernel(),
    nmsKernels.propagateKernel(),
    nmsKernels.smallKernel(true, true),
    nmsKernels.smallKernel(false, false),
    bestClassKernel(),
    assembleKernel(),
    detectionTargetsKernel(),
    // segmentation: the confusion matrix
    confusionClearKernel(),
    confusionCountKernel(64),
    confusionCountKernel(0),
  ].map((k) => [k.key, k.source()] as [string, Shader]),
];

describe('kernel sources', () => {
  for (const [name, f32, f16] of PAIRS) {
    it(`${name}: the f32 variant holds no f16 text; the f16 variant starts with enable f16`, () => {
      expect(f32.code).not.toMatch(/f16/);
      expect(f16.code.startsWith('enable f16;\n')).toBe(true);
      expect(f16.bindings).toEqual(f32.bindings);
    });
  }

  for (const [name, s] of [
    ...OTHERS,
    ...PAIRS.flatMap(
      ([n, a, b]) =>
        [
          [`${n} f32`, a],
          [`${n} f16`, b],
        ] as [string, Shader][],
    ),
  ]) {
    it(`${name}: one declaration per binding, each helper at most once, one entry point`, () => {
      expect((s.code.match(/@binding\(/g) ?? []).length).toBe(s.bindings.length);
      s.bindings.forEach((_, i) => expect(s.code).toContain(`@binding(${i})`));
      for (const h of HELPERS) expect((s.code.match(new RegExp(`fn ${h.name}\\(`, 'g')) ?? []).length).toBeLessThanOrEqual(1);
      expect((s.code.match(/@compute/g) ?? []).length).toBe(1);
    });
  }
});
