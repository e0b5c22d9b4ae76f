/** Nothing in the repository reads or points outside it: a fresh clone on its own must build, test and read right. */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, resolve, relative, sep, extname } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const DIRS = ['src', 'test', 'bench', 'examples', 'scripts', 'bin', 'docs', '.ci'];
const TEXT = new Set(['.ts', '.mts', '.mjs', '.js', '.cjs', '.json', '.md', '.sh', '']);

function* files(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'results') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (TEXT.has(extname(name))) yield p;
  }
}
const all = [...DIRS.flatMap((d) => [...files(join(root, d))]), join(root, 'README.md'), join(root, 'package.json')];
const inside = (p: string) => {
  const r = relative(root, p);
  return !r.startsWith(`..${sep}`) && r !== '..';
};
const rel = (p: string) => relative(root, p);

describe('the repository is self-contained', () => {
  it('scans the sources, tests, scripts and docs', () => expect(all.length).toBeGreaterThan(100));

  it("no file refers to the sibling 'shared' folder of the old workspace", () => {
    const bad = all.filter((f) => /(?:\.\.\/)+shared\//.test(readFileSync(f, 'utf8'))).map(rel);
    expect(bad).toEqual([]);
  });

  it('relative paths in code resolve inside the repository', () => {
    const bad: string[] = [];
    for (const f of all.filter((f) => /\.(m?ts|m?js|cjs)$/.test(f))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/['"`]((?:\.\.\/)+[^'"`\s$]*)['"`]/g)) {
        if (!inside(resolve(dirname(f), m[1]))) bad.push(`${rel(f)}: ${m[1]}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('relative links in Markdown point at files of the repository', () => {
    const bad: string[] = [];
    for (const f of all.filter((f) => f.endsWith('.md'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        const p = resolve(dirname(f), target);
        if (!inside(p) || !existsSync(p)) bad.push(`${rel(f)}: ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
