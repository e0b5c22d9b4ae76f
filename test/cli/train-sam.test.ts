/**
 * `webgrad train-sam` as a tool: bad command lines are one line and exit code 2 before any model loads; tiny runs
 * of both tasks (synthetic scenes written on the fly at 32×64, the small random-init SAM) validate every epoch with
 * the stream metrics, write the checkpoints and panels, and leave GPU memory flat between steps.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors } from '../../src/io/files';
import { ownLines, runCli } from './run-cli';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgrad-cli-sam-'));
  writeFileSync(join(dir, 'afile'), 'x');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tiny = () => ['--size', '32x64', '--synthetic', '4', '--val-images', '2', '--batch', '2', '--panels', '2', '--synthetic-dir', join(dir, 'synthetic')];

describe('webgrad train-sam: bad command lines', () => {
  const cases: [string[], RegExp][] = [
    [['--task', 'detect'], /^webgrad train-sam: --task must be semantic or prompt; got 'detect'/],
    [['--model', 'vit_x'], /^webgrad train-sam: --model must be tiny, vit_b, vit_l or vit_h; got 'vit_x'/],
    [['--checkpoint', 'sam_vit_b_01ec64.pth'], /^webgrad train-sam: --checkpoint needs --model vit_b, vit_l or vit_h/],
    [
      ['--model', 'vit_b', '--checkpoint', '/nonexistent/sam_vit_b_01ec64.pth'],
      /^webgrad train-sam: --checkpoint '\/nonexistent\/sam_vit_b_01ec64\.pth': cannot read \(ENOENT\)/,
    ],
    [['--lr', '0'], /^webgrad train-sam: --lr must be a number > 0; got 0/],
    [['--prompts-per-image', '2'], /^webgrad train-sam: --train-prompt-encoder, --prompts-per-image and --focal-weight apply to --task prompt/],
    [['--task', 'prompt', '--positive', '0'], /^webgrad train-sam: --positive and --negative are both 0/],
    [['--data', '/nonexistent/cityscapes'], /^webgrad train-sam: --data '\/nonexistent\/cityscapes': cannot read \(ENOENT\)/],
    [['--out', '@DIR/afile'], /^webgrad train-sam: --out '.*afile' is a file, not a folder/],
    [['extra'], /^webgrad train-sam: unexpected argument 'extra'/],
  ];
  it.each(cases)('%j', (argv, message) => {
    const r = runCli(['train-sam', '--out', join(dir, 'never'), ...argv.map((a) => a.replace('@DIR', dir))]);
    expect(r.status, r.stderr).toBe(2);
    expect(ownLines(r.stderr)).toHaveLength(1);
    expect(ownLines(r.stderr)[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('webgrad train-sam: runs', () => {
  const memoryFlat = (stdout: string) => {
    const m = /live GPU memory after step 2: (\d+) tensors, ([\d.]+) MiB; after the last step: (\d+) tensors, ([\d.]+) MiB/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    // the same live tensors (bytes can differ while the matmul autotuner measures new shapes in the background)
    expect(m![3]).toBe(m![1]);
  };

  it('--task semantic: a head on the frozen embeddings, validated with the stream metrics, checkpoints and panels', () => {
    const out = join(dir, 'semantic');
    const r = runCli(['train-sam', ...tiny(), '--epochs', '2', '--out', out], 300_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data: .*32x64-seed0-40 \(synthetic, written now in [\d.]+ s\): training 4 of 40, validation 2 of 40; at 32×64/);
    expect(r.stdout).toMatch(/model: SAM tiny \(random init\): 256² input, embeddings 64×16×16; image encoder [\d,]+ parameters \(frozen\)/);
    expect(r.stdout).toMatch(/epoch 1: train loss [\d.]+; val mIoU [\d.]+ {2}overall acc [\d.]+ .*class IoU: /);
    expect(r.stdout).toMatch(/epoch 2: train loss [\d.]+; val mIoU [\d.]+/);
    // the encoder ran once per image: 4 training + 2 validation images
    expect(r.stdout).toMatch(
      /done: 2 epochs in [\d.]+ s \(image encoder: 6 images in [\d.]+ s; 6 cached on the host, [\d.]+ MiB\); val mIoU by epoch: [\d.]+ [\d.]+/,
    );
    memoryFlat(r.stdout);
    for (const f of ['last.safetensors', 'best.safetensors', 'val-001.png', 'val-002.png']) expect(existsSync(join(out, f)), f).toBe(true);
    const png = PNG.sync.read(readFileSync(join(out, 'val-002.png')));
    expect([png.width, png.height]).toEqual([4 * 384 + 5 * 4, 2 * 192 + 3 * 4]);
  }, 300_000);

  it('--task prompt: the mask decoder from ground-truth prompts; the checkpoint holds the decoder under its official keys', async () => {
    const out = join(dir, 'prompt');
    const r = runCli(['train-sam', ...tiny(), '--task', 'prompt', '--prompts-per-image', '2', '--val-images', '1', '--epochs', '1', '--out', out], 300_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/prompt encoder [\d,]+ \(frozen\), mask decoder [\d,]+ \(trained\)/);
    expect(r.stdout).toMatch(/epoch 1: train loss [\d.]+; val mIoU [\d.]+ {2}mask IoU [\d.]+/);
    memoryFlat(r.stdout);
    const { tensors, metadata } = await loadSafetensors(join(out, 'last.safetensors'));
    expect(JSON.parse(metadata!.meta).task).toBe('prompt');
    expect(Object.keys(tensors)).toContain('params.mask_decoder.iou_token.weight');
    expect(Object.keys(tensors).some((k) => k.startsWith('params.image_encoder') || k.startsWith('params.prompt_encoder'))).toBe(false);
  }, 300_000);
});
