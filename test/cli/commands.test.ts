/** The `webgrad` dispatcher and the output checks of remove-bg and export-onnx: one line, exit code 2, no device opened. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgrad-cli-'));
  writeFileSync(join(dir, 'afile'), 'x');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('webgrad', () => {
  it('--help lists the commands (exit 0); no command prints it to stderr (exit 2); an unknown command is one line (exit 2)', () => {
    const h = runCli(['--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^usage: webgrad <command>/);
    for (const c of ['remove-bg', 'train-u2net', 'eval-u2net', 'evaluate-sod', 'export-onnx', 'train-ssd', 'classify', 'train-segmentation'])
      expect(h.stdout).toContain(`  ${c} `);
    const none = runCli([]);
    expect([none.status, none.stdout]).toEqual([2, '']);
    expect(none.stderr).toMatch(/^usage: webgrad <command>/);
    const bad = runCli(['frob']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /^webgrad: unknown command 'frob'; commands: remove-bg, train-u2net, eval-u2net, evaluate-sod, export-onnx, train-ssd, .*classify.* \(webgrad --help\)\n$/,
    );
  });

  const cases: [string[], string][] = [
    [['remove-bg'], 'webgrad remove-bg: no input images (give files or folders)'],
    [['remove-bg', '/nonexistent.jpg'], 'webgrad remove-bg: /nonexistent.jpg: cannot read (ENOENT)'],
    [['remove-bg', 'test/fixtures/coffee.jpg', '--out', '@DIR/afile'], "webgrad remove-bg: --out '@DIR/afile' is a file, not a folder"],
    [
      ['remove-bg', 'test/fixtures/coffee.jpg', '--out', '@DIR/afile/sub'],
      "webgrad remove-bg: --out '@DIR/afile/sub' is under a file ('@DIR/afile'), not a folder",
    ],
    [['remove-bg', 'test/fixtures/coffee.jpg', '--precision', 'fp8'], "webgrad remove-bg: --precision must be fp32, fp16 or auto; got 'fp8'"],
    [['remove-bg', 'test/fixtures/coffee.jpg', '--resize', 'bicubic'], "webgrad remove-bg: --resize must be bilinear or antialias; got 'bicubic'"],
    [['export-onnx'], 'webgrad export-onnx: --out FILE.onnx is required'],
    [['export-onnx', '--random', '--out', '@DIR'], "webgrad export-onnx: --out '@DIR' is a folder; give a file name"],
    [['export-onnx', '--random', '--out', '@DIR/afile/x.onnx'], "webgrad export-onnx: --out '@DIR/afile/x.onnx' is under a file ('@DIR/afile'), not a folder"],
    [['eval-u2net', '--split', 'train'], "webgrad eval-u2net: --split must be held-out or all; got 'train'"],
  ];
  it.each(cases)('%j', (argv, message) => {
    const command = argv[0];
    const r = runCli(argv.map((a) => a.replace('@DIR', dir)));
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toBe(`${message.replaceAll('@DIR', dir)} (webgrad ${command} --help)\n`);
  });
});
