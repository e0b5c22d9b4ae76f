/**
 * SAM's window layout as one gather each way (4-byte words, any dtype):
 * - partition: window token (b, i, j, r, s, c) reads grid token (b, i·ws + r, j·ws + s, c), or writes 0 where that
 *   lies in the zero padding (row ≥ H or column ≥ W);
 * - unpartition: grid token (b, h, w, c) of the cropped H×W grid reads window (b, h div ws, w div ws) at
 *   (h mod ws, w mod ws).
 * Each is the other's adjoint, so the ops' gradients are the other kernel.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel } from './builder';
import type { LayoutKernel } from './layout';

export const WINDOW_WG = 256;

const windowLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'H', type: 'u32' },
  { name: 'W', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'ws', type: 'u32' },
  { name: 'nh', type: 'u32' },
  { name: 'nw', type: 'u32' },
]);

/** The grid geometry: tokens H×W with C channels, window size ws, nh×nw windows per image (the padded grid / ws). */
export interface WindowGeometry {
  H: number;
  W: number;
  C: number;
  ws: number;
  nh: number;
  nw: number;
}

const bodies = {
  // i walks the windows [B·nh·nw, ws, ws, C]
  partition: `
  let c = i % p.C;
  var t = i / p.C;
  let s = t % p.ws;
  t = t / p.ws;
  let r = t % p.ws;
  t = t / p.ws;
  let j = t % p.nw;
  t = t / p.nw;
  let wi = t % p.nh;
  let b = t / p.nh;
  let h = wi * p.ws + r;
  let w = j * p.ws + s;
  if (h < p.H && w < p.W) { out[i] = x[((b * p.H + h) * p.W + w) * p.C + c]; } else { out[i] = 0u; }`,
  // i walks the cropped grid [B, H, W, C]
  unpartition: `
  let c = i % p.C;
  var t = i / p.C;
  let w = t % p.W;
  t = t / p.W;
  let h = t % p.H;
  let b = t / p.H;
  let win = (b * p.nh + h / p.ws) * p.nw + w / p.ws;
  out[i] = x[((win * p.ws + h % p.ws) * p.ws + w % p.ws) * p.C + c];`,
};

/** The gather of one direction over `n` output elements. */
export function windowKernel(direction: 'partition' | 'unpartition', n: number, g: WindowGeometry): LayoutKernel {
  return {
    layout: windowLayout,
    values: { n, ...g },
    ...kernel('window', { direction }, () => ({
      uniforms: windowLayout,
      storage: [
        { name: 'x', type: 'u32' },
        { name: 'out', type: 'u32', access: 'read_write' },
      ],
      workgroupSize: WINDOW_WG,
      grid: 'n',
      body: bodies[direction],
    })),
  };
}
