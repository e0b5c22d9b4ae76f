/** Deno 2 (navigator.gpu built in): the shared MLP trains and its loss falls. Fails, never skips, without Deno. */
import { it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runRunner } from './run-runtime';

const root = join(import.meta.dirname, '../..');
const deno = join(root, 'node_modules/.bin/deno');

it('MLP loss falls on Deno', () => {
  if (!existsSync(deno)) throw new Error(`Deno not found at ${deno}: it comes from the 'deno' devDependency (run npm ci)`);
  // Deno 2.9 exposes navigator.gpu with no flag (no --unstable-webgpu) and no permission; extensionless
  // imports of src/ resolve with no deno.json (checked with Deno 2.9.6)
  const r = runRunner(deno, ['run', '--quiet', join(root, 'test/smoke/deno-mlp.ts')]);
  if (r.error) throw new Error(`Deno run failed: ${r.error}`);
  const losses = r.losses!;
  expect(losses).toHaveLength(20);
  expect(losses[19]).toBeLessThan(losses[0] / 2);
}, 180_000);
