/**
 * `webgrad train-u2net` as a tool: every bad flag is one line and exit code 2 before any model loads;
 * a tiny run writes last and best checkpoints; a run that diverges stops with exit 1 and leaves the
 * last good checkpoint untouched; a DUTS-style folder with a corrupt image and an unpaired image is
 * counted at start-up and trains (or stops, with --on-bad-image stop).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePng } from '../../src/io/images';
import { ownLines, runCli } from './run-cli';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgrad-cli-train-'));
  writeFileSync(join(dir, 'afile'), 'x');
  writeFileSync(join(dir, 'bad.safetensors'), 'junk');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const TINY = ['--size', '32', '--crop', '32', '--batch', '2', '--eval-count', '2'];

describe('webgrad train-u2net: bad command lines', () => {
  const cases: [string[], RegExp][] = [
    [['--lr', 'abc'], /^webgrad train-u2net: --lr must be a number > 0; got 'abc'/],
    [['--model', 'foo'], /^webgrad train-u2net: --model must be u2netp or u2net; got 'foo'/],
    [['--variant', 'foo'], /^webgrad train-u2net: --variant must be standard, grouped or separable; got 'foo'/],
    [['--flip', 'diagonal'], /^webgrad train-u2net: --flip must be horizontal, vertical or none; got 'diagonal'/],
    [['--batch', '0'], /^webgrad train-u2net: --batch must be an integer in \[1, 4096\]; got 0/],
    [['--size', '-5'], /^webgrad train-u2net: --size must be an integer in \[32, 4096\]; got -5/],
    [['--crop', '80', '--size', '40'], /^webgrad train-u2net: --crop \(80\) must be ≤ --size \(40\)/],
    [['--data', '/nonexistent/duts'], /^webgrad train-u2net: --data '\/nonexistent\/duts': cannot read \(ENOENT\)/],
    [['--resume', '/nonexistent/last.safetensors'], /^webgrad train-u2net: --resume '\/nonexistent\/last.safetensors': cannot read \(ENOENT\)/],
    [['--out', '@DIR/afile'], /^webgrad train-u2net: --out '.*afile' is a file, not a folder/],
    [['--out', '@DIR/afile/sub'], /^webgrad train-u2net: --out '.*afile\/sub' is under a file/],
  ];
  it.each(cases)('%j', (argv, message) => {
    const r = runCli(['train-u2net', ...argv.map((a) => a.replace('@DIR', dir))]);
    expect(r.status, r.stderr).toBe(2);
    expect(ownLines(r.stderr)).toHaveLength(1);
    expect(ownLines(r.stderr)[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });
  it('a bad --resume file: one line, exit 2, before the device opens', () => {
    const r = runCli(['train-u2net', '--resume', join(dir, 'bad.safetensors'), '--out', join(dir, 'r')]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^webgrad train-u2net: --resume '.*bad\.safetensors' is not a safetensors file \(4 bytes\)/),
    ]);
  });
});

describe('webgrad train-u2net: runs', () => {
  it('writes last and best checkpoints (eval-u2net scores them alike); a diverging resume stops with exit 1 and keeps them', () => {
    const out = join(dir, 'run');
    const r = runCli(['train-u2net', ...TINY, '--iters', '2', '--eval-every', '2', '--ckpt-every', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/best held-out IoU so far: [\d.]+ \(MAE [\d.]+\) → .*best\.safetensors/);
    const last = readFileSync(join(out, 'last.safetensors')),
      best = readFileSync(join(out, 'best.safetensors'));
    const wrong = runCli(['train-u2net', '--model', 'u2net', '--resume', join(out, 'last.safetensors'), '--out', out]);
    expect(wrong.status, wrong.stderr).toBe(2);
    expect(wrong.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/--resume '.*last\.safetensors' holds u2netp \(standard\); give --model u2netp --variant standard/),
    ]);
    // eval-u2net scores the checkpoint as the training run's own evaluation did
    const final = /eval \(final, 2 held-out\): IoU ([\d.]+) {2}MAE ([\d.]+)/.exec(r.stdout)!;
    const e = runCli(['eval-u2net', '--weights', join(out, 'best.safetensors'), '--size', '32', '--count', '2', '--json']);
    expect(e.status, e.stderr).toBe(0);
    const scores = JSON.parse(e.stdout);
    expect(scores.samples).toBe(2);
    expect(scores.IoU).toBeCloseTo(Number(final[1]), 3);
    expect(scores.MAE).toBeCloseTo(Number(final[2]), 4);
    const d = runCli([
      'train-u2net',
      ...TINY,
      '--iters',
      '6',
      '--eval-every',
      '2',
      '--ckpt-every',
      '2',
      '--lr',
      '1e6',
      '--resume',
      join(out, 'last.safetensors'),
      '--out',
      out,
    ]);
    expect(d.status, d.stderr).toBe(1);
    const lines = ownLines(d.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^webgrad train-u2net: the (loss became|weights became non-finite|held-out evaluation).*; stopped\. The last good checkpoint is .*last\.safetensors \(iteration 2\).*Try a lower --lr \(now 1000000\)\.$/,
    );
    expect(readFileSync(join(out, 'last.safetensors')).equals(last)).toBe(true);
    expect(readFileSync(join(out, 'best.safetensors')).equals(best)).toBe(true);
  });

  it('a DUTS-style folder: counts a bad and an unpaired image at start-up, skips them and a truncated one; --on-bad-image stop stops', async () => {
    const data = join(dir, 'duts');
    mkdirSync(join(data, 'DUTS-TR-Image'), { recursive: true });
    mkdirSync(join(data, 'DUTS-TR-Mask'), { recursive: true });
    const px = (n: number, c: number) => new Uint8Array(n * n * c).map((_, i) => (i * 29) % 256);
    for (const stem of ['a', 'b', 'c', 'd']) {
      await writePng(join(data, 'DUTS-TR-Image', `${stem}.png`), px(40, 3), 40, 40, 3);
      await writePng(join(data, 'DUTS-TR-Mask', `${stem}.png`), px(40, 1), 40, 40, 1);
    }
    writeFileSync(join(data, 'DUTS-TR-Image', 'b.png'), 'not a png');
    // a PNG signature with nothing behind it: passes the start-up check, fails to decode when drawn
    writeFileSync(join(data, 'DUTS-TR-Image', 'c.png'), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3));
    await writePng(join(data, 'DUTS-TR-Image', 'lonely.png'), px(40, 3), 40, 40, 3);
    const r = runCli(['train-u2net', ...TINY, '--iters', '1', '--data', data, '--out', join(dir, 'duts-run')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data: .*duts: 3 training and 1 held-out pairs; 1 skipped \(unreadable\); 1 images without a mask, 0 masks without an image/);
    expect(r.stdout).toMatch(/warning: skipping a training sample: .*c\.png/);
    const s = runCli(['train-u2net', ...TINY, '--iters', '1', '--data', data, '--on-bad-image', 'stop', '--out', join(dir, 'duts-stop')]);
    expect(s.status, s.stderr).toBe(2);
    expect(ownLines(s.stderr)).toEqual([expect.stringMatching(/^webgrad train-u2net: --data: .*b\.png: not a PNG or JPEG file/)]);
    expect(existsSync(join(dir, 'duts-stop', 'last.safetensors'))).toBe(false);
  });
});
