/**
 * A small `--name value` / `--name=value` / `--flag` parser for the CLIs and examples. Every option
 * is declared with its default (which fixes its type) and, optionally, its allowed choices or numeric
 * range, so that a bad value is refused up front with one line instead of failing deep in a run.
 */
export interface OptionSpec {
  default: string | number | boolean;
  help: string;
  /** allowed values of a string option */
  choices?: readonly string[];
  /** a number option must be an integer */
  int?: boolean;
  /** inclusive bounds of a number option */
  min?: number;
  max?: number;
  /** a number option must be > min (not ≥) */
  minExclusive?: boolean;
}
export type Spec = Record<string, OptionSpec>;
export type Parsed<S extends Spec> = { [K in keyof S]: S[K]['default'] extends boolean ? boolean : S[K]['default'] extends number ? number : string } & {
  _: string[];
};

/** A bad command line: the CLI prints `command: message` and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The first line of an error's message (for a one-line UsageError). */
export const firstLine = (e: unknown): string => String((e as Error).message ?? e).split('\n')[0];

/** Thrown for --help after the help is printed; the CLI exits with code 0. */
export class HelpShown extends Error {
  override name = 'HelpShown';
}

export function parseArgs<S extends Spec>(argv: string[], spec: S, usage: string): Parsed<S> {
  const out: Record<string, unknown> = { _: [] as string[] };
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(helpText(spec, usage));
      throw new HelpShown();
    }
    if (a === '--') {
      (out._ as string[]).push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      (out._ as string[]).push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
    if (!Object.hasOwn(spec, name))
      throw new UsageError(
        `unknown option --${name}; known: ${Object.keys(spec)
          .map((k) => `--${k}`)
          .join(' ')}`,
      );
    const opt = spec[name];
    if (typeof opt.default === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) throw new UsageError(`--${name} is a flag (true or false); got '${inline}'`);
      out[name] = inline === undefined ? true : inline === 'true';
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    out[name] = typeof opt.default === 'number' ? parseNumber(name, raw, opt) : parseString(name, raw, opt);
  }
  return out as Parsed<S>;
}

function parseNumber(name: string, raw: string, opt: OptionSpec): number {
  const n = raw.trim() === '' ? NaN : Number(raw);
  const kind = opt.int ? 'an integer' : 'a number';
  const range = rangeText(opt);
  const expected = `${kind}${range ? ` ${range}` : ''}`;
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be ${expected}; got '${raw}'`);
  if (opt.int && !Number.isInteger(n)) throw new UsageError(`--${name} must be ${expected}; got ${raw}`);
  const low = opt.min !== undefined && (opt.minExclusive ? n <= opt.min : n < opt.min);
  const high = opt.max !== undefined && n > opt.max;
  if (low || high) throw new UsageError(`--${name} must be ${expected}; got ${raw}`);
  return n;
}

function parseString(name: string, raw: string, opt: OptionSpec): string {
  if (opt.choices && !opt.choices.includes(raw)) throw new UsageError(`--${name} must be ${orList(opt.choices)}; got '${raw}'`);
  return raw;
}

function rangeText(opt: OptionSpec): string {
  const lo = opt.min === undefined ? '' : `${opt.minExclusive ? '>' : '≥'} ${opt.min}`;
  const hi = opt.max === undefined ? '' : `≤ ${opt.max}`;
  if (lo && hi) return opt.minExclusive ? `in (${opt.min}, ${opt.max}]` : `in [${opt.min}, ${opt.max}]`;
  return lo || hi;
}

/** `a, b or c` */
export const orList = (xs: readonly string[]): string => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`);

export function helpText(spec: Spec, usage: string): string {
  const lines = [usage, '', 'options:'];
  for (const [k, v] of Object.entries(spec)) {
    const extra = v.choices ? ` [${v.choices.join('|')}]` : '';
    const def = typeof v.default === 'boolean' ? '' : ` (default: ${JSON.stringify(v.default)})`;
    lines.push(`  --${k.padEnd(14)} ${v.help}${extra}${def}`);
  }
  lines.push('  --help           this help');
  return lines.join('\n');
}

/** For scripts outside the `webgrad` command: parse, or print one line / the help and exit (2 / 0). */
export function parseArgsOrExit<S extends Spec>(argv: string[], spec: S, usage: string, command: string): Parsed<S> {
  try {
    return parseArgs(argv, spec, usage);
  } catch (e) {
    if (e instanceof HelpShown) process.exit(0);
    if (e instanceof UsageError) {
      console.error(`${command}: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}
