/**
 * SAM's window layout (ViTDet's window_partition / window_unpartition): a [B, H, W, C] token grid, zero-padded to
 * multiples of the window size, cut into non-overlapping ws×ws windows stacked on the batch axis, and back (with the
 * padding cropped). One gather kernel each way (instead of pad + permute and permute + slice); each is the other's
 * adjoint, so partition's gradient is unpartition-with-crop and the other way round.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import { requireTensor } from '../require-tensor';
import { grid } from '../../kernels/webgpu/device';
import { WINDOW_WG, windowKernel, type WindowGeometry } from '../../kernels/wgsl/window';
import type { Tensor } from '../tensor';
import { defineOp, type Op, type TensorMeta } from './define';
import { paddedSize, refWindowPartition, refWindowUnpartition } from './ref/window';

interface PartitionAttrs {
  windowSize: number;
}
interface UnpartitionAttrs {
  windowSize: number;
  padHw: [number, number];
  hw: [number, number];
}

/** Runs one direction's gather from `x` into `y`. */
function gather(direction: 'partition' | 'unpartition', x: Tensor, y: Tensor, g: WindowGeometry): void {
  const k = windowKernel(direction, y.size, g);
  x.device.run(`window${direction === 'partition' ? 'Partition' : 'Unpartition'}`, k.key, k.source, [x.binding, y.binding], grid(y.size, WINDOW_WG), {
    layout: k.layout,
    values: k.values,
  });
}

const windowPartitionOp: Op<PartitionAttrs> = defineOp({
  name: 'windowPartition',
  inputs: { x: 'tensor' },
  shape: ({ x }: { x: TensorMeta }, { windowSize: ws }: PartitionAttrs) => {
    const [B, H, W, C] = x.shape;
    return { shape: [(B * paddedSize(H, ws) * paddedSize(W, ws)) / (ws * ws), ws, ws, C], dtype: x.dtype };
  },
  forward({ x }, { windowSize: ws }, [y]) {
    const [, H, W, C] = x.shape;
    gather('partition', x, y, { H, W, C, ws, nh: paddedSize(H, ws) / ws, nw: paddedSize(W, ws) / ws });
  },
  reference: ({ x }, a) => refWindowPartition(x, a.windowSize),
  // the adjoint of a zero-padded gather: read each token back from its window, dropping the padding
  vjp: ({ dy, inputs: { x }, attrs: { windowSize: ws } }) => [
    windowUnpartitionOp.call1([dy], {
      windowSize: ws,
      padHw: [paddedSize(x.shape[1], ws), paddedSize(x.shape[2], ws)],
      hw: [x.shape[1], x.shape[2]],
    }),
  ],
});

const windowUnpartitionOp: Op<UnpartitionAttrs> = defineOp({
  name: 'windowUnpartition',
  inputs: { windows: 'tensor' },
  shape: ({ windows }: { windows: TensorMeta }, a: UnpartitionAttrs) => {
    const B = windows.shape[0] / ((a.padHw[0] * a.padHw[1]) / (a.windowSize * a.windowSize));
    return { shape: [B, a.hw[0], a.hw[1], windows.shape[3]], dtype: windows.dtype };
  },
  forward({ windows }, { windowSize: ws, padHw, hw }, [y]) {
    gather('unpartition', windows, y, { H: hw[0], W: hw[1], C: windows.shape[3], ws, nh: padHw[0] / ws, nw: padHw[1] / ws });
  },
  reference: ({ windows }, a) => refWindowUnpartition(windows, a.windowSize, a.padHw, a.hw),
  // the adjoint of the cropping gather: scatter back into the windows, zeros where the padding was
  vjp: ({ dy, attrs: { windowSize } }) => [windowPartitionOp.call1([dy], { windowSize })],
});

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * Cuts a `[B, H, W, C]` token grid into non-overlapping `windowSize`×`windowSize` windows, as SAM's
 * `window_partition`: H and W are zero-padded up to multiples of the window size first. Returns the windows
 * `[B·nh·nw, ws, ws, C]` (window (b, i, j) at index (b·nh + i)·nw + j) and the padded size `[Hp, Wp]`, which
 * {@link windowUnpartition} needs to undo it.
 *
 * @example
 * ```ts
 * import { init, randn, random, windowPartition, windowUnpartition } from '@webgrad/core/node';
 * await init();
 * const x = randn(random.key(0), [1, 8, 8, 16]);
 * const { windows, padHw } = windowPartition(x, 3); // windows [9, 3, 3, 16], padHw [9, 9]
 * console.log(windowUnpartition(windows, 3, padHw, [8, 8]).shape); // [1, 8, 8, 16]
 * ```
 */
export function windowPartition(x: Tensor, windowSize: number): { windows: Tensor; padHw: [number, number] } {
  const fn = 'windowPartition';
  requireTensor(fn, 'x', x);
  if (x.ndim !== 4) throw new ArgumentError(fn, 'x', `has shape ${fmtShape(x.shape)}`, 'a 4-d [B, H, W, C] tensor');
  if (!positiveInt(windowSize)) throw new ArgumentError(fn, 'windowSize', `is ${String(windowSize)}`, 'a positive integer');
  const padHw: [number, number] = [paddedSize(x.shape[1], windowSize), paddedSize(x.shape[2], windowSize)];
  return { windows: windowPartitionOp.call1([x], { windowSize }), padHw };
}

/**
 * Puts windows cut by {@link windowPartition} back into a `[B, H, W, C]` grid and crops the padding, as SAM's
 * `window_unpartition`. `windows` is `[B·nh·nw, ws, ws, C]`, `padHw` the padded size `[Hp, Wp]` (multiples of
 * `windowSize`) and `hw` the original `[H, W]`.
 */
export function windowUnpartition(windows: Tensor, windowSize: number, padHw: readonly [number, number], hw: readonly [number, number]): Tensor {
  const fn = 'windowUnpartition';
  requireTensor(fn, 'windows', windows);
  if (!positiveInt(windowSize)) throw new ArgumentError(fn, 'windowSize', `is ${String(windowSize)}`, 'a positive integer');
  const ws = windowSize;
  if (windows.ndim !== 4 || windows.shape[1] !== ws || windows.shape[2] !== ws)
    throw new ArgumentError(fn, 'windows', `has shape ${fmtShape(windows.shape)} with windowSize ${ws}`, `[N, ${ws}, ${ws}, C]`);
  if (!Array.isArray(padHw) || padHw.length !== 2 || !padHw.every((n) => positiveInt(n) && n % ws === 0))
    throw new ArgumentError(fn, 'padHw', `is ${JSON.stringify(padHw)}`, `two positive multiples of windowSize ${ws}`);
  if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((n, i) => positiveInt(n) && n <= padHw[i]))
    throw new ArgumentError(fn, 'hw', `is ${JSON.stringify(hw)} with padHw ${JSON.stringify(padHw)}`, 'two positive sizes, each at most its padded size');
  const perImage = (padHw[0] / ws) * (padHw[1] / ws);
  if (windows.shape[0] % perImage !== 0)
    throw new ArgumentError(fn, 'windows', `has ${windows.shape[0]} windows`, `a multiple of ${perImage} (the windows of one ${padHw[0]}×${padHw[1]} grid)`);
  return windowUnpartitionOp.call1([windows], { windowSize: ws, padHw: [padHw[0], padHw[1]], hw: [hw[0], hw[1]] });
}
