/** Cases for pooling, resizing and normalisation ops (small odd shapes, ceil mode, padding, dilation). */
import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable, OpCase } from '../../helpers/cases';
import { refMaxPool, refPoolOutSize, type RefPoolParams } from '../../../src/tensor/ops/ref/pool';
import type { RefTensor } from '../../../src/tensor/ops/define';
import type { RefResizeParams } from '../../../src/tensor/ops/ref/resize';
import { refBatchNormEval, refBatchNormTrain, refChannelStats } from '../../../src/tensor/ops/ref/norm';

/** Leading dims: (C, H, W) or (N, C, H, W). */
const leadDims = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 3 })).map((a) => a),
  fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })).map((a) => a),
);

/** Pool parameters over an H×W plane: kernel 1–4, stride 1–3, padding ≤ k/2, dilation 1–2 (max only), ceil mode, or adaptive. */
export const poolParams = (withDilation: boolean) =>
  fc
    .record({
      H: fc.integer({ min: 1, max: 9 }),
      W: fc.integer({ min: 1, max: 9 }),
      k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
      s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      pf: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
      d: withDilation ? fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })) : fc.constant([1, 1] as [number, number]),
      ceilMode: fc.boolean(),
      countIncludePad: fc.boolean(),
      divisorOverride: fc.option(fc.constantFrom(1, 3, 5), { freq: 4 }),
      adaptive: fc.integer({ min: 0, max: 3 }).map((v) => v === 0),
      os: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
    })
    .map((r): RefPoolParams => {
      const padding: [number, number] = [Math.floor(r.pf[0] * (Math.floor(r.k[0] / 2) + 0.999)), Math.floor(r.pf[1] * (Math.floor(r.k[1] / 2) + 0.999))];
      return {
        adaptive: r.adaptive,
        kernel: r.k,
        stride: r.s,
        padding,
        dilation: r.d,
        ceilMode: r.ceilMode,
        countIncludePad: r.countIncludePad,
        divisorOverride: r.adaptive ? null : r.divisorOverride,
        outputSize: r.adaptive
          ? r.os
          : [refPoolOutSize(r.H, r.k[0], r.s[0], padding[0], r.d[0], r.ceilMode), refPoolOutSize(r.W, r.k[1], r.s[1], padding[1], r.d[1], r.ceilMode)],
        inputSize: [r.H, r.W],
      };
    })
    .filter((a) => a.outputSize[0] >= 1 && a.outputSize[1] >= 1);

/** Non-overlapping windows (kernel ≤ stride, no dilation): the backward kernels' one-candidate variant (pool.ts `single`). */
const tiledPoolParams = poolParams(false).filter((a) => !a.adaptive && a.kernel[0] <= a.stride[0] && a.kernel[1] <= a.stride[1]);

const outShape = (lead: number[], a: RefPoolParams) => [...lead, ...a.outputSize];
const inShape = (lead: number[], a: RefPoolParams) => [...lead, ...a.inputSize];
/** Every max window must see at least one input element (dilation can skip a tiny input entirely). */
const maxWellDefined = (x: RefTensor, a: RefPoolParams) => refMaxPool(x, a)[1].data.every((j) => j >= 0);

const maxCase = fc
  .tuple(leadDims, fc.oneof(poolParams(true), tiledPoolParams))
  .chain(([lead, a]) => refTensor(inShape(lead, a), { distinct: true }).map((x): OpCase => ({ inputs: [x], attrs: a })))
  .filter((c) => maxWellDefined(c.inputs[0] as RefTensor, c.attrs));

/** 2×2 stride-2 windows tiling an input whose output rows are whole vec4s: the kernel's four-outputs-per-thread path. */
const max2x2Case = fc
  .record({
    lead: leadDims,
    H: fc.integer({ min: 1, max: 5 }).map((h) => 2 * h),
    W: fc.constantFrom(8, 16, 24),
    ceilMode: fc.boolean(),
  })
  .chain(({ lead, H, W, ceilMode }) => {
    const a: RefPoolParams = {
      adaptive: false,
      kernel: [2, 2],
      stride: [2, 2],
      padding: [0, 0],
      dilation: [1, 1],
      ceilMode,
      countIncludePad: false,
      divisorOverride: null,
      outputSize: [H / 2, W / 2],
      inputSize: [H, W],
    };
    return refTensor(inShape(lead, a), { distinct: true }).map((x): OpCase => ({ inputs: [x], attrs: a }));
  });

