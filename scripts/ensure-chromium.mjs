#!/usr/bin/env node
// Finds a Chromium for the browser smoke test (test/smoke/chromium.test.ts) and prints its path on the last line
// of stdout. On Debian as root without one, installs Debian's `chromium` package first, saying so (the way
// ensure-webgpu.mjs installs lavapipe); elsewhere exits 1 with what to install. Messages go to stderr.
// CHROMIUM_PATH, when set, is the only candidate.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXED = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const ON_PATH = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/** The first Chromium found: CHROMIUM_PATH if set (or null), else the usual paths, else a name on PATH. */
export function findChromium(env = process.env, exists = existsSync) {
  if (env.CHROMIUM_PATH) return exists(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : null;
  for (const p of FIXED) if (exists(p)) return p;
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of ON_PATH) if (exists(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** What to do when none is found: install with apt (Debian, as root, no CHROMIUM_PATH given) or explain. */
export function whenMissing({ env = process.env, platform = process.platform, osRelease = readOsRelease(), uid = process.getuid?.() } = {}) {
  if (env.CHROMIUM_PATH) return { help: `webgrad: CHROMIUM_PATH is ${env.CHROMIUM_PATH}, which does not exist.` };
  const debian = platform === 'linux' && /^ID=("?)debian\1$/m.test(osRelease);
  if (debian && uid === 0) return { install: ['apt-get', 'install', '-y', '-qq', 'chromium'] };
  return { help: HELP };
}

export const HELP = `webgrad: the Chromium smoke test needs Chromium, and none was found (${FIXED.join(', ')}, or ${ON_PATH.join(' / ')} on PATH).
  Debian (as root): apt-get install -y chromium   (npm test does this itself when run as root on Debian)
  Ubuntu: snap install chromium.  Elsewhere: install Chromium or Chrome,
  or point CHROMIUM_PATH at its executable (CHROMIUM_PATH=/path/to/chrome npm test).`;

function readOsRelease() {
  try {
    return readFileSync('/etc/os-release', 'utf8');
  } catch {
    return '';
  }
}

function main() {
  let path = findChromium();
  if (!path) {
    const plan = whenMissing();
    if (plan.help) {
      console.error(plan.help);
      process.exit(1);
    }
    console.error("webgrad: no Chromium for the browser smoke test; installing Debian's chromium package:");
    const run = (args) => {
      console.error(`  ${args.join(' ')}`);
      execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    };
    run(['apt-get', 'update', '-qq']);
    run(plan.install);
    path = findChromium();
    if (!path) {
      console.error(`webgrad: installed chromium, but still found none.\n${HELP}`);
      process.exit(1);
    }
  }
  console.log(path);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
