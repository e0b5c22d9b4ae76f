/** The shared-memory collective in Deno Web Workers (runtime-neutral: no node: imports). Fails, never skips, without Deno. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const deno = join(root, 'node_modules/.bin/deno');

it('3 Deno Web Workers all-reduce through one shared group, bit for bit the rank-ordered sum', () => {
  if (!existsSync(deno)) throw new Error(`Deno not found at ${deno}: it comes from the 'deno' devDependency (run npm ci)`);
  // workers load their module from disk, which Deno allows only with read access
  const r = spawnSync(deno, ['run', '--quiet', `--allow-read=${root}`, join(root, 'test/parallel/deno-shared-memory.ts')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  expect(r.status, `deno exited ${r.status}: ${r.stderr.slice(-500)}`).toBe(0);
  expect(JSON.parse(last)).toEqual({ runtime: 'deno', equal: true, waitAsync: 'function' });
}, 90_000);
