/** A Node run prints nothing of Dawn's "maxDynamic… artificially reduced" limit notices, and stderr keeps working. */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { withoutLimitNotices } from '../../src/io/dawn-notices';

const root = join(import.meta.dirname, '../..');

describe("Dawn's limit notices", () => {
  // stderr as a terminal, a shell pipe or a file (what a person or a CI log sees). A Node parent's default 'pipe'
  // stdio is a socket, which cannot be reopened, so there the notices still pass (see src/io/dawn-notices.ts).
  for (const how of ['file', 'pipe'] as const) {
    it(`a Node run (init, one op) writes no notice to stderr (a ${how}); its own stderr lines still arrive`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'webgrad-notices-'));
      try {
        const errPath = join(dir, 'stderr.txt');
        const cmd = [process.execPath, join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'test/helpers/node-run-stderr.ts')]
          .map((a) => `'${a}'`)
          .join(' ');
        // file: 2> file; pipe: stderr through `cat` (a real pipe) into the file
        const script = how === 'file' ? `${cmd} 2> '${errPath}'` : `{ ${cmd} 2>&1 1>&3 | cat > '${errPath}'; } 3>&1`;
        const r = spawnSync('sh', ['-c', script], {
          cwd: root,
          encoding: 'utf8',
          timeout: 90_000,
          env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
        });
        const stderr = readFileSync(errPath, 'utf8');
        expect(r.status, stderr).toBe(0);
        expect(r.stdout.trim()).toBe('[2,3]');
        expect(stderr).not.toMatch(/artificially reduced/);
        expect(stderr).toContain('stderr still reaches the caller');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }

  it('the filter drops exactly the two notices and keeps every other line', () => {
    const text = [
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'a real driver error',
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 500000 to 16 to fit dynamic offset allocation limit.',
      'Warning: something else artificially reduced',
      '',
    ].join('\n');
    expect(withoutLimitNotices(text)).toBe('a real driver error\nWarning: something else artificially reduced\n');
  });
});
