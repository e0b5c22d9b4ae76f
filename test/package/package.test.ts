/**
 * The package as a user gets it: `npm pack`, install the tarball into a temporary project (from the
 * npm cache where it can), type-check a user file against the installed declarations with TypeScript
 * 5 (+ @webgpu/types) under node16 and bundler resolution and with TypeScript 7 (tsgo, whose DOM
 * library declares WebGPU itself; no @webgpu/types), then run `npx webgrad --help`, a subcommand's
 * bad flag and a tiny training script from the installed package. Builds dist first when it is
 * missing or older than src/ (the tarball holds dist only).
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distIsCurrent as distIsCurrentIn } from '../../scripts/dist-current';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const devVersion = (name: string) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version as string;
let project = '';
const figures: Record<string, string> = {};

const distIsCurrent = () => distIsCurrentIn(root, ['index.js', 'index.d.ts', 'node.js', 'node.d.ts', 'cli.js']);

const run = (cmd: string, args: string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: {
      ...process.env,
      XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    },
  });
const timed = <T>(name: string, f: () => T): T => {
  const t0 = performance.now();
  try {
    return f();
  } finally {
    figures[name] = `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  }
};

beforeAll(() => {
  if (!distIsCurrent()) timed('build', () => execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe', timeout: 240_000 }));
  project = mkdtempSync(join(tmpdir(), 'webgrad-package-'));
  const packed = timed('pack', () => run('npm', ['pack', '--json', '--pack-destination', project], root));
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  const info = JSON.parse(packed.stdout)[0];
  figures.tarball = `${info.filename}: ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${info.entryCount} files`;
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'webgrad-user', private: true, type: 'module' }));
  cpSync(join(root, 'test/package/user'), project, { recursive: true });
  const installed = timed('install', () =>
    run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-package-lock',
        join(project, info.filename),
        `@webgpu/types@${devVersion('@webgpu/types')}`,
        `@types/node@${devVersion('@types/node')}`,
      ],
      project,
      240_000,
    ),
  );
  if (installed.status !== 0) throw new Error(`npm install of the tarball failed: ${installed.stderr}`);
}, 600_000);

afterAll(() => {
  console.log(
    `package test: ${Object.entries(figures)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}`,
  );
  if (project) rmSync(project, { recursive: true, force: true });
});

describe(`the installed ${pkg.name} package`, () => {
  it('holds dist, LICENSE and README, and nothing that needs dev tooling', () => {
    const dir = join(project, 'node_modules', pkg.name);
    const files = readdirSync(dir);
    expect(files).toEqual(expect.arrayContaining(['dist', 'LICENSE', 'README.md', 'package.json']));
    expect(files).not.toContain('src');
    const installedPkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(installedPkg.bin).toEqual({ webgrad: 'dist/cli.js' });
    expect(readFileSync(join(dir, 'dist/cli.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    // the CLI bundle imports runtime dependencies only
    const bundled = readdirSync(join(dir, 'dist'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(dir, 'dist', f), 'utf8'))
      .join('\n');
    const specifiers = [
      ...[...bundled.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']/gm)].map((m) => m[1]),
      ...[...bundled.matchAll(/^\s*import\s*["']([^"']+)["']/gm)].map((m) => m[1]),
      ...[...bundled.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]),
    ];
    const packages = new Set(
      specifiers
        .filter((s) => !s.startsWith('.'))
        .map((s) => s.replace(/^node:/, ''))
        .filter((s) => !builtinModules.includes(s))
        .map((s) => s.split('/')[0]),
    );
    expect(specifiers.length).toBeGreaterThan(5);
    expect([...packages].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });

  const tsc5 = join(root, 'node_modules/typescript/bin/tsc');
  const tsgo = join(root, 'node_modules/@typescript/native-preview/bin/tsgo');
  const checks: [string, string, string, string[]][] = [
    ['TypeScript 5 + @webgpu/types, node16', tsc5, 'node16', ['@webgpu/types', 'node']],
    ['TypeScript 5 + @webgpu/types, bundler', tsc5, 'bundler', ['@webgpu/types', 'node']],
    ['TypeScript 7 (DOM declares WebGPU), node16', tsgo, 'node16', ['node']],
    ['TypeScript 7 (DOM declares WebGPU), bundler', tsgo, 'bundler', ['node']],
  ];
  it.each(checks)('a user file type-checks: %s', (name, compiler, resolution, types) => {
    const config = `tsconfig.${name.replace(/\W+/g, '-')}.json`;
    writeFileSync(
      join(project, config),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types,
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          ...(resolution === 'node16' ? { module: 'node16', moduleResolution: 'node16' } : { module: 'esnext', moduleResolution: 'bundler' }),
        },
        files: ['user.ts'],
      }),
    );
    const r = timed(`typecheck ${name}`, () => run(process.execPath, [compiler, '-p', config], project));
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('npx webgrad --help lists the commands; each command has --help; a bad flag is one line and exit 2', () => {
    const help = run('npx', ['--no-install', 'webgrad', '--help'], project);
    expect(help.status, help.stderr).toBe(0);
    for (const c of ['remove-bg', 'train-u2net', 'eval-u2net', 'evaluate-sod', 'export-onnx', 'train-ssd']) expect(help.stdout).toContain(`  ${c} `);
    for (const c of ['remove-bg', 'train-u2net', 'eval-u2net', 'evaluate-sod', 'export-onnx', 'train-ssd']) {
      const h = run('npx', ['--no-install', 'webgrad', c, '--help'], project);
      expect(h.status, h.stderr).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^usage: webgrad ${c} `));
    }
    const bad = run('npx', ['--no-install', 'webgrad', 'train-u2net', '--lr', 'abc'], project);
    expect(bad.status).toBe(2);
    expect(bad.stderr.split('\n').filter((l) => l && !l.startsWith('npm warn'))).toEqual([
      "webgrad train-u2net: --lr must be a number > 0; got 'abc' (webgrad train-u2net --help)",
    ]);
  });

  it('a tiny training script runs from the installed package', () => {
    const r = timed('training script', () => run(process.execPath, ['train.mjs'], project));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loss [\d.]+ -> [\d.]+; live tensors \d+/);
    figures['training script output'] = r.stdout.trim();
  });

  it('data parallelism runs from the installed package, in worker threads too (the dp-worker entry)', () => {
    const r = timed('data-parallel script', () => run(process.execPath, ['data-parallel.mjs'], project));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^data parallel: loss [\d.]+; worker threads equal one thread/);
  });
});
