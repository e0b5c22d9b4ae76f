#!/usr/bin/env node
// Makes sure the optional MPI addon (build/webgrad_mpi.node, for `mpiCollective`) is built before the tests.
// On Debian 12 as root without mpicc, installs Open MPI (libopenmpi-dev openmpi-bin, gcc) with apt-get, saying
// so, then builds; elsewhere without mpicc it prints what to install and exits 0: MPI is optional, and its
// tests then skip saying why. A build that fails with mpicc present exits 1. WEBGRAD_SKIP_MPI=1 skips all this;
// `--install` tries the install even when mpicc exists; `--quiet` prints only what was done.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { buildMpiAddon, hasMpicc } from './build-mpi.mjs';

const quiet = process.argv.includes('--quiet');

const isDebian12 = () => existsSync('/etc/debian_version') && /^12\./.test(readFileSync('/etc/debian_version', 'utf8'));
const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function installOpenMpi() {
  console.log('webgrad: no mpicc; installing Open MPI for the MPI collective:');
  const run = (cmd, args) => {
    console.log(`  ${cmd} ${args.join(' ')}`);
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'libopenmpi-dev', 'openmpi-bin', 'gcc']);
}

const HELP = `webgrad: mpicc not found: the optional MPI addon is not built and the MPI tests will skip. To use it:
  Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin    macOS: brew install open-mpi
  then: node scripts/build-mpi.mjs`;

if (process.env.WEBGRAD_SKIP_MPI === '1') {
  if (!quiet) console.log('webgrad: WEBGRAD_SKIP_MPI=1: not building the MPI addon');
} else {
  if (!hasMpicc() || process.argv.includes('--install')) {
    if (process.platform === 'linux' && isDebian12() && isRoot()) {
      try {
        installOpenMpi();
      } catch (e) {
        console.error(`webgrad: installing Open MPI failed (${e.message.split('\n')[0]}); the MPI tests will skip`);
      }
    }
  }
  if (!hasMpicc()) console.log(HELP);
  else {
    const status = buildMpiAddon({ quiet });
    if (status !== 0) console.error('webgrad: the MPI addon failed to build; fix it or set WEBGRAD_SKIP_MPI=1 to test without MPI');
    process.exitCode = status;
  }
}
