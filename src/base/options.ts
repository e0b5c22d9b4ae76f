/** Option objects users pass by hand: unknown keys and misplaced arguments are errors, never ignored. */
import { ArgumentError } from './shape';

/** A short description of any value for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.length <= 8 ? `[${v.map(describe).join(', ')}]` : `an array of length ${v.length}`;
  if (typeof v === 'function') return 'a function';
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** Throws unless `o` is a plain options object whose keys are all in `allowed`. */
export function checkOptions(fn: string, arg: string, o: unknown, allowed: readonly string[]): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new ArgumentError(fn, arg, `is ${describe(o)}`, `an options object with keys among ${allowed.join(', ')}`);
  }
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ArgumentError(fn, arg, `has unknown key '${k}'`, `only ${allowed.join(', ')}`);
  }
}

/** A number option: finite (and positive / non-negative / an integer when asked); undefined passes through. */
export function checkNumberOption(
  fn: string,
  arg: string,
  v: unknown,
  { min, minExclusive = false, integer = false, max }: { min?: number; minExclusive?: boolean; integer?: boolean; max?: number } = {},
): void {
  if (v === undefined) return;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!integer || Number.isInteger(v)) &&
    (min === undefined || (minExclusive ? v > min : v >= min)) &&
    (max === undefined || v <= max);
  if (ok) return;
  const kind = integer ? 'an integer' : 'a finite number';
  const range =
    min === undefined
      ? max === undefined
        ? ''
        : ` ≤ ${max}`
      : max === undefined
        ? minExclusive
          ? ` > ${min}`
          : ` ≥ ${min}`
        : ` in ${minExclusive ? '(' : '['}${min}, ${max}]`;
  throw new ArgumentError(fn, arg, `is ${describe(v)}`, `${kind}${range}`);
}

export interface DimOptions {
  dim?: number | readonly number[];
  keepdim?: boolean;
}

/**
 * Reads a reduction's arguments in either of PyTorch's forms: `f(x, dim, keepdim?)` or `f(x, { dim, keepdim, ... })`.
 * `allowed` lists the keys the options object may carry. With `booleanKeepdim` false a positional third argument
 * must be an options object (var/std: torch's old overload reads a boolean there as `unbiased`).
 */
export function reduceArgs<O extends DimOptions>(fn: string, dimOrOptions: unknown, third: unknown, allowed: readonly string[], booleanKeepdim = true): O {
  let o: Record<string, unknown>;
  if (dimOrOptions === undefined || (typeof dimOrOptions === 'object' && dimOrOptions !== null && !Array.isArray(dimOrOptions))) {
    if (third !== undefined) throw new ArgumentError(fn, 'keepdim', `is ${describe(third)} after an options object`, 'keepdim inside the options object');
    o = (dimOrOptions ?? {}) as Record<string, unknown>;
    checkOptions(fn, 'options', o, allowed);
  } else if (typeof dimOrOptions === 'number' || Array.isArray(dimOrOptions)) {
    if (third === undefined) o = { dim: dimOrOptions };
    else if (typeof third === 'boolean' && booleanKeepdim) o = { dim: dimOrOptions, keepdim: third };
    else if (typeof third === 'object' && third !== null && !Array.isArray(third)) {
      checkOptions(
        fn,
        'options',
        third,
        allowed.filter((k) => k !== 'dim'),
      );
      o = { ...third, dim: dimOrOptions };
    } else {
      throw new ArgumentError(
        fn,
        booleanKeepdim ? 'keepdim' : 'options',
        `is ${describe(third)}`,
        booleanKeepdim ? 'a boolean' : `an options object with keys among ${allowed.filter((k) => k !== 'dim').join(', ')}`,
      );
    }
  } else {
    throw new ArgumentError(fn, 'dim', `is ${describe(dimOrOptions)}`, 'an integer, an array of integers or an options object { dim, keepdim }');
  }
  if (o.keepdim !== undefined && typeof o.keepdim !== 'boolean') throw new ArgumentError(fn, 'keepdim', `is ${describe(o.keepdim)}`, 'a boolean');
  if (o.dim !== undefined && typeof o.dim !== 'number' && !Array.isArray(o.dim)) {
    throw new ArgumentError(fn, 'dim', `is ${describe(o.dim)}`, 'an integer or an array of integers');
  }
  return o as O;
}