const avgCase = fc
  .tuple(leadDims, fc.oneof(poolParams(false), tiledPoolParams))
  .chain(([lead, a]) => refTensor(inShape(lead, a)).map((x): OpCase => ({ inputs: [x], attrs: a })));

export const visionCases: CaseTable = {
  maxPool2d: { arb: fc.oneof(maxCase, max2x2Case), runs: 40, gradRuns: 20 },
  maxPool2dBackward: {
    arb: maxCase.chain((c) =>
      refTensor(outShape((c.inputs[0] as RefTensor).shape.slice(0, -2), c.attrs)).map((dy) => ({
        inputs: [dy, refMaxPool(c.inputs[0] as RefTensor, c.attrs)[1]],
        attrs: c.attrs,
      })),
    ),
    grad: [0],
  },
  poolGather: {
    arb: maxCase.map((c) => ({ inputs: [c.inputs[0], refMaxPool(c.inputs[0] as RefTensor, c.attrs)[1]], attrs: c.attrs })),
    grad: [0],
  },
  avgPool2d: { arb: avgCase, runs: 30, gradRuns: 20 },
  avgPool2dBackward: {
    arb: avgCase.chain((c) => refTensor(outShape((c.inputs[0] as RefTensor).shape.slice(0, -2), c.attrs)).map((dy) => ({ inputs: [dy], attrs: c.attrs }))),
  },
};

/** interpolate draws: up and down, sizes or scale factors, nearest and bilinear with both alignCorners. */
const resizeAttrs = fc
  .record({
    H: fc.integer({ min: 1, max: 7 }),
    W: fc.integer({ min: 1, max: 7 }),
    size: fc.option(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }))),
    sf: fc.tuple(fc.constantFrom(0.5, 0.7, 1, 1.5, 2, 2.5, 3, 1 / 3), fc.constantFrom(0.5, 0.7, 1.5, 2, 3)),
    mode: fc.constantFrom<'nearest' | 'bilinear'>('nearest', 'bilinear'),
    alignCorners: fc.boolean(),
  })
  .map(
    (r): RefResizeParams => ({
      mode: r.mode,
      alignCorners: r.mode === 'bilinear' && r.alignCorners,
      inputSize: [r.H, r.W],
      outputSize: r.size ?? [Math.floor(r.H * r.sf[0]), Math.floor(r.W * r.sf[1])],
      scaleFactor: r.size ? [null, null] : r.sf,
    }),
  )
  .filter((a) => a.outputSize[0] >= 1 && a.outputSize[1] >= 1);

const resizeLead = fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }));

/** Bilinear doubling of planes whose rows are whole vec4s (by scale factor or by size): the kernel's ×2 path. */
const bilinear2xAttrs = fc.record({ H: fc.integer({ min: 1, max: 6 }), W: fc.constantFrom(4, 8, 12), bySize: fc.boolean() }).map(
  (r): RefResizeParams => ({
    mode: 'bilinear',
    alignCorners: false,
    inputSize: [r.H, r.W],
    outputSize: [2 * r.H, 2 * r.W],
    scaleFactor: r.bySize ? [null, null] : [2, 2],
  }),
);

Object.assign(visionCases, {
  interpolate: {
    arb: fc
      .tuple(resizeLead, fc.oneof(resizeAttrs, bilinear2xAttrs))
      .chain(([l, a]) => refTensor([...l, ...a.inputSize]).map((x) => ({ inputs: [x], attrs: a }))),
    runs: 50,
  },
  interpolateBackward: {
    arb: fc.tuple(resizeLead, resizeAttrs).chain(([l, a]) => refTensor([...l, ...a.outputSize]).map((dy) => ({ inputs: [dy], attrs: a }))),
    runs: 40,
  },
} satisfies CaseTable);

// ---- normalisation ---------------------------------------------------------------------------

