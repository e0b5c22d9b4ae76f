/**
 * `npm run bench [-- --quick] [-- --suite NAME]`: runs every suite in bench/suites/*.ts (each file
 * exports a `Suite`: a default export, or a named export called `suite` or ending in `Suite`), prints
 * a table and writes bench/results/<date>-<adapter>.json and bench/results/latest.json.
 * Ratio: webgrad ÷ peer for rates (GFLOP/s, GB/s, images/s), peer ÷ webgrad for costs (µs/op, ms, MB),
 * so above 1 always means webgrad does better.
 */
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, basename, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { init } from '../src/node';
import type { BenchRow, Suite } from './lib';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv: string[]): { quick: boolean; suites: string[] } {
  const suites: string[] = [];
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--suite') {
      const v = argv[++i];
      if (!v) throw new Error('--suite needs a name');
      suites.push(...v.split(','));
    } else if (a.startsWith('--suite=')) suites.push(...a.slice(8).split(','));
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--quick] [--suite NAME[,NAME]]');
      process.exit(0);
    } else throw new Error(`unknown argument '${a}' (use --quick, --suite NAME)`);
  }
  return { quick, suites };
}

const HIGHER_IS_BETTER = new Set<BenchRow['metric']>(['GFLOP/s', 'GB/s', 'images/s']);

export function ratioOf(row: BenchRow): number | null {
  if (!row.peer || !('value' in row.peer) || !(row.peer.value > 0) || !(row.value > 0)) return null;
  return HIGHER_IS_BETTER.has(row.metric) ? row.value / row.peer.value : row.peer.value / row.value;
}

const num = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(3));

export function formatTable(rows: BenchRow[]): string {
  const head = ['suite', 'name', 'metric', 'webgrad', 'peer', 'ratio'];
  const body = rows.map((r) => {
    const peer = !r.peer ? '—' : 'value' in r.peer ? `${num(r.peer.value)} (${r.peer.name})` : `n/a (${r.peer.name}: ${r.peer.missing})`;
    const ratio = ratioOf(r);
    return [
      r.suite,
      r.name + (r.note ? ` [${r.note}]` : '') + (r.error ? ` [FAILED: ${r.error}]` : ''),
      r.metric,
      r.error ? 'failed' : num(r.value),
      peer,
      ratio === null ? '—' : `${ratio.toFixed(2)}×`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Suites exported by one module. */
function suitesIn(mod: Record<string, unknown>): Suite[] {
  const out: Suite[] = [];
  for (const [k, v] of Object.entries(mod)) {
    if (typeof v === 'function' && (k === 'default' || k === 'suite' || k.endsWith('Suite'))) out.push(v as Suite);
  }
  return out;
}

async function main(): Promise<void> {
  const { quick, suites: wanted } = parseArgs(process.argv.slice(2));
  const files = readdirSync(join(here, 'suites'))
    .filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  const names = files.map((f) => basename(f, '.ts'));
  const unknown = wanted.filter((w) => !names.includes(w));
  if (unknown.length) throw new Error(`no suite named ${unknown.join(', ')}; have: ${names.join(', ') || '(none)'}`);

  const device = await init();
  const info = device.adapterInfo;
  const adapter = { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', device: info?.device ?? '', description: info?.description ?? '' };
  console.log(`adapter: ${adapter.description || adapter.vendor || 'unknown'} (vendor ${adapter.vendor || '?'}, architecture ${adapter.architecture || '?'})`);
  console.log(`runtime: Node ${process.version}${quick ? ', quick run' : ''}\n`);

  const rows: BenchRow[] = [];
  const errors: { suite: string; error: string }[] = [];
  for (const [i, f] of files.entries()) {
    if (wanted.length && !wanted.includes(names[i])) continue;
    const t0 = performance.now();
    try {
      const mod = await import(pathToFileURL(join(here, 'suites', f)).href);
      const found = suitesIn(mod);
      if (!found.length) throw new Error(`${f} exports no Suite (default, 'suite' or '*Suite')`);
      for (const s of found) {
        const got = await s({ device, quick });
        rows.push(...got);
        for (const r of got) console.log(`  ${r.suite} · ${r.name}: ${r.error ? `FAILED (${r.error})` : `${num(r.value)} ${r.metric}`}`);
      }
      console.log(`[${names[i]}] done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      const error = String((e as Error)?.stack ?? e);
      errors.push({ suite: names[i], error });
      console.error(`[${names[i]}] FAILED: ${error}`);
    }
  }

  console.log(`\n${formatTable(rows)}`);
  const date = new Date().toISOString();
  const slug = (adapter.description || adapter.vendor || 'unknown')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 48);
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const report = {
    date,
    adapter,
    runtime: `node ${process.version}`,
    quick,
    suites: wanted.length ? wanted : names,
    rows: rows.map((r) => ({ ...r, ratio: ratioOf(r) })),
    errors,
  };
  const file = join(dir, `${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}-${slug}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${file} and bench/results/latest.json`);
  device.destroy();
  if (errors.length) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
