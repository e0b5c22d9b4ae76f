/** Host-side bilinear resize of CHW float planes (PyTorch's alignCorners=false rule), for data loading. */
export function resizeBilinearCHW(src: Float32Array, channels: number, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(channels * outH * outW);
  const sy = h / outH,
    sx = w / outW;
  for (let y = 0; y < outH; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5),
      y0 = Math.min(Math.floor(fy), h - 1),
      y1 = Math.min(y0 + 1, h - 1),
      ty = fy - y0;
    for (let x = 0; x < outW; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5),
        x0 = Math.min(Math.floor(fx), w - 1),
        x1 = Math.min(x0 + 1, w - 1),
        tx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const p = c * h * w;
        const top = src[p + y0 * w + x0] * (1 - tx) + src[p + y0 * w + x1] * tx;
        const bot = src[p + y1 * w + x0] * (1 - tx) + src[p + y1 * w + x1] * tx;
        out[c * outH * outW + y * outW + x] = top * (1 - ty) + bot * ty;
      }
    }
  }
  return out;
}
