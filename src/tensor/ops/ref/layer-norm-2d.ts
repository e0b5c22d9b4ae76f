/** Float64 reference of SAM's LayerNorm2d: each (n, h, w) pixel normalised over its C channels (biased variance), then scaled per channel. */
import type { RefTensor } from '../../../base/ref-tensor';

export function refLayerNorm2d(x: RefTensor, weight: RefTensor, bias: RefTensor, eps: number): RefTensor {
  const [N, C] = x.shape;
  const P = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const y = new Float64Array(x.data.length);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < P; p++) {
      const at = (c: number) => (n * C + c) * P + p;
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x.data[at(c)];
      mean /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (x.data[at(c)] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / C + eps);
      for (let c = 0; c < C; c++) y[at(c)] = weight.data[c] * (x.data[at(c)] - mean) * inv + bias.data[c];
    }
  return { shape: [...x.shape], dtype: 'float32', data: y };
}
