/**
 * d2l's multibox_prior: anchors centred on every pixel of a feature map, n sizes × m ratios → n + m − 1
 * shapes a pixel (size_k with ratio_0, then size_0 with ratio_k), widths corrected by H/W so a ratio
 * of 1 is square in the image. Computed once per (device, H, W, sizes, ratios) and cached.
 */
import type { Device } from '../kernels/webgpu/device';
import { ArgumentError, fmtShape } from '../base/shape';
import { keep } from '../tensor/scope';
import { Tensor, view } from '../tensor/tensor';
import { untraced } from '../tensor/ops/define';
import { multiboxPriorOp } from '../tensor/ops/boxes';
import { concat } from '../tensor/ops/layout';
import { requireTensor } from '../tensor/require-tensor';

const cache = new WeakMap<Device, Map<string, Tensor>>();

function checkList(arg: string, v: unknown, positive: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0))
    throw new ArgumentError('multiboxPrior', arg, `is ${JSON.stringify(v)}`, `a non-empty list of ${positive}`);
  return [...v];
}

/**
 * Anchor boxes (1, H·W·(n + m − 1), 4), corner form normalised to [0, 1] (not clipped), for a
 * feature map `data` (…, H, W), exactly as d2l's multibox_prior: pixel-major (row, then column), then
 * the shapes (sizes[k], ratios[0]) for every k, then (sizes[0], ratios[k]) for k ≥ 1. Only the
 * shape of `data` is read. The anchors are cached per device and arguments: each call returns a new
 * handle on the cached storage, which the caller may dispose.
 */
export function multiboxPrior(data: Tensor, sizes: readonly number[], ratios: readonly number[]): Tensor {
  requireTensor('multiboxPrior', 'data', data, 'a Tensor (…, H, W)');
  if (data.ndim < 2 || data.shape[data.ndim - 1] === 0 || data.shape[data.ndim - 2] === 0)
    throw new ArgumentError('multiboxPrior', 'data', `has shape ${fmtShape(data.shape)}`, 'a feature map (…, H, W) with H, W ≥ 1');
  const s = checkList('sizes', sizes, 'positive sizes');
  const r = checkList('ratios', ratios, 'positive aspect ratios');
  const H = data.shape[data.ndim - 2];
  const W = data.shape[data.ndim - 1];
  const key = JSON.stringify([H, W, s, r]);
  let perDevice = cache.get(data.device);
  if (!perDevice) cache.set(data.device, (perDevice = new Map()));
  let anchors = perDevice.get(key);
  if (!anchors || anchors.isDisposed) {
    anchors = keep(untraced(() => multiboxPriorOp.call1([], { H, W, sizes: s, ratios: r, device: data.device })));
    perDevice.set(key, anchors);
  }
  return view(anchors, anchors.shape);
}

/**
 * The anchors of a whole pyramid (an SSD's scales), d2l's TinySSD order: level by level, each as
 * {@link multiboxPrior} of `maps[i]` with `sizes[i]` and `ratios[i]` (or one `ratios` list for every
 * level), concatenated into (1, ΣAᵢ, 4). Cached like the levels; each call returns a new handle.
 */
export function multiboxPriorPyramid(
  maps: readonly Tensor[],
  sizes: readonly (readonly number[])[],
  ratios: readonly number[] | readonly (readonly number[])[],
): Tensor {
  const fn = 'multiboxPriorPyramid';
  if (!Array.isArray(maps) || maps.length === 0 || !maps.every((m) => m instanceof Tensor))
    throw new ArgumentError(fn, 'maps', `is ${Array.isArray(maps) ? `a list of ${maps.length}` : typeof maps}`, 'a non-empty list of feature maps (…, H, W)');
  if (!Array.isArray(sizes) || sizes.length !== maps.length)
    throw new ArgumentError(fn, 'sizes', `has ${Array.isArray(sizes) ? sizes.length : 'no'} levels`, `${maps.length}, one size list per map`);
  const perLevel = Array.isArray(ratios[0]);
  if (perLevel && ratios.length !== maps.length)
    throw new ArgumentError(fn, 'ratios', `has ${ratios.length} levels`, `${maps.length}, or one list for every level`);
  const ratioOf = (i: number) => (perLevel ? (ratios as readonly (readonly number[])[])[i] : (ratios as readonly number[]));
  const device = maps[0].device;
  const key = JSON.stringify(['pyramid', maps.map((m) => m.shape.slice(-2)), sizes, maps.map((_, i) => ratioOf(i))]);
  let perDevice = cache.get(device);
  if (!perDevice) cache.set(device, (perDevice = new Map()));
  let anchors = perDevice.get(key);
  if (!anchors || anchors.isDisposed) {
    const levels = maps.map((m, i) => multiboxPrior(m, sizes[i], ratioOf(i)));
    anchors = keep(untraced(() => concat(levels, 1)));
    for (const l of levels) l.dispose();
    perDevice.set(key, anchors);
  }
  return view(anchors, anchors.shape);
}

/** Frees the anchors {@link multiboxPrior} cached on `device` (handles already returned stay valid). */
export function clearAnchorCache(device: Device): void {
  const perDevice = cache.get(device);
  if (!perDevice) return;
  for (const t of perDevice.values()) t.dispose();
  cache.delete(device);
}
