import fc from 'fast-check';
import { refTensor } from '../../helpers/arbitraries';
import type { CaseTable } from '../../helpers/cases';
import { refConv2d } from '../../../src/tensor/ops/ref/conv';
import type { ConvAttrs } from '../../../src/base/conv-args';

const ext = (i: number, p0: number, p1: number, k: number, s: number, d: number) => Math.floor((i + p0 + p1 - d * (k - 1) - 1) / s) + 1;

/** A convolution geometry: shapes, stride 1–3, asymmetric padding 0–3, dilation 1–4, groups over divisors; never an empty output. */
export const convGeometry = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    G: fc.integer({ min: 1, max: 3 }),
    Cg: fc.integer({ min: 1, max: 5 }),
    Og: fc.integer({ min: 1, max: 5 }),
    H: fc.integer({ min: 1, max: 9 }),
    W: fc.integer({ min: 1, max: 9 }),
    kH: fc.integer({ min: 1, max: 5 }),
    kW: fc.integer({ min: 1, max: 5 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
  })
  .map((g) => {
    const a: ConvAttrs = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.G };
    return {
      ...g,
      a,
      OH: ext(g.H, g.padding[0], g.padding[1], g.kH, g.stride[0], g.dilation[0]),
      OW: ext(g.W, g.padding[2], g.padding[3], g.kW, g.stride[1], g.dilation[1]),
    };
  })
  .filter((g) => g.OH >= 1 && g.OW >= 1 && g.N * g.G * g.Og * g.OH * g.OW * g.Cg * g.kH * g.kW <= 40000);

/**
 * Geometries that select the other gradient kernel variants (src/kernels/wgsl/conv-grad.ts): 8 and 16 channels
 * per workgroup (Cg/Og from 8 and from 16), and split-K grad-weight (N·OH ≥ 16: src/tensor/ops/conv.ts dwSplit).
 */
export const convGradGeometry = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    G: fc.integer({ min: 1, max: 2 }),
    Cg: fc.integer({ min: 2, max: 18 }),
    Og: fc.integer({ min: 2, max: 18 }),
    H: fc.integer({ min: 1, max: 12 }),
    W: fc.integer({ min: 1, max: 7 }),
    kH: fc.integer({ min: 1, max: 4 }),
    kW: fc.integer({ min: 1, max: 4 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  })
  .map((g) => {
    const a: ConvAttrs = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.G };
    return {
      ...g,
      a,
      OH: ext(g.H, g.padding[0], g.padding[1], g.kH, g.stride[0], g.dilation[0]),
      OW: ext(g.W, g.padding[2], g.padding[3], g.kW, g.stride[1], g.dilation[1]),
    };
  })
  .filter((g) => g.OH >= 1 && g.OW >= 1 && g.N * g.G * g.Og * g.OH * g.OW * g.Cg * g.kH * g.kW <= 150000);

/**
 * Geometries for the row kernel (src/tensor/ops/conv-route.ts): stride 1 along W (forward; stride 1 both ways routes
 * the grad-input too), rows of 4–36 pixels (vec4 loads when W % 4 = 0, 16-pixel tiles from 32 outputs), 4 and 8
 * channels (packed vec4 weights), groups, dilation, asymmetric padding, and padding past the kernel's reach (falls back).
 */
export const convRowsGeometry = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    G: fc.integer({ min: 1, max: 2 }),
    Cg: fc.constantFrom(1, 2, 3, 4, 5, 8),
    Og: fc.constantFrom(1, 3, 4, 5, 8),
    H: fc.integer({ min: 1, max: 5 }),
    W: fc.oneof(fc.integer({ min: 1, max: 36 }), fc.constantFrom(4, 8, 12, 32, 36)),
    kH: fc.integer({ min: 1, max: 3 }),
    kW: fc.integer({ min: 1, max: 5 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.constant(1)),
    padding: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 })),
  })
  .map((g) => {
    const a: ConvAttrs = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.G };
    return {
      ...g,
      a,
      OH: ext(g.H, g.padding[0], g.padding[1], g.kH, g.stride[0], g.dilation[0]),
      OW: ext(g.W, g.padding[2], g.padding[3], g.kW, g.stride[1], g.dilation[1]),
    };
  })
  .filter((g) => g.OH >= 1 && g.OW >= 1 && g.N * g.G * g.Og * g.OH * g.OW * g.Cg * g.kH * g.kW <= 60000);

