/**
 * Imports point down the layers: src/base (ground floor) ← src/kernels/webgpu (runtime) ←
 * src/kernels/wgsl (generators, matmul autotune) ← src/tensor …; src/kernels/reference sits on src/base.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = join(import.meta.dirname, '../../src');
const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.[^'"]*)['"]/g;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.ts$/.test(n) ? [p] : [];
  });
}

/** Each layer and the folders (under src/) its files may import from. */
const RULES: [layer: string, allowed: string[]][] = [
  ['base', ['base']],
  ['kernels/webgpu', ['base', 'kernels/webgpu']],
  ['kernels/wgsl', ['base', 'kernels/webgpu', 'kernels/wgsl']],
];

/** `src/<layer>/…` files' relative imports that leave the allowed folders. */
export function upwardImports(layer: string, allowed: string[]): string[] {
  const bad: string[] = [];
  for (const f of files(join(root, layer))) {
    for (const [, spec] of readFileSync(f, 'utf8').matchAll(SPEC)) {
      const target = relative(root, resolve(dirname(f), spec)).replaceAll('\\', '/');
      if (!allowed.some((a) => target === a || target.startsWith(`${a}/`))) bad.push(`${relative(root, f)} imports '${spec}'`);
    }
  }
  return bad;
}

describe('layers', () => {
  for (const [layer, allowed] of RULES) {
    it(`src/${layer} imports only from ${allowed.map((a) => `src/${a}`).join(', ')}`, () => {
      expect(files(join(root, layer)).length).toBeGreaterThan(0);
      const bad = upwardImports(layer, allowed);
      expect(bad, `upward imports:\n${bad.join('\n')}`).toEqual([]);
    });
  }
});
