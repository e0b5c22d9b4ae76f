/** The core runs on Node, Deno and browsers: no `node:` module and no 'webgpu' package outside the Node entry. */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '../../src');
const allowed = (rel: string) => rel.startsWith('cli/') || rel === 'node.ts' || rel.startsWith('node/') || rel.includes('/node/') || rel.startsWith('io/');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js|mts)$/.test(n) ? [p] : [];
  });
}

// import/export … from 'x', import('x'), require('x')
const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
const NODE_BUILTINS = new Set([
  'fs',
  'path',
  'os',
  'url',
  'http',
  'https',
  'child_process',
  'crypto',
  'worker_threads',
  'util',
  'stream',
  'buffer',
  'process',
  'module',
  'zlib',
  'events',
  'fs/promises',
]);

describe('core imports', () => {
  it('src/ (outside node.ts, node/, */node/, io/) imports no node: module and not the webgpu package', () => {
    const bad: string[] = [];
    const scanned = files(root).filter((f) => !allowed(relative(root, f).replaceAll('\\', '/')));
    expect(scanned.length).toBeGreaterThan(10);
    for (const f of scanned) {
      for (const [, spec] of readFileSync(f, 'utf8').matchAll(SPEC)) {
        if (spec.startsWith('node:') || NODE_BUILTINS.has(spec) || spec === 'webgpu' || spec.startsWith('webgpu/')) bad.push(`${relative(root, f)}: '${spec}'`);
      }
    }
    expect(bad, `runtime-specific imports in the core:\n${bad.join('\n')}`).toEqual([]);
  });

  it('the scanner sees the Node entry point (sanity check)', () => {
    expect([...readFileSync(join(root, 'node.ts'), 'utf8').matchAll(SPEC)].map((m) => m[1])).toContain('webgpu');
  });
});
