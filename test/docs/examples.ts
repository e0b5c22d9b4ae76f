/**
 * The `@example` blocks of the TSDoc comments under src/, as runnable modules: each block's imports of
 * `@webgrad/core/<entry>` point at the entry point's source, and paths under /tmp/ at a folder of the
 * caller's. Used by test/unit/api-docs.test.ts to run every example as written.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface DocExample {
  /** Where the block is: `src/…/file.ts:line`. */
  where: string;
  code: string;
}

const src = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** Every ```ts block that follows an `@example` tag in a doc comment under src/. */
export function docExamples(): DocExample[] {
  const out: DocExample[] = [];
  for (const file of files(src)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*\* @example\s*$/.test(lines[i]) || !/^\s*\* ```ts\s*$/.test(lines[i + 1] ?? '')) continue;
      const body: string[] = [];
      let j = i + 2;
      for (; j < lines.length && !/^\s*\* ```\s*$/.test(lines[j]); j++) body.push(lines[j].replace(/^\s*\* ?/, ''));
      out.push({ where: `src/${relative(src, file).replaceAll('\\', '/')}:${i + 1}`, code: body.join('\n') });
      i = j;
    }
  }
  return out;
}

/** The example as a module that imports the sources and writes its files under `tmp`. */
export function runnable(example: DocExample, tmp: string): string {
  // /tmp/ first: the sources' own path may start with /tmp/ too (CI works in a clone under mktemp -d)
  return example.code
    .replace(/(['"])\/tmp\//g, (_, q) => `${q}${tmp}/`)
    .replace(/(['"])@webgrad\/core(?:\/(formats|models|sod|detection|segmentation|parallel|node|sam))?\1/g, (_, q, entry) =>
      JSON.stringify(join(src, `${entry ?? 'index'}.ts`)),
    );
}
