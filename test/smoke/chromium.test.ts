/** Headless Chromium (WebGPU): the shared MLP, bundled for the browser, trains and its loss falls. Fails, never skips, without Chromium. */
import { it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runRunner } from './run-runtime';

const root = join(import.meta.dirname, '../..');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

it('MLP loss falls in headless Chromium', () => {
  if (!existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath}: install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH`);
  const r = runRunner(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'test/smoke/chromium-mlp.ts'), chromiumPath]);
  if (r.error) throw new Error(`Chromium run failed: ${r.error}`);
  const losses = r.losses!;
  expect(losses).toHaveLength(20);
  expect(losses[19]).toBeLessThan(losses[0] / 2);
}, 180_000);
