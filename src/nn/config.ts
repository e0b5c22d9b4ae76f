/** Checks on layer configs, in the same ArgumentError style as the ops: a typo is an error, not a default. */
import { ArgumentError } from '../base/shape';
import { checkOptions, describe } from '../base/options';
import { pair } from '../base/conv-args';
import type { Module } from './module';

/**
 * Throws unless `c` is a config object with every `required` key present and no key outside `required`
 * and `optional`. `example` shows the call in the error for a config that is not an object
 * (e.g. PyTorch's positional `nn.conv2d(3, 8, 3)`).
 */
export function checkConfig(fn: string, c: unknown, required: readonly string[], optional: readonly string[], example: string): void {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) {
    throw new ArgumentError(fn, 'config', `is ${describe(c)}`, `a config object, e.g. ${fn}(${example})`);
  }
  checkOptions(fn, 'config', c, [...required, ...optional]);
  for (const k of required) {
    if ((c as Record<string, unknown>)[k] === undefined)
      throw new ArgumentError(fn, k, 'is missing', `a value (config keys: ${[...required, ...optional].join(', ')})`);
  }
}

export function positiveInt(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(fn, arg, `is ${describe(v)}`, 'a positive integer');
  return v;
}

export function optionalBoolean(fn: string, arg: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') throw new ArgumentError(fn, arg, `is ${describe(v)}`, 'a boolean');
}

/** eps of a normalisation layer: finite and ≥ 0 (it is added to a variance under a square root). */
export function checkEps(fn: string, v: unknown): void {
  if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0))
    throw new ArgumentError(fn, 'eps', `is ${describe(v)}`, 'a finite number ≥ 0');
}

/** An optional size pair (stride, dilation: ≥ 1; output padding: ≥ 0). */
export function optionalPair(fn: string, arg: string, v: unknown, min: number): void {
  if (v !== undefined) pair(fn, arg, v, min);
}

/** Conv padding as the ops accept it: 'same', 'valid', an integer ≥ 0, a pair or four of them. */
export function checkPadding(fn: string, v: unknown, allowStrings: boolean): void {
  if (v === undefined) return;
  if (allowStrings && (v === 'same' || v === 'valid')) return;
  const nonNeg = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (nonNeg(v) || (Array.isArray(v) && (v.length === 2 || (allowStrings && v.length === 4)) && v.every(nonNeg))) return;
  throw new ArgumentError(
    fn,
    'padding',
    `is ${describe(v)}`,
    allowStrings ? "an integer ≥ 0, a pair or four of them, 'same' or 'valid'" : 'an integer ≥ 0 or a pair of them',
  );
}

/** Each child of a container must be a module `{ init, apply }`. */
export function checkModule(fn: string, arg: string, m: unknown): asserts m is Module<any, any> {
  const o = m as { init?: unknown; apply?: unknown } | null;
  if (o === null || typeof o !== 'object' || typeof o.init !== 'function' || typeof o.apply !== 'function') {
    throw new ArgumentError(fn, arg, `is ${describe(m)}`, 'a module { init, apply } (e.g. nn.linear({...}) or nn.lambda(relu))');
  }
}
