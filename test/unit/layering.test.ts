/**
 * Layers point one way (docs/ARCHITECTURE.md): a module may import its own layer and the ones below it,
 * never one above. The ground floor src/base imports nothing of the library; inside src/kernels the
 * runtime (webgpu/) sits below the generators (wgsl/).
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts)$/.test(n) ? [p] : [];
  });
}

const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Top folder of a path under src/ ('kernels', 'tensor', …; files at the top are '.'). */
const area = (abs: string) => {
  const rel = relative(root, abs).replaceAll('\\', '/');
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '.';
};

/** What each area must never import. */
const FORBIDDEN: Record<string, readonly string[]> = {
  base: ['kernels', 'tensor', 'nn', 'train', 'formats', 'io', 'models', 'sod', 'detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  kernels: ['tensor', 'nn', 'train', 'formats', 'io', 'models', 'sod', 'detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  tensor: ['nn', 'train', 'formats', 'io', 'models', 'sod', 'detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  nn: ['train', 'formats', 'io', 'models', 'sod', 'detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  formats: ['nn', 'train', 'io', 'models', 'sod', 'detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  train: ['io', 'models', 'sod', 'detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  models: ['formats', 'io', 'sod', 'detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  sod: ['detection', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  detection: ['sod', 'segmentation', 'parallel', 'sam', 'cli', '.'],
  segmentation: ['sod', 'parallel', 'sam', 'cli', '.'],
  parallel: ['sod', 'detection', 'segmentation', 'sam', 'cli', '.'],
  sam: ['sod', 'parallel', 'cli', '.'],
};

/** Inside a folder: each sub-layer and the folders (under src/) its files may import from at all. */
const ALLOWED: [layer: string, allowed: string[]][] = [
  ['base', ['base']],
  ['kernels/webgpu', ['base', 'kernels/webgpu']],
  ['kernels/wgsl', ['base', 'kernels/webgpu', 'kernels/wgsl']],
];

function outside(layer: string, allowed: string[]): string[] {
  const bad: string[] = [];
  for (const f of files(join(root, layer))) {
    for (const [, spec] of readFileSync(f, 'utf8').matchAll(SPEC)) {
      const target = relative(root, resolve(dirname(f), spec)).replaceAll('\\', '/');
      if (!allowed.some((a) => target === a || target.startsWith(`${a}/`))) bad.push(`${relative(root, f)} imports '${spec}'`);
    }
  }
  return bad;
}

function violations(): string[] {
  const bad: string[] = [];
  for (const f of files(root)) {
    const from = area(f);
    for (const [, spec] of readFileSync(f, 'utf8').matchAll(SPEC)) {
      const to = area(resolve(dirname(f), spec));
      if (FORBIDDEN[from]?.includes(to)) bad.push(`${relative(root, f)} (${from}) imports ${spec} (${to})`);
    }
  }
  return bad;
}

describe('layering', () => {
  it('no module imports a layer above its own', () => {
    const bad = violations();
    expect(bad, `upward imports:\n${bad.join('\n')}`).toEqual([]);
  });

  for (const [layer, allowed] of ALLOWED) {
    it(`src/${layer} imports only from ${allowed.map((a) => `src/${a}`).join(', ')}`, () => {
      expect(files(join(root, layer)).length).toBeGreaterThan(0);
      const bad = outside(layer, allowed);
      expect(bad, `upward imports:\n${bad.join('\n')}`).toEqual([]);
    });
  }

  it('the rules name only folders that exist (a renamed folder must not silently escape them)', () => {
    const areas = new Set(readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory()));
    for (const a of Object.keys(FORBIDDEN)) expect(areas, a).toContain(a);
  });

  it('the scanner resolves relative imports (sanity: tensor imports base)', () => {
    const specs = [...readFileSync(join(root, 'tensor/tensor.ts'), 'utf8').matchAll(SPEC)].map((m) => area(resolve(join(root, 'tensor'), m[1])));
    expect(specs).toContain('base');
  });
});