const bnShape = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }))
  .map(([n, c, rest]) => [n, c, ...rest])
  .filter((s) => s[0] * s.slice(2).reduce((a, b) => a * b, 1) > 1);
const vec = (c: number, min: number, max: number) => refTensor([c], { min, max });
const normTol = { rtol: 1e-3, atol: 1e-4 };
/** Channels not nearly constant (their gradients blow up). */
const bnOk = (c: OpCase) => refChannelStats(c.inputs[0] as RefTensor).variance.every((v) => v > 0.05);

/**
 * For the fused ReLU: moves each channel's bias (the smallest move on a 0.01 grid) so that no
 * pre-activation lies within 0.02 of ReLU's kink. `pre0` is the output with zero bias.
 */
function awayFromKink(pre0: RefTensor, b: RefTensor): RefTensor {
  const C = pre0.shape[1];
  const inner = pre0.shape.slice(2).reduce((a, v) => a * v, 1);
  const data = b.data.slice();
  for (let c = 0; c < C; c++) {
    const vals: number[] = [];
    for (let n = 0; n < pre0.shape[0]; n++) for (let j = 0; j < inner; j++) vals.push(pre0.data[(n * C + c) * inner + j]);
    const ok = (bias: number) => vals.every((v) => Math.abs(v + bias) > 0.02);
    for (let step = 0; step < 2000; step++) {
      const cand = [data[c] + step * 0.01, data[c] - step * 0.01].find(ok);
      if (cand !== undefined) {
        data[c] = Math.fround(cand);
        break;
      }
    }
  }
  return { ...b, data };
}
const zeroLike = (v: RefTensor): RefTensor => ({ ...v, data: new Float64Array(v.data.length) });

/** Batch-norm backward pieces: small (N, C, …) shapes, plus one whose channel rows exceed a workgroup (323 > 256). */
const bnGradShape = fc.oneof(bnShape, fc.constant([2, 3, 17, 19]));
/** A fused ReLU's output: values kept away from 0 so finite differences never cross the mask's step. */
const reluOut = (s: readonly number[]) => refTensor(s, { min: -1, max: 1, avoid: (v) => Math.abs(v) < 0.05 });
const bnGradStatsCase = fc
  .tuple(bnGradShape, fc.boolean())
  .chain(([s, relu]) =>
    fc.tuple(refTensor(s), reluOut(s), refTensor(s), vec(s[1], -1, 1)).map(([g, y, x, mean]): OpCase => ({ inputs: [g, y, x, mean], attrs: { relu } })),
  );
const bnGradApplyCase = fc
  .tuple(bnGradShape, fc.boolean())
  .chain(([s, relu]) =>
    fc
      .tuple(refTensor(s), reluOut(s), refTensor(s), vec(s[1], -1, 1), refTensor([3, s[1]], { min: -2, max: 2 }))
      .map(([g, y, x, m, coef]): OpCase => ({ inputs: [g, y, x, m, coef], attrs: { relu } })),
  );
// with and without the batch statistics' own cotangents (dMean, dVar)
const bnGradCoeffsCase = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 40 }), fc.constantFrom(1e-5, 0.1), fc.boolean())
  .chain(([C, M, eps, stats]) =>
    fc
      .tuple(vec(C, -1.5, 1.5), vec(C, 0.2, 2), vec(C, -2, 2), vec(C, -2, 2), vec(C, -1, 1), vec(C, -1, 1))
      .map((inputs): OpCase => ({ inputs: stats ? inputs : inputs.slice(0, 4), attrs: { eps, M } })),
  );
const bnRunningCase = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 1, max: 2, noNaN: true }))
  .chain(([C, factor, bessel]) =>
    fc.tuple(vec(C, -1, 1), vec(C, 0.2, 2), vec(C, -1, 1), vec(C, 0, 2)).map((inputs): OpCase => ({ inputs, attrs: { factor, bessel } })),
  );

