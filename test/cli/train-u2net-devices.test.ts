/**
 * `webgrad train-u2net --devices`: a bad value is one line and exit code 2 before any model loads; two devices train
 * (the batch split, src/cli/parallel-trainer.ts) and write a checkpoint that a one-device run resumes (checkpoints do
 * not depend on the device count).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownLines, runCli } from './run-cli';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgrad-cli-devices-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const TINY = ['--size', '32', '--crop', '32', '--batch', '2', '--eval-count', '2'];

describe('webgrad train-u2net --devices', () => {
  const cases: [string[], RegExp][] = [
    [
      ['--devices', '0'],
      /^webgrad train-u2net: --devices must be a device count 1…64 or a comma list of adapter indexes \/ names .*; got 0 \(webgrad train-u2net --help\)$/,
    ],
    [['--devices', '0,,1'], /^webgrad train-u2net: --devices has an empty item in '0,,1'/],
    [['--devices', '0,7'], /^webgrad train-u2net: --devices: there is no adapter 7; this machine has 1 adapter \(0: .*\)/],
    [['--devices', 'no-such-gpu'], /^webgrad train-u2net: --devices: no adapter's name contains 'no-such-gpu'/],
    [['--devices', '4', '--batch', '2'], /^webgrad train-u2net: --devices asks for 4 devices but --batch is 2; every device needs at least one image/],
    [['--threads=maybe'], /^webgrad train-u2net: --threads is a flag \(true or false\); got 'maybe'/],
  ];
  it.each(cases)('%j', (argv, message) => {
    const r = runCli(['train-u2net', ...argv, '--out', join(dir, 'never')]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = ownLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  // two images per device: U²-NetP's innermost stage is 1×1 at 32², and BatchNorm needs more than one value per channel
  it('two devices train in this thread and in worker threads (the same losses) and checkpoint; one device resumes the checkpoint', () => {
    const out = join(dir, 'k2');
    const r = runCli([
      'train-u2net',
      ...TINY,
      '--batch',
      '4',
      '--devices',
      '2',
      '--threads=false',
      '--iters',
      '2',
      '--eval-every',
      '2',
      '--ckpt-every',
      '2',
      '--out',
      out,
    ]);
    expect(ownLines(r.stderr)).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/data parallel: 2 devices \(one thread\): device 0 \(.*\), device 1 \(.*\)/);
    expect(r.stdout).toMatch(/train 2\/2 {2}loss \d/);
    // worker threads (the default) compute the same steps bit for bit
    const threads = runCli([
      'train-u2net',
      ...TINY,
      '--batch',
      '4',
      '--devices',
      '2',
      '--iters',
      '2',
      '--eval-every',
      '2',
      '--ckpt-every',
      '2',
      '--out',
      join(dir, 'k2t'),
    ]);
    expect(ownLines(threads.stderr)).toEqual([]);
    expect(threads.status).toBe(0);
    expect(threads.stdout).toMatch(/data parallel: 2 devices \(worker threads\)/);
    const losses = (s: string) => [...s.matchAll(/^train (\d+\/\d+) {2}loss (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(losses(threads.stdout)).toEqual(losses(r.stdout));
    expect(losses(r.stdout)).toHaveLength(2);
    const resumed = runCli(['train-u2net', ...TINY, '--iters', '3', '--resume', join(out, 'last.safetensors'), '--out', out]);
    expect(ownLines(resumed.stderr)).toEqual([]);
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/resumed from .*last.safetensors at iteration 2/);
  }, 240_000);

  it('with --sync-bn, the first step of two devices has the one-device loss (BatchNorm over the whole batch)', () => {
    const run = (extra: string[], out: string) =>
      runCli(['train-u2net', ...TINY, '--batch', '4', '--iters', '1', '--eval-every', '1', '--ckpt-every', '1', '--out', join(dir, out), ...extra]);
    const first = (s: string) => s.match(/^train 1\/1 {2}loss (\S+)/m)?.[1];
    const one = run([], 'sync1');
    const two = run(['--devices', '2', '--sync-bn'], 'sync2');
    expect(ownLines(two.stderr)).toEqual([]);
    expect(two.stdout).toMatch(/2 devices \(worker threads, synchronised BatchNorm\)/);
    expect(first(two.stdout)).toBeDefined();
    expect(first(two.stdout)).toBe(first(one.stdout));
  }, 120_000);
});
