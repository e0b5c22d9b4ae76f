/**
 * Float64 references for 2-D convolution, written from the definition
 *   y[n, o, i, j] = b[o] + Σ_{c, u, v} x[n, g·Cg + c, i·sH − pT + u·dH, j·sW − pL + v·dW] · w[o, c, u, v]   (g = ⌊o / Cog⌋)
 * (zero outside the input). The two gradients are the same seven loops with the products
 * accumulated into dX or dW instead (adjoints of the sum above), so they are independent of the kernels' gather forms.
 */
import type { RefTensor } from '../../../base/ref-tensor';
import type { ConvAttrs } from '../../../base/conv-args';

interface Geo {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  OH: number;
  OW: number;
  kH: number;
  kW: number;
  G: number;
}

/** Calls visit(xIndex, wIndex, yIndex) for every product term of the convolution. */
function forEachTerm(g: Geo, a: ConvAttrs, visit: (xi: number, wi: number, yi: number) => void): void {
  const { N, C, H, W, O, OH, OW, kH, kW, G } = g;
  const Cg = C / G,
    Og = O / G;
  const [sH, sW] = a.stride,
    [dH, dW] = a.dilation,
    pT = a.padding[0],
    pL = a.padding[2];
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const grp = Math.floor(o / Og);
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          const yi = ((n * O + o) * OH + i) * OW + j;
          for (let c = 0; c < Cg; c++)
            for (let u = 0; u < kH; u++) {
              const h = i * sH - pT + u * dH;
              if (h < 0 || h >= H) continue;
              for (let v = 0; v < kW; v++) {
                const w = j * sW - pL + v * dW;
                if (w < 0 || w >= W) continue;
                visit(((n * C + grp * Cg + c) * H + h) * W + w, ((o * Cg + c) * kH + u) * kW + v, yi);
              }
            }
        }
    }
}

const outExtent = (inp: number, p0: number, p1: number, k: number, s: number, d: number) => Math.floor((inp + p0 + p1 - d * (k - 1) - 1) / s) + 1;

export function refConv2d(x: RefTensor, w: RefTensor, bias: RefTensor | undefined, a: ConvAttrs): RefTensor {
  const [N, C, H, W] = x.shape,
    [O, , kH, kW] = w.shape;
  const OH = outExtent(H, a.padding[0], a.padding[1], kH, a.stride[0], a.dilation[0]);
  const OW = outExtent(W, a.padding[2], a.padding[3], kW, a.stride[1], a.dilation[1]);
  const y = new Float64Array(N * O * OH * OW);
  forEachTerm({ N, C, H, W, O, OH, OW, kH, kW, G: a.groups }, a, (xi, wi, yi) => {
    y[yi] += x.data[xi] * w.data[wi];
  });
  for (let k = 0; k < y.length; k++) {
    if (bias) y[k] += bias.data[Math.floor(k / (OH * OW)) % O];
    if (a.act === 'relu') y[k] = Math.max(y[k], 0);
  }
  return { shape: [N, O, OH, OW], dtype: 'float32', data: y };
}

/** dX = ∂⟨dY, conv(x, w)⟩/∂x for an input of spatial size a.inSize. */
export function refConv2dGradInput(dy: RefTensor, w: RefTensor, a: ConvAttrs): RefTensor {
  const [N, O, OH, OW] = dy.shape,
    [, Cg, kH, kW] = w.shape;
  const [H, W] = a.inSize!;
  const C = Cg * a.groups;
  const dx = new Float64Array(N * C * H * W);
  forEachTerm({ N, C, H, W, O, OH, OW, kH, kW, G: a.groups }, a, (xi, wi, yi) => {
    dx[xi] += dy.data[yi] * w.data[wi];
  });
  return { shape: [N, C, H, W], dtype: 'float32', data: dx };
}

/** dW = ∂⟨dY, conv(x, w)⟩/∂w for a kernel of size a.kSize. */
export function refConv2dGradWeight(x: RefTensor, dy: RefTensor, a: ConvAttrs): RefTensor {
  const [N, C, H, W] = x.shape,
    [, O, OH, OW] = dy.shape;
  const [kH, kW] = a.kSize!;
  const Cg = C / a.groups;
  const dw = new Float64Array(O * Cg * kH * kW);
  forEachTerm({ N, C, H, W, O, OH, OW, kH, kW, G: a.groups }, a, (xi, wi, yi) => {
    dw[wi] += x.data[xi] * dy.data[yi];
  });
  return { shape: [O, Cg, kH, kW], dtype: 'float32', data: dw };
}
