/** Cases for pooling, resizing and normalisation ops (small odd shapes, ceil mode, padding, dilation). */
import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable, OpCase } from '../../helpers/cases';
import { refMaxPool, refPoolOutSize, type RefPoolParams } from '../../../src/kernels/reference/pool';
import type { RefTensor } from '../../../src/tensor/ops/define';
import type { RefResizeParams } from '../../../src/kernels/reference/resize';

/** Leading dims: (C, H, W) or (N, C, H, W). */
const leadDims = fc.oneof(fc.tuple(fc.integer({ min: 1, max: 3 })).map((a) => a), fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })).map((a) => a));

/** Pool parameters over an H×W plane: kernel 1–4, stride 1–3, padding ≤ k/2, dilation 1–2 (max only), ceil mode, or adaptive. */
export const poolParams = (withDilation: boolean) => fc.record({
  H: fc.integer({ min: 1, max: 9 }), W: fc.integer({ min: 1, max: 9 }),
  k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
  s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  pf: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
  d: withDilation ? fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })) : fc.constant([1, 1] as [number, number]),
  ceilMode: fc.boolean(),
  countIncludePad: fc.boolean(),
  divisorOverride: fc.option(fc.constantFrom(1, 3, 5), { freq: 4 }),
  adaptive: fc.integer({ min: 0, max: 3 }).map((v) => v === 0),
  os: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
}).map((r): RefPoolParams => {
  const padding: [number, number] = [Math.floor(r.pf[0] * (Math.floor(r.k[0] / 2) + 0.999)), Math.floor(r.pf[1] * (Math.floor(r.k[1] / 2) + 0.999))];
  return {
    adaptive: r.adaptive, kernel: r.k, stride: r.s, padding, dilation: r.d, ceilMode: r.ceilMode,
    countIncludePad: r.countIncludePad, divisorOverride: r.adaptive ? null : r.divisorOverride,
    outputSize: r.adaptive ? r.os : [refPoolOutSize(r.H, r.k[0], r.s[0], padding[0], r.d[0], r.ceilMode), refPoolOutSize(r.W, r.k[1], r.s[1], padding[1], r.d[1], r.ceilMode)],
    inputSize: [r.H, r.W],
  };
}).filter((a) => a.outputSize[0] >= 1 && a.outputSize[1] >= 1);

const outShape = (lead: number[], a: RefPoolParams) => [...lead, ...a.outputSize];
const inShape = (lead: number[], a: RefPoolParams) => [...lead, ...a.inputSize];
/** Every max window must see at least one input element (dilation can skip a tiny input entirely). */
const maxWellDefined = (x: RefTensor, a: RefPoolParams) => refMaxPool(x, a)[1].data.every((j) => j >= 0);

const maxCase = fc.tuple(leadDims, poolParams(true)).chain(([lead, a]) =>
  refTensor(inShape(lead, a), { distinct: true }).map((x): OpCase => ({ inputs: [x], attrs: a }))).filter((c) => maxWellDefined(c.inputs[0] as RefTensor, c.attrs));

const avgCase = fc.tuple(leadDims, poolParams(false)).chain(([lead, a]) =>
  refTensor(inShape(lead, a)).map((x): OpCase => ({ inputs: [x], attrs: a })));

export const visionCases: CaseTable = {
  maxPool2d: { arb: maxCase, runs: 30, gradRuns: 20 },
  maxPool2dBackward: {
    arb: maxCase.chain((c) => refTensor(outShape((c.inputs[0] as RefTensor).shape.slice(0, -2), c.attrs)).map((dy) => ({
      inputs: [dy, refMaxPool(c.inputs[0] as RefTensor, c.attrs)[1]], attrs: c.attrs,
    }))),
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
const resizeAttrs = fc.record({
  H: fc.integer({ min: 1, max: 7 }), W: fc.integer({ min: 1, max: 7 }),
  size: fc.option(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }))),
  sf: fc.tuple(fc.constantFrom(0.5, 0.7, 1, 1.5, 2, 2.5, 3, 1 / 3), fc.constantFrom(0.5, 0.7, 1.5, 2, 3)),
  mode: fc.constantFrom<'nearest' | 'bilinear'>('nearest', 'bilinear'),
  alignCorners: fc.boolean(),
}).map((r): RefResizeParams => ({
  mode: r.mode, alignCorners: r.mode === 'bilinear' && r.alignCorners, inputSize: [r.H, r.W],
  outputSize: r.size ?? [Math.floor(r.H * r.sf[0]), Math.floor(r.W * r.sf[1])],
  scaleFactor: r.size ? [null, null] : r.sf,
})).filter((a) => a.outputSize[0] >= 1 && a.outputSize[1] >= 1);

const resizeLead = fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }));

Object.assign(visionCases, {
  interpolate: { arb: fc.tuple(resizeLead, resizeAttrs).chain(([l, a]) => refTensor([...l, ...a.inputSize]).map((x) => ({ inputs: [x], attrs: a }))), runs: 40 },
  interpolateBackward: { arb: fc.tuple(resizeLead, resizeAttrs).chain(([l, a]) => refTensor([...l, ...a.outputSize]).map((dy) => ({ inputs: [dy], attrs: a }))), runs: 40 },
} satisfies CaseTable);
