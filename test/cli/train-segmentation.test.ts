/**
 * `webgrad train-segmentation` as a tool: bad flags are one line and exit code 2 before any model loads; a
 * tiny run (synthetic set written on the fly, 32×64 images) validates and checkpoints every epoch, writes
 * the panels, keeps GPU memory flat, resumes where it stopped (mid-epoch after --time-limit included), and
 * trains the backbone too when asked. The ImageNet weights are not needed: these runs use --backbone scratch.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownLines, runCli } from './run-cli';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgrad-cli-seg-'));
  writeFileSync(join(dir, 'afile'), 'x');
  writeFileSync(join(dir, 'bad.safetensors'), 'junk');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tiny = () => [
  '--size',
  '32x64',
  '--train-images',
  '4',
  '--val-images',
  '2',
  '--batch',
  '2',
  '--panels',
  '2',
  '--backbone',
  'scratch',
  '--synthetic',
  join(dir, 'synthetic'),
];

describe('webgrad train-segmentation: bad command lines', () => {
  const cases: [string[], RegExp][] = [
    [['--lr', '0'], /^webgrad train-segmentation: --lr must be a number > 0; got 0/],
    [['--size', 'big'], /^webgrad train-segmentation: --size must be HxW with each side in \[8, 4096\] \(e\.g\. 128x256\); got 'big'/],
    [['--size', '100x256'], /^webgrad train-segmentation: --size 100x256: both sides must be multiples of the output stride 8/],
    [['--stages', '3', '--size', '120x240'], /^webgrad train-segmentation: --size 120x240: both sides must be multiples of the output stride 16/],
    [['--stages', '4'], /^webgrad train-segmentation: --stages must be an integer in \[2, 3\]; got 4/],
    [['--backbone', 'vgg'], /^webgrad train-segmentation: --backbone must be imagenet or scratch; got 'vgg'/],
    [['--batch', '0'], /^webgrad train-segmentation: --batch must be an integer in \[1, 1024\]; got 0/],
    [['extra'], /^webgrad train-segmentation: unexpected argument 'extra'/],
    [['--data', '/nonexistent/cityscapes'], /^webgrad train-segmentation: --data '\/nonexistent\/cityscapes': cannot read \(ENOENT\)/],
    [['--data', '@DIR'], /^webgrad train-segmentation: --data: .*leftImg8bit/],
    [['--resume', '/nonexistent/last.safetensors'], /^webgrad train-segmentation: --resume '\/nonexistent\/last.safetensors': cannot read \(ENOENT\)/],
    [['--resume', '@DIR/bad.safetensors'], /^webgrad train-segmentation: --resume '.*bad\.safetensors' is not a safetensors file/],
    [['--out', '@DIR/afile'], /^webgrad train-segmentation: --out '.*afile' is a file, not a folder/],
  ];
  it.each(cases)('%j', (argv, message) => {
    const r = runCli(['train-segmentation', '--out', join(dir, 'never'), ...argv.map((a) => a.replace('@DIR', dir))]);
    expect(r.status, r.stderr).toBe(2);
    expect(ownLines(r.stderr)).toHaveLength(1);
    expect(ownLines(r.stderr)[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('webgrad train-segmentation: runs', () => {
  it('validates and checkpoints every epoch, writes panels, keeps GPU memory flat, and resumes', () => {
    const out = join(dir, 'run');
    const r = runCli(['train-segmentation', ...tiny(), '--epochs', '2', '--out', out], 300_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data: .*synthetic.*32x64-seed0-40 \(synthetic, written now in [\d.]+ s\): training 4 of 40, validation 2 of 40; at 32×64/);
    expect(r.stdout).toMatch(
      /FCN: ResNet-50 \(scratch\) cut after 2 stages \(stride 8\), [\d,]+ backbone parameters \(frozen\).*; 19 classes; batch 2, 2 steps an epoch/,
    );
    expect(r.stdout).toMatch(/val \(epoch 1, 2 images\): mIoU [\d.]+ {2}overall acc [\d.]+/);
    expect(r.stdout).toMatch(/val \(epoch 2, 2 images\): mIoU [\d.]+/);
    expect(r.stdout).toMatch(/best val mIoU so far: [\d.]+ → .*best\.safetensors/);
    const mem = /live GPU memory (\d+) tensors, ([\d.]+) MiB \(after 2 iterations: (\d+) tensors, ([\d.]+) MiB\)/.exec(r.stdout);
    expect(mem, r.stdout).not.toBeNull();
    expect(mem![1]).toBe(mem![3]);
    expect(mem![2]).toBe(mem![4]);
    // 4 training and 2 validation images, 512 × 4 × 8 floats each
    expect(r.stdout).toMatch(/features of 6 images cached \(0\.4 MiB on the host\)/);
    for (const f of ['last.safetensors', 'best.safetensors', 'val-001.png', 'val-002.png']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(existsSync(join(out, 'val-final.png'))).toBe(false);
    // two rows (32 high, scaled ×6 to 192) of four cells (64 × 6 wide), 4-pixel gaps
    const png = PNG.sync.read(readFileSync(join(out, 'val-002.png')));
    expect([png.width, png.height]).toEqual([4 * 384 + 5 * 4, 2 * 192 + 3 * 4]);

    const wrong = runCli(['train-segmentation', '--stages', '3', '--resume', join(out, 'last.safetensors'), '--out', out]);
    expect(wrong.status, wrong.stderr).toBe(2);
    expect(ownLines(wrong.stderr)).toEqual([expect.stringMatching(/--resume '.*last\.safetensors' was trained with --stages 2; give --stages 2/)]);
    const done = runCli(['train-segmentation', ...tiny(), '--epochs', '2', '--resume', join(out, 'last.safetensors'), '--out', out]);
    expect(done.status, done.stderr).toBe(2);
    expect(ownLines(done.stderr)[0]).toMatch(/--resume: '.*last\.safetensors' is at iteration 4 already \(2 epochs = 4\); give more --epochs/);

    const again = runCli(['train-segmentation', ...tiny(), '--epochs', '3', '--resume', join(out, 'last.safetensors'), '--out', out], 300_000);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/data: .*\(synthetic, written before\)/);
    expect(again.stdout).toMatch(/resumed from .*last\.safetensors at iteration 4 \(epoch 3, step 1\)/);
    // the best score so far is read back from best.safetensors
    const bestSoFar = [...r.stdout.matchAll(/best val mIoU so far: ([\d.]+)/g)].at(-1)![1];
    expect(again.stdout).toContain(`(epoch 3, step 1); best val mIoU so far ${bestSoFar}\n`);
    expect(again.stdout).toMatch(/train 2\/2 /);
    expect(again.stdout).toMatch(/val \(epoch 3, 2 images\)/);
    expect(existsSync(join(out, 'val-003.png'))).toBe(true);
  }, 600_000);

  it('a run stopped by --time-limit checkpoints mid-epoch and validates; --resume continues from there; the backbone trains when asked', () => {
    const out = join(dir, 'timed');
    const r = runCli(['train-segmentation', ...tiny(), '--epochs', '5', '--time-limit', '0.001', '--out', out], 300_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/time limit reached at iteration 1\n/);
    expect(r.stdout).toMatch(/checkpoint: .*last\.safetensors \(iteration 1\)/);
    expect(r.stdout).toMatch(/val \(final, 2 images\): mIoU [\d.]+/);
    expect(existsSync(join(out, 'val-final.png'))).toBe(true);
    // no room for cached features: each image's features are computed whenever it is used
    const again = runCli(
      ['train-segmentation', ...tiny(), '--epochs', '1', '--cache-mb', '0', '--resume', join(out, 'last.safetensors'), '--out', out],
      300_000,
    );
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/resumed from .*last\.safetensors at iteration 1 \(epoch 1, step 2\)/);
    expect(again.stdout).toMatch(/features of 0 images cached \(0\.0 MiB on the host\)/);
    expect(again.stdout).toMatch(/train 1\/1 /);
    expect(again.stdout).toMatch(/val \(epoch 1, 2 images\)/);

    const trained = runCli(['train-segmentation', ...tiny(), '--epochs', '1', '--backbone-lr-scale', '0.1', '--out', join(dir, 'trained')], 300_000);
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stdout).toMatch(/backbone parameters \(lr ×0\.1\)/);
    expect(trained.stdout).toMatch(/val \(epoch 1, 2 images\): mIoU [\d.]+/);
    const mem = /live GPU memory (\d+) tensors, ([\d.]+) MiB \(after 2 iterations: (\d+) tensors, ([\d.]+) MiB\)/.exec(trained.stdout);
    expect(mem![1]).toBe(mem![3]);
  }, 600_000);
});