const t = (s: number[]) => refTensor(s, { min: -1, max: 1 });
const tol = { rtol: 1e-3, atol: 1e-4 };

/**
 * Depthwise geometries (groups = C, one input channel per group, multiplier Og 1–3) for the dedicated kernels:
 * rows up to 20 wide, so widths that are multiples of 4 take the vec4-row path; stride and dilation 1–2,
 * kernels 1–5, batch 1–3.
 */
export const depthwiseGeometry = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    G: fc.integer({ min: 1, max: 4 }),
    Cg: fc.constant(1),
    Og: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 12 }),
    W: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(4, 8, 12, 16)),
    kH: fc.integer({ min: 1, max: 5 }),
    kW: fc.integer({ min: 1, max: 5 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  })
  .map((g) => {
    const a: ConvAttrs = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.G };
    return {
      ...g,
      a,
      OH: ext(g.H, g.padding[0], g.padding[1], g.kH, g.stride[0], g.dilation[0]),
      OW: ext(g.W, g.padding[2], g.padding[3], g.kW, g.stride[1], g.dilation[1]),
    };
  })
  .filter((g) => g.OH >= 1 && g.OW >= 1 && g.N * g.G * g.Og * g.OH * g.OW * g.kH * g.kW <= 40000);

/** Generic geometries, and depthwise ones drawn as often (the depthwise kernels are a separate code path). */
const anyGeometry = fc.oneof({ weight: 1, arbitrary: convGeometry }, { weight: 1, arbitrary: depthwiseGeometry });

const convArb = (geo: typeof convGeometry, relu: boolean) =>
  geo
    .chain((g) => fc.tuple(fc.constant(g), t([g.N, g.G * g.Cg, g.H, g.W]), t([g.G * g.Og, g.Cg, g.kH, g.kW]), fc.option(t([g.G * g.Og]), { nil: undefined })))
    .map(([g, x, w, b]) => ({ inputs: b ? [x, w, b] : [x, w], attrs: { ...g.a, act: relu ? 'relu' : 'none' } as ConvAttrs }));

export const convCases: CaseTable = {
  conv2d: {
    arb: fc.oneof(
      { weight: 3, arbitrary: convArb(anyGeometry, false) },
      { weight: 2, arbitrary: convArb(convRowsGeometry, false) },
      // fused ReLU: few outputs, pre-activations kept away from the kink so finite differences are valid
      {
        weight: 1,
        arbitrary: convArb(
          anyGeometry.filter((g) => g.N * g.G * g.Og * g.OH * g.OW <= 16),
          true,
        ).filter((c) => refConv2d(c.inputs[0], c.inputs[1], c.inputs[2], { ...c.attrs, act: 'none' }).data.every((v) => Math.abs(v) > 0.05)),
      },
    ),
    tol,
    runs: 40,
    gradRuns: 25,
  },
  conv2dGradInput: {
    arb: fc
      .oneof(convGeometry, convGradGeometry, depthwiseGeometry, convRowsGeometry)
      .chain((g) => fc.tuple(fc.constant(g), t([g.N, g.G * g.Og, g.OH, g.OW]), t([g.G * g.Og, g.Cg, g.kH, g.kW])))
      .map(([g, dy, w]) => ({ inputs: [dy, w], attrs: { ...g.a, inSize: [g.H, g.W] } as ConvAttrs })),
    tol,
    runs: 35,
    gradRuns: 15,
  },
  conv2dGradWeight: {
    arb: fc
      .oneof(convGeometry, convGradGeometry, depthwiseGeometry)
      .chain((g) => fc.tuple(fc.constant(g), t([g.N, g.G * g.Cg, g.H, g.W]), t([g.N, g.G * g.Og, g.OH, g.OW])))
      .map(([g, x, dy]) => ({ inputs: [x, dy], attrs: { ...g.a, kSize: [g.kH, g.kW] } as ConvAttrs })),
    tol,
    runs: 25,
    gradRuns: 15,
  },
};
