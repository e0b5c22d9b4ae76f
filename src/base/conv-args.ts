/**
 * Argument normalisation for the convolution family (PyTorch semantics). Every public wrapper turns
 * its options into one `ConvAttrs`, which the three primitive ops (forward, grad-input, grad-weight) share.
 */
import { ArgumentError, fmtShape } from './shape';

/** Normalised geometry. `padding` is [top, bottom, left, right]. */
export interface ConvAttrs {
  stride: [number, number];
  padding: [number, number, number, number];
  dilation: [number, number];
  groups: number;
  /** Spatial size of the convolution's input (grad-input needs it: it is not recoverable from dY). */
  inSize?: [number, number];
  /** Kernel size (grad-weight needs it). */
  kSize?: [number, number];
  /** Fused epilogue of the forward op. */
  act?: 'none' | 'relu';
}

export type Pair = number | readonly [number, number];
/**
 * `padding`: a number, [pH, pW], an explicit [left, right, top, bottom] (torch.nn.functional.pad order),
 * 'same' (stride 1 only; the odd extra cell goes right/bottom, as PyTorch) or 'valid'.
 */
export type Padding = number | readonly [number, number] | readonly [number, number, number, number] | 'same' | 'valid';

/** Options of {@link conv2d}: stride, padding, dilation and groups, as torch.nn.functional.conv2d. */
export interface Conv2dOptions {
  /** Bias tensor [out] added to every output position (default: none). */
  bias?: unknown;
  /** Step of the kernel over the input (default 1). */
  stride?: Pair;
  /** Zero padding added on each side, or 'same' / 'valid' (default 0). */
  padding?: Padding;
  /** Spacing between kernel elements (default 1). */
  dilation?: Pair;
  /** Split input and output channels into this many groups, each convolved separately (default 1). */
  groups?: number;
  /** 'relu' fuses a ReLU into the convolution kernel (default 'none'). */
  activation?: 'none' | 'relu';
}

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

export function pair(fn: string, arg: string, v: unknown, min: number): [number, number] {
  if (isInt(v, min)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && isInt(v[0], min) && isInt(v[1], min)) return [v[0], v[1]];
  throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, `an integer ≥ ${min} or a pair of them`);
}

/** Output extent of one spatial dim; throws naming the shapes when it is not positive. */
export function outSize(fn: string, inp: number, padBefore: number, padAfter: number, k: number, s: number, d: number): number {
  return Math.floor((inp + padBefore + padAfter - d * (k - 1) - 1) / s) + 1;
}

/** Normalised padding [top, bottom, left, right] for kernel size [kH, kW]. */
export function normPadding(
  fn: string,
  p: unknown,
  k: [number, number],
  stride: [number, number],
  dilation: [number, number],
): [number, number, number, number] {
  if (p === undefined || p === 'valid') return [0, 0, 0, 0];
  if (p === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1)
      throw new ArgumentError(fn, 'padding', `is 'same' with stride ${fmtShape(stride)}`, "stride 1 for padding 'same' (as PyTorch)");
    const tH = dilation[0] * (k[0] - 1),
      tW = dilation[1] * (k[1] - 1);
    return [Math.floor(tH / 2), tH - Math.floor(tH / 2), Math.floor(tW / 2), tW - Math.floor(tW / 2)];
  }
  if (isInt(p, 0)) return [p, p, p, p];
  if (Array.isArray(p) && p.every((v) => isInt(v, 0))) {
    if (p.length === 2) return [p[0], p[0], p[1], p[1]];
    if (p.length === 4) return [p[2], p[3], p[0], p[1]]; // [left, right, top, bottom] → [top, bottom, left, right]
  }
  throw new ArgumentError(fn, 'padding', `is ${JSON.stringify(p)}`, "a non-negative integer, [pH, pW], [left, right, top, bottom], 'same' or 'valid'");
}

export function checkGroups(fn: string, groups: unknown, cin: number, cout: number, cinName: string, coutName: string): number {
  if (!isInt(groups, 1)) throw new ArgumentError(fn, 'groups', `is ${JSON.stringify(groups)}`, 'a positive integer');
  if (cin % groups !== 0) throw new ArgumentError(fn, 'groups', `is ${groups}, which does not divide ${cinName} (${cin})`, `a divisor of both channel counts`);
  if (cout % groups !== 0)
    throw new ArgumentError(fn, 'groups', `is ${groups}, which does not divide ${coutName} (${cout})`, `a divisor of both channel counts`);
  return groups;
}
