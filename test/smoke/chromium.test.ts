/**
 * Headless Chromium (WebGPU): the shared MLP, bundled for the browser, trains and its loss falls. Fails, never skips,
 * without Chromium. scripts/ensure-chromium.mjs finds it (or, on Debian as root, installs Debian's package first).
 */
import { it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runRunner } from './run-runtime';

const root = join(import.meta.dirname, '../..');
let chromiumPath = '';

beforeAll(() => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/ensure-chromium.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`no Chromium for this test (scripts/ensure-chromium.mjs exited with ${r.status ?? r.signal}; its message is above)`);
  chromiumPath = r.stdout.trim().split('\n').pop()!;
}, 900_000); // an apt install of chromium takes minutes

it('MLP loss falls in headless Chromium', () => {
  const r = runRunner(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'test/smoke/chromium-mlp.ts'), chromiumPath]);
  if (r.error) throw new Error(`Chromium run failed: ${r.error}`);
  const losses = r.losses!;
  expect(losses).toHaveLength(20);
  expect(losses[19]).toBeLessThan(losses[0] / 2);
}, 180_000);
