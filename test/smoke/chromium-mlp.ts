/**
 * Chromium runner for the MLP smoke test: bundles the core and examples/mlp-core.ts with esbuild,
 * serves them from 127.0.0.1, and drives headless Chromium (WebGPU on Vulkan) with playwright-core.
 * Prints JSON `{ losses }` (or `{ error }`) on its last line; exits non-zero on failure.
 * Usage: tsx test/smoke/chromium-mlp.ts [path-to-chromium]
 */
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

import { CHROMIUM_FLAGS } from './chromium-flags';

const executablePath = process.argv[2] ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(JSON.stringify({ error: `Chromium not found at ${executablePath}; install it (Debian: apt-get install -y chromium)` }));
  process.exit(2);
}

const here = dirname(fileURLToPath(import.meta.url));
const bundle = await build({
  entryPoints: [join(here, 'browser-mlp.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
});
const js = bundle.outputFiles[0].text;
const html = '<!doctype html><meta charset="utf-8"><title>webgrad smoke</title><script type="module" src="/mlp.js"></script>';
const server = createServer((req, res) => {
  if (req.url === '/mlp.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(js);
  } else if (req.url === '/' || req.url === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;

const userDataDir = mkdtempSync(join(tmpdir(), 'webgrad-chromium-'));
let result: any;
// a fresh profile each run (playwright passes it as --user-data-dir)
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  args: process.env.WEBGRAD_CHROMIUM_FLAGS?.split(' ') ?? CHROMIUM_FLAGS,
  headless: true,
  timeout: 60_000,
});
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => (globalThis as any).__result !== undefined, null, { timeout: 90_000 }).catch(() => {});
  result = (await page.evaluate(() => (globalThis as any).__result)) ?? { error: `no result within 90 s; console:\n${logs.join('\n')}` };
  if (result.error && logs.length) result.error += `\nconsole:\n${logs.join('\n')}`;
} catch (e) {
  result = { error: String((e as Error).stack ?? e) };
} finally {
  await browser.close();
  server.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.error ? 1 : 0);
