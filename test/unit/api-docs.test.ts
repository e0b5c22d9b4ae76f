/**
 * The API reference (issue 18): TypeDoc, configured by typedoc.json, must find a comment on every public
 * export and no broken {@link}, and every `@example` in those comments must run as written.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docExamples, runnable } from '../docs/examples';

const root = join(import.meta.dirname, '../..');

describe('API reference', () => {
  it('TypeDoc validates: every export documented, no broken link, nothing referenced but unexported', () => {
    // the CLI page comes from the commands' --help (npm run docs writes it first; a fresh clone has none)
    const page = spawnSync(process.execPath, ['scripts/cli-reference.mjs'], { cwd: root, encoding: 'utf8' });
    expect(page.status, page.stderr).toBe(0);
    // --emit none: convert and validate only (npm run docs writes the HTML); warnings are errors (typedoc.json)
    const r = spawnSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--emit', 'none', '--logLevel', 'Warn'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    // at log level Warn a clean run prints nothing; anything printed is a finding
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('finds the examples of the major functions', () => {
    const where = docExamples().map((e) => e.where);
    for (const file of [
      'tensor/ops/conv.ts',
      'tensor/autograd.ts',
      'nn/linear.ts',
      'train/optim/optimizers.ts',
      'formats/safetensors.ts',
      'models/resnet.ts',
      'sod/evaluate.ts',
    ])
      expect(
        where.some((w) => w.startsWith(`src/${file}:`)),
        file,
      ).toBe(true);
  });

  it('every @example runs as written', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'webgrad-doc-examples-'));
    try {
      const examples = docExamples();
      // one process for all: each example is a module imported in turn; a failure is reported with its place
      const manifest = examples.map((ex, i) => {
        writeFileSync(join(tmp, `example-${i}.mts`), runnable(ex, tmp));
        return { where: ex.where, file: `example-${i}.mts` };
      });
      writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest));
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/docs/run-examples.mjs', tmp], { cwd: root, encoding: 'utf8', timeout: 110_000 });
      const failures = r.stdout.split('\n').filter((l) => l.startsWith('doc-examples FAILED'));
      expect(failures).toEqual([]);
      expect(r.stdout).toContain(`doc-examples: ${examples.length}/${examples.length} ran`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
