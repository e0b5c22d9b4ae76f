/**
 * `webgrad train-ssd` as a tool: bad flags are one line and exit code 2 before any model loads; a tiny
 * run writes last and best checkpoints and a panel per evaluation, keeps GPU memory flat, and resumes
 * where it stopped; a run that diverges stops with exit code 1 and leaves the checkpoints untouched.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownLines, runCli } from './run-cli';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgrad-cli-ssd-'));
  writeFileSync(join(dir, 'afile'), 'x');
  writeFileSync(join(dir, 'bad.safetensors'), 'junk');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// SGD, so that a huge --lr makes the run diverge (Adam's steps are bounded by its lr and stay finite)
const TINY = ['--size', '64', '--batch', '2', '--eval-count', '2', '--optimizer', 'sgd', '--lr', '0.1'];

describe('webgrad train-ssd: bad command lines', () => {
  const cases: [string[], RegExp][] = [
    [['--lr', 'abc'], /^webgrad train-ssd: --lr must be a number > 0; got 'abc'/],
    [['--size', '32'], /^webgrad train-ssd: --size must be an integer in \[64, 1024\]; got 32/],
    [['--optimizer', 'lbfgs'], /^webgrad train-ssd: --optimizer must be sgd or adam; got 'lbfgs'/],
    [['--batch', '0'], /^webgrad train-ssd: --batch must be an integer in \[1, 1024\]; got 0/],
    [['--nms-threshold', '2'], /^webgrad train-ssd: --nms-threshold must be a number in \[0, 1\]; got 2/],
    [['extra'], /^webgrad train-ssd: unexpected argument 'extra'/],
    [['--resume', '/nonexistent/last.safetensors'], /^webgrad train-ssd: --resume '\/nonexistent\/last.safetensors': cannot read \(ENOENT\)/],
    [['--resume', '@DIR/bad.safetensors'], /^webgrad train-ssd: --resume '.*bad\.safetensors' is not a safetensors file/],
    [['--out', '@DIR/afile'], /^webgrad train-ssd: --out '.*afile' is a file, not a folder/],
  ];
  it.each(cases)('%j', (argv, message) => {
    const r = runCli(['train-ssd', ...argv.map((a) => a.replace('@DIR', dir))]);
    expect(r.status, r.stderr).toBe(2);
    expect(ownLines(r.stderr)).toHaveLength(1);
    expect(ownLines(r.stderr)[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('webgrad train-ssd: runs', () => {
  it('writes checkpoints and panels, keeps GPU memory flat, resumes; a diverging resume stops with exit 1 and keeps the checkpoints', () => {
    const out = join(dir, 'run');
    const r = runCli(['train-ssd', ...TINY, '--iters', '3', '--eval-every', '3', '--ckpt-every', '3', '--lr-decay', 'cosine', '--out', out], 200_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/TinySSD: [\d,]+ parameters, 344 anchors per 64² image, 4 classes; batch 2/);
    expect(r.stdout).toMatch(/eval \(iter 3, 2 held-out\): mAP@0\.5 [\d.]+/);
    // --lr-decay cosine: the third of three iterations runs at 0.1 · (1 + cos(2π/3)) / 2
    expect(r.stdout).toMatch(/train 3\/3 .* lr 0\.02500 /);
    expect(r.stdout).toMatch(/best held-out mAP@0\.5 so far: [\d.]+ → .*best\.safetensors/);
    const mem = /live GPU memory (\d+) tensors, ([\d.]+) MiB \(after 2 iterations: (\d+) tensors, ([\d.]+) MiB\)/.exec(r.stdout);
    expect(mem, r.stdout).not.toBeNull();
    expect(mem![1]).toBe(mem![3]);
    expect(mem![2]).toBe(mem![4]);
    for (const f of ['last.safetensors', 'best.safetensors', 'eval-000003.png', 'eval-final.png']) expect(existsSync(join(out, f)), f).toBe(true);
    const last = readFileSync(join(out, 'last.safetensors')),
      best = readFileSync(join(out, 'best.safetensors'));

    const wrong = runCli(['train-ssd', '--optimizer', 'adam', '--resume', join(out, 'last.safetensors'), '--out', out]);
    expect(wrong.status, wrong.stderr).toBe(2);
    expect(ownLines(wrong.stderr)).toEqual([expect.stringMatching(/--resume '.*last\.safetensors' was trained with --optimizer sgd; give --optimizer sgd/)]);

    const d = runCli(
      ['train-ssd', ...TINY, '--iters', '6', '--eval-every', '3', '--ckpt-every', '3', '--lr', '1e6', '--resume', join(out, 'last.safetensors'), '--out', out],
      200_000,
    );
    // the best score so far is read back from best.safetensors
    const bestSoFar = [...r.stdout.matchAll(/best held-out mAP@0\.5 so far: ([\d.]+)/g)].at(-1)![1];
    expect(d.stdout).toContain(`resumed from ${join(out, 'last.safetensors')} at iteration 3; best held-out mAP@0.5 so far ${bestSoFar}\n`);
    expect(d.status, d.stderr).toBe(1);
    const lines = ownLines(d.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^webgrad train-ssd: the (loss became|weights became non-finite|held-out mAP).*; stopped\. The last good checkpoint is .*last\.safetensors \(iteration 3\).*Try a lower --lr \(now 1000000\)\.$/,
    );
    expect(readFileSync(join(out, 'last.safetensors')).equals(last)).toBe(true);
    expect(readFileSync(join(out, 'best.safetensors')).equals(best)).toBe(true);
  }, 400_000);

  it('a run stopped by --time-limit checkpoints its last iteration, and --resume continues from it', () => {
    const out = join(dir, 'timed');
    const r = runCli(['train-ssd', ...TINY, '--iters', '50', '--time-limit', '0.001', '--out', out], 200_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/time limit reached at iteration 1\n/);
    expect(r.stdout).toMatch(/checkpoint: .*last\.safetensors \(iteration 1\)/);
    expect(r.stdout).toMatch(/eval \(final, 2 held-out\): mAP@0\.5 [\d.]+/);
    const again = runCli(['train-ssd', ...TINY, '--iters', '2', '--resume', join(out, 'last.safetensors'), '--out', out], 200_000);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/resumed from .*last\.safetensors at iteration 1/);
    expect(again.stdout).toMatch(/train 1\/1 /);
  }, 400_000);
});
