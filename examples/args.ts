/** Tiny `--name value` / `--flag` parser for the examples; unknown flags are errors that list the known ones. */
export type Spec = Record<string, { default: string | number | boolean; help: string }>;

export function parseArgs<S extends Spec>(argv: string[], spec: S, usage: string): { [K in keyof S]: S[K]['default'] } & { _: string[] } {
  const out: Record<string, unknown> = { _: [] as string[] };
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') { printHelp(spec, usage); process.exit(0); }
    if (!a.startsWith('--')) { (out._ as string[]).push(a); continue; }
    const [name, inline] = a.slice(2).split('=', 2);
    if (!(name in spec)) throw new Error(`unknown option --${name}; known: ${Object.keys(spec).map((k) => `--${k}`).join(' ')}`);
    const def = spec[name].default;
    if (typeof def === 'boolean') { out[name] = inline === undefined ? true : inline !== 'false'; continue; }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new Error(`--${name} needs a value`);
    if (typeof def === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new Error(`--${name} must be a number; got '${raw}'`);
      out[name] = n;
    } else out[name] = raw;
  }
  return out as any;
}

function printHelp(spec: Spec, usage: string) {
  console.log(usage);
  for (const [k, v] of Object.entries(spec)) console.log(`  --${k.padEnd(14)} ${v.help} (default: ${JSON.stringify(v.default)})`);
}
