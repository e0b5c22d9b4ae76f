#!/usr/bin/env node
// Builds the optional MPI addon build/webgrad_mpi.node from native/mpi/webgrad_mpi.c with Open MPI's (or
// MPICH's) `mpicc`, against the Node-API headers of the `node-api-headers` package (else those Node ships).
// Without mpicc it says so and exits 0: the addon is only needed for `mpiCollective` (@webgrad/core/node).
// Rebuilds only when the source is newer than the addon (or with --force); --quiet prints only failures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native/mpi/webgrad_mpi.c');
const target = join(root, 'build/webgrad_mpi.node');

/** Exit status 0 when `mpicc` runs (it prints the compiler's version with --version). */
export function hasMpicc() {
  const r = spawnSync('mpicc', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** The folder with node_api.h: the node-api-headers package (a devDependency), else the headers Node ships. */
function headers() {
  try {
    return dirname(createRequire(join(root, 'package.json')).resolve('node-api-headers/include/node_api.h'));
  } catch {
    const shipped = join(dirname(process.execPath), '../include/node');
    return existsSync(join(shipped, 'node_api.h')) ? shipped : null;
  }
}

/** Builds the addon if mpicc exists; returns the exit status (0 also when mpicc is missing). */
export function buildMpiAddon({ quiet = false, force = false } = {}) {
  const say = (line) => quiet || console.log(line);
  if (!hasMpicc()) {
    say('webgrad: mpicc not found; skipping the optional MPI addon (install Open MPI, e.g. apt-get install libopenmpi-dev openmpi-bin)');
    return 0;
  }
  const header = headers();
  if (!header) {
    console.error("webgrad: cannot build the MPI addon: no node_api.h (npm install node-api-headers, or install Node's headers)");
    return 1;
  }
  if (!force && existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) {
    say(`webgrad: MPI addon up to date (${target})`);
    return 0;
  }
  mkdirSync(dirname(target), { recursive: true });
  // Node's symbols come from the node binary at load time: allow them undefined (macOS needs it said)
  const platform = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
  const args = ['-shared', '-fPIC', '-O2', '-std=c11', '-D_GNU_SOURCE', '-Wall', '-I', header, ...platform, '-o', target, source];
  say(`webgrad: building the MPI addon: mpicc ${args.join(' ')}`);
  const r = spawnSync('mpicc', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`webgrad: mpicc failed (exit ${r.status}); the MPI addon was not built`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  process.exitCode = buildMpiAddon({ quiet: process.argv.includes('--quiet'), force: process.argv.includes('--force') });
