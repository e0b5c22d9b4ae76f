/**
 * SAM's window layout (ViTDet's window_partition / window_unpartition): a [B, H, W, C] token grid, zero-padded to
 * multiples of the window size, cut into non-overlapping ws×ws windows stacked on the batch axis, and back (with the
 * padding cropped). Composites of pad, reshape, permute and slice, so their gradients are those ops' adjoints:
 * partition's is unpartition-with-crop, and the other way round.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import { requireTensor } from '../require-tensor';
import type { Tensor } from '../tensor';
import { defineComposite, type TensorMeta } from './define';
import { pad, permute, sliceAxes } from './layout';
import { paddedSize, refWindowPartition, refWindowUnpartition } from './ref/window';
import { reshape } from './shape-ops';

interface PartitionAttrs {
  windowSize: number;
}
interface UnpartitionAttrs {
  windowSize: number;
  padHw: [number, number];
  hw: [number, number];
}

const windowPartitionOp = defineComposite({
  name: 'windowPartition',
  inputs: { x: 'tensor' },
  shape: ({ x }: { x: TensorMeta }, { windowSize: ws }: PartitionAttrs) => {
    const [B, H, W, C] = x.shape;
    return { shape: [(B * paddedSize(H, ws) * paddedSize(W, ws)) / (ws * ws), ws, ws, C], dtype: x.dtype };
  },
  impl({ x }, { windowSize: ws }) {
    const [B, H, W, C] = x.shape;
    const Hp = paddedSize(H, ws),
      Wp = paddedSize(W, ws);
    // F.pad order: last dim first (C untouched), then W, then H; padding goes after the tokens
    const padded = Hp > H || Wp > W ? pad(x, [0, 0, 0, Wp - W, 0, Hp - H]) : x;
    const grid = reshape(padded, [B, Hp / ws, ws, Wp / ws, ws, C]);
    return reshape(permute(grid, [0, 1, 3, 2, 4, 5]), [(B * Hp * Wp) / (ws * ws), ws, ws, C]);
  },
  reference: ({ x }, a) => refWindowPartition(x, a.windowSize),
});

const windowUnpartitionOp = defineComposite({
  name: 'windowUnpartition',
  inputs: { windows: 'tensor' },
  shape: ({ windows }: { windows: TensorMeta }, a: UnpartitionAttrs) => {
    const B = windows.shape[0] / ((a.padHw[0] * a.padHw[1]) / (a.windowSize * a.windowSize));
    return { shape: [B, a.hw[0], a.hw[1], windows.shape[3]], dtype: windows.dtype };
  },
  impl({ windows }, { windowSize: ws, padHw: [Hp, Wp], hw: [H, W] }) {
    const C = windows.shape[3];
    const B = windows.shape[0] / ((Hp / ws) * (Wp / ws));
    const grid = permute(reshape(windows, [B, Hp / ws, Wp / ws, ws, ws, C]), [0, 1, 3, 2, 4, 5]);
    const full = reshape(grid, [B, Hp, Wp, C]);
    return Hp > H || Wp > W ? sliceAxes(full, [null, [0, H], [0, W]]) : full;
  },
  reference: ({ windows }, a) => refWindowUnpartition(windows, a.windowSize, a.padHw, a.hw),
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
