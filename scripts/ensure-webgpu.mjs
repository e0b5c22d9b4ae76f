#!/usr/bin/env node
// Makes sure WebGPU has an adapter before tests, benchmarks and examples run.
// On Debian 12 as root without one, installs Mesa's lavapipe (CPU Vulkan) from bookworm-backports,
// saying so; elsewhere prints exactly what to install. `--install` forces the install attempt.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

function probe() {
  const code = `import('webgpu').then(async ({ create, globals }) => {
    Object.assign(globalThis, globals);
    const a = await create([]).requestAdapter();
    console.log(a ? JSON.stringify({ vendor: a.info.vendor, architecture: a.info.architecture, description: a.info.description }) : 'none');
    process.exit(0);
  }).catch((e) => { console.log('error ' + e.message); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000, env: process.env });
  const line = (r.stdout || '')
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{') || l === 'none' || l.startsWith('error'))
    .pop();
  return line?.startsWith('{') ? JSON.parse(line) : null;
}

const isDebian12 = () => existsSync('/etc/debian_version') && /^12\./.test(readFileSync('/etc/debian_version', 'utf8'));
const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function installLavapipe() {
  console.log("webgrad: no WebGPU adapter; installing Mesa's lavapipe Vulkan driver (CPU) from bookworm-backports:");
  const list = '/etc/apt/sources.list.d/backports.list';
  if (!existsSync(list)) {
    console.log(`  writing ${list}`);
    writeFileSync(list, 'deb http://deb.debian.org/debian bookworm-backports main\n');
  }
  const run = (cmd, args) => {
    console.log(`  ${cmd} ${args.join(' ')}`);
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '-t', 'bookworm-backports', 'mesa-vulkan-drivers', 'libvulkan1']);
}

const HELP = `webgrad: WebGPU found no adapter. Install a Vulkan driver, then retry:
  Debian 12 without a GPU (as root):
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
    apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1
  Other Linux: your distribution's Mesa Vulkan drivers (lavapipe, version 23 or newer) and the Vulkan loader.
  With a GPU: its vendor's Vulkan driver. Run with XDG_RUNTIME_DIR set (e.g. /tmp).`;

let adapter = process.argv.includes('--install') ? null : probe();
if (!adapter) {
  if (process.platform === 'linux' && isDebian12() && isRoot()) {
    installLavapipe();
    adapter = probe();
  }
  if (!adapter) {
    console.error(HELP);
    process.exit(1);
  }
}
if (!process.argv.includes('--quiet')) console.log(`webgrad: WebGPU adapter: ${adapter.description || adapter.vendor} (${adapter.architecture || 'unknown'})`);