const bnTrainCase = fc
  .tuple(bnShape, fc.boolean(), fc.constantFrom(1e-5, 0.1))
  .chain(([s, relu, eps]) =>
    fc.tuple(refTensor(s), vec(s[1], -1.5, 1.5), vec(s[1], -1, 1)).map(
      ([x, w, b]): OpCase => ({
        inputs: [x, w, relu ? awayFromKink(refBatchNormTrain(x, w, zeroLike(b), eps, false)[0], b) : b],
        attrs: { eps, relu },
      }),
    ),
  )
  .filter(bnOk);

const bnEvalCase = fc
  .tuple(bnShape, fc.boolean(), fc.constantFrom(1e-5, 0.1))
  .chain(([s, relu, eps]) =>
    fc.tuple(refTensor(s), vec(s[1], -1, 1), vec(s[1], 0.2, 2), vec(s[1], -1.5, 1.5), vec(s[1], -1, 1)).map(
      ([x, rm, rv, w, b]): OpCase => ({
        inputs: [x, rm, rv, w, relu ? awayFromKink(refBatchNormEval(x, rm, rv, w, zeroLike(b), eps, false), b) : b],
        attrs: { eps, relu },
      }),
    ),
  )
  .filter(bnOk);

/** Every normalised group (consecutive `size` elements) has variance > 0.05: gradients stay well conditioned. */
const varied = (x: RefTensor, size: number) => {
  for (let g = 0; g * size < x.data.length; g++) {
    const seg = x.data.subarray(g * size, (g + 1) * size);
    const m = seg.reduce((a, v) => a + v, 0) / size;
    if (seg.reduce((a, v) => a + (v - m) ** 2, 0) / size <= 0.05) return false;
  }
  return true;
};

const layerNormCase = fc
  .tuple(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.boolean(), fc.constantFrom(1e-5, 0.1))
  .chain(([s, kk, affine, eps]) => {
    const k = 1 + (kk % s.length);
    const ns = s.slice(s.length - k);
    return fc
      .tuple(refTensor(s), refTensor(ns, { min: -1.5, max: 1.5 }), refTensor(ns, { min: -1, max: 1 }))
      .map(([x, w, b]): OpCase => ({ inputs: affine ? [x, w, b] : [x], attrs: { normalizedShape: ns, eps } }));
  })
  .filter((c) =>
    varied(
      c.inputs[0] as RefTensor,
      (c.attrs.normalizedShape as number[]).reduce((a: number, b: number) => a * b, 1),
    ),
  );

const groupNormCase = fc
  .tuple(
    fc.integer({ min: 1, max: 2 }),
    fc.constantFrom([1, 1], [2, 1], [2, 2], [4, 2], [6, 3], [6, 2]),
    fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    fc.boolean(),
    fc.constantFrom(1e-5, 0.1),
  )
  .chain(([n, [c, g], rest, affine, eps]) =>
    fc
      .tuple(refTensor([n, c, ...rest]), vec(c, -1.5, 1.5), vec(c, -1, 1))
      .map(([x, w, b]): OpCase => ({ inputs: affine ? [x, w, b] : [x], attrs: { groups: g, eps } })),
  )
  .filter((c) => {
    const x = c.inputs[0] as RefTensor;
    return varied(x, x.data.length / (x.shape[0] * c.attrs.groups));
  });

Object.assign(visionCases, {
  batchNormTrain: { arb: bnTrainCase, tol: normTol, runs: 25, gradRuns: 20 },
  batchNormEval: { arb: bnEvalCase, tol: normTol, runs: 25, gradRuns: 20 },
  batchNormGradStats: { arb: bnGradStatsCase, tol: normTol, runs: 20, gradRuns: 10, grad: [0, 2, 3] },
  batchNormGradCoeffs: { arb: bnGradCoeffsCase, tol: normTol, runs: 20, gradRuns: 15 },
  batchNormGradApply: { arb: bnGradApplyCase, tol: normTol, runs: 20, gradRuns: 10, grad: [0, 2, 3, 4] },
  batchNormRunningStats: { arb: bnRunningCase, tol: normTol, runs: 15, gradRuns: 10 },
  layerNorm: { arb: layerNormCase, tol: normTol, runs: 20, gradRuns: 15 },
  groupNorm: { arb: groupNormCase, tol: normTol, runs: 20, gradRuns: 15 },
} satisfies CaseTable);
