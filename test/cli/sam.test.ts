/** `webgrad sam` on the test photo with the tiny random-init model: files, cache, usage errors. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng } from '../../src/io/images';
import { savePth } from '../../src/io/files';
import { tinyFixture, values } from '../sam/tiny-fixture';
import { ownLines, runCli } from './run-cli';

const dir = mkdtempSync(join(tmpdir(), 'webgrad-sam-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const png = (f: string) => decodeImage(new Uint8Array(readFileSync(f)), f);

describe('webgrad sam', () => {
  it('a bad command line is one line on stderr, exit code 2', () => {
    const img = 'test/fixtures/chelsea.png';
    for (const [args, line] of [
      [['sam', '--out', dir], 'webgrad sam: no input image'],
      [['sam', img, '--out', dir], 'webgrad sam: give --point, --box or --auto'],
      [['sam', img, '--point', '10', '--out', dir], "webgrad sam: --point must be 2 or 3 comma-separated numbers; got '10'"],
      [['sam', img, '--point', '10,20,2', '--out', dir], 'webgrad sam: --point label must be 1 (foreground) or 0 (background); got 2'],
      [['sam', img, '--box', '1,2,3', '--out', dir], "webgrad sam: --box must be 4 comma-separated numbers; got '1,2,3'"],
      [['sam', img, '--auto', '--point', '1,2', '--out', dir], 'webgrad sam: --auto takes no --point or --box'],
      [['sam', img, '--auto', '--model', 'vit_x', '--out', dir], "webgrad sam: --model must be vit_b, vit_l, vit_h or tiny; got 'vit_x'"],
      [['sam', img, '--auto'], 'webgrad sam: --out DIR is required'],
      [['sam', '/nonexistent.png', '--auto', '--out', dir], "webgrad sam: IMAGE '/nonexistent.png': cannot read (ENOENT)"],
    ] as [string[], string][]) {
      const r = runCli(args);
      expect(r.status, args.join(' ')).toBe(2);
      const lines = ownLines(r.stderr);
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0].startsWith(line), lines[0]).toBe(true);
    }
  }, 60_000);

  it('prompts: three mask PNGs at the photo size and an overlay; a second run with --cache skips the encoder', () => {
    const out = join(dir, 'prompt');
    const cache = join(dir, 'cache');
    const args = [
      'sam',
      'test/fixtures/chelsea.png',
      '--model',
      'tiny',
      '--point',
      '200,150',
      '--point',
      '300,100,0',
      '--box',
      '100,50,350,280',
      '--cache',
      cache,
      '--out',
      out,
    ];
    const r = runCli(args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: no --checkpoint: random tiny weights \(seed 0\); the masks are meaningless/);
    expect(r.stderr).toMatch(/embedding: computed, cached/);
    expect(r.stdout).toMatch(/^test\/fixtures\/chelsea.png: 451×300, 3 mask\(s\), predicted IoU \[[-\d., ]+\], best \d/);
    expect(readdirSync(out).sort()).toEqual(['chelsea.mask-0.png', 'chelsea.mask-1.png', 'chelsea.mask-2.png', 'chelsea.overlay.png']);
    const m = png(join(out, 'chelsea.mask-0.png'));
    expect([m.width, m.height, m.channels]).toEqual([451, 300, 1]);
    for (let i = 0; i < m.width * m.height; i++) expect([0, 255]).toContain(m.data[4 * i]);
    const o = png(join(out, 'chelsea.overlay.png'));
    expect([o.width, o.height, o.channels]).toEqual([451, 300, 3]);
    expect(readdirSync(cache).length).toBe(1);
    const first = [0, 1, 2].map((k) => png(join(out, `chelsea.mask-${k}.png`)).data);
    const again = runCli(args);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/embedding: from cache/);
    // same masks from the cached embedding
    for (const k of [0, 1, 2]) expect(Buffer.from(png(join(out, `chelsea.mask-${k}.png`)).data).equals(Buffer.from(first[k]))).toBe(true);
  }, 120_000);

  it("--checkpoint with the official tiny model's weights: the masks equal the official predictor's", async () => {
    const { cases, state_dict } = await tinyFixture();
    // an official-style checkpoint: torch.save of the state_dict alone (the fixture wraps it with its cases)
    const ckpt = join(dir, 'sam_tiny.pth');
    await savePth(ckpt, state_dict);
    const photo = join(dir, 'small.png');
    writeFileSync(photo, encodePng(Uint8Array.from(values(cases['pred.image'])), 135, 90, 3));
    const out = join(dir, 'official');
    // pred.points (30, 40) fg and (100, 60) bg, pred.box
    const args = ['sam', photo, '--model', 'tiny', '--checkpoint', ckpt, '--point', '30,40', '--point', '100,60,0', '--box', '10,10,120,80'];
    const r = runCli([...args, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    expect(values(cases['pred.points'])).toEqual([30, 40, 100, 60]);
    expect(values(cases['pred.box'])).toEqual([10, 10, 120, 80]);
    const want = values(cases['pred.multi.masks']);
    for (const k of [0, 1, 2]) {
      const m = png(join(out, `small.mask-${k}.png`));
      let differ = 0;
      for (let i = 0; i < 90 * 135; i++) differ += (m.data[4 * i] === 255 ? 1 : 0) !== want[k * 90 * 135 + i] ? 1 : 0;
      expect(differ).toBeLessThanOrEqual(2);
    }
    // weights that do not fit the model: one line, exit code 1
    const bad = runCli(['sam', photo, '--model', 'tiny', '--checkpoint', 'test/fixtures/sam-official/structure.json', '--point', '30,40', '--out', out]);
    expect(bad.status).toBe(1);
    expect(ownLines(bad.stderr).length, bad.stderr).toBe(1);
    expect(ownLines(bad.stderr)[0]).toMatch(/^webgrad sam: /);
  }, 120_000);

  it('--auto: mask PNGs, the records as JSON and an overlay', () => {
    const out = join(dir, 'auto');
    const r = runCli([
      'sam',
      'test/fixtures/chelsea.png',
      '--model',
      'tiny',
      '--auto',
      '--points-per-side',
      '4',
      '--pred-iou-thresh',
      '0',
      '--stability-thresh',
      '0',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const n = Number(/451×300, (\d+) masks/.exec(r.stdout)?.[1]);
    expect(n).toBeGreaterThan(0);
    const recs = JSON.parse(readFileSync(join(out, 'chelsea.auto.json'), 'utf8'));
    expect(recs.length).toBe(n);
    for (const rec of recs) {
      expect(Object.keys(rec).sort()).toEqual(['area', 'bbox', 'cropBox', 'file', 'id', 'pointCoords', 'predictedIou', 'stabilityScore']);
      expect(existsSync(join(out, rec.file))).toBe(true);
      expect(rec.cropBox).toEqual([0, 0, 451, 300]);
    }
    expect(existsSync(join(out, 'chelsea.overlay.png'))).toBe(true);
  }, 120_000);
});
