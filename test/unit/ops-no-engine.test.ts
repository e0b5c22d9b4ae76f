/**
 * Ops never import the autograd engine (src/tensor/autograd*.ts, tape.ts): define.ts, the op
 * contract, is the one op-side module that records onto the tape, and it offers what ops need
 * (untraced, detached, isRecording).
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';

const ops = join(import.meta.dirname, '../../src/tensor/ops');
const engine = ['autograd', 'autograd-ops', 'tape'].map((n) => resolve(ops, '..', n));
const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.ts') ? [p] : [];
  });

describe('ops and the autograd engine', () => {
  it('no op module but define.ts imports autograd, autograd-ops or tape', () => {
    const bad = files(ops)
      .filter((f) => basename(f) !== 'define.ts')
      .flatMap((f) =>
        [...readFileSync(f, 'utf8').matchAll(SPEC)]
          .map(([, s]) => resolve(dirname(f), s).replace(/\.ts$/, ''))
          .filter((to) => engine.includes(to))
          .map((to) => `${relative(ops, f)} imports ${relative(ops, to)}`),
      );
    expect(bad).toEqual([]);
  });
});
