/** `webgrad evaluate-sod`: the table, the JSON, the plots, several methods, unmatched files, usage errors. */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/run-cli';
import { decodeImage, encodePng } from '../../src/io/images';
import { evaluateSodFolders } from '../../src/sod/node/evaluate-folders';

const dir = mkdtempSync(join(tmpdir(), 'webgrad-evaluate-sod-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A small made-up test set: three masks (a rectangle, a disc, one all background, as real sets have)
 * and soft predictions that are close but not equal (blurred edges, a false positive patch, noise).
 */
const DATA = join(dir, 'set');
const SIZES: Record<string, [number, number]> = { '0001': [40, 30], '19': [36, 48], 'aerial-1867541__340': [50, 28] };
function makeSet(): void {
  mkdirSync(join(DATA, 'preds'), { recursive: true });
  mkdirSync(join(DATA, 'masks'), { recursive: true });
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const [k, [w, h]] of Object.entries(SIZES)) {
    const mask = new Uint8Array(w * h),
      pred = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const fg = k === '0001' ? x > 8 && x < 30 && y > 5 && y < 22 : k === '19' ? (x - 18) ** 2 + (y - 24) ** 2 < 140 : false;
        const near = k === '0001' ? x > 6 && x < 32 && y > 3 && y < 24 : k === '19' ? (x - 18) ** 2 + (y - 24) ** 2 < 190 : x > 40 && y > 20;
        mask[y * w + x] = fg ? 255 : 0;
        pred[y * w + x] = Math.min(255, Math.round((fg ? 200 : near ? 110 : 10) + 40 * rnd()));
      }
    }
    writeFileSync(join(DATA, 'masks', `${k}.png`), encodePng(mask, w, h, 1));
    writeFileSync(join(DATA, 'preds', `${k}.png`), encodePng(pred, w, h, 1));
  }
}
makeSet();
const f4 = (v: number) => v.toFixed(4).replace('.', '\\.');

describe('webgrad evaluate-sod', () => {
  it('prints the table, writes JSON with curves and two PNG plots, for two methods side by side', () => {
    // a second "method": two of the three predictions, plus one without a ground truth
    const other = join(dir, 'partial');
    mkdirSync(other);
    copyFileSync(join(DATA, 'preds/0001.png'), join(other, '0001.png'));
    copyFileSync(join(DATA, 'preds/19.png'), join(other, '19.png'));
    copyFileSync(join(DATA, 'preds/19.png'), join(other, 'stray.png'));
    const json = join(dir, 'out/scores.json'),
      plots = join(dir, 'plots');
    const r = runCli(['evaluate-sod', '--pred', join(DATA, 'preds'), '--pred', other, '--gt', join(DATA, 'masks'), '--json', json, '--plots', plots]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^method\s+images\s+MAE\s+Sm\s+wFm\s+maxFm\s+meanFm\s+adpFm\s+maxEm\s+meanEm\s+adpEm\s+IoU\s+Dice$/);
    // the table prints the library's numbers (src/sod/evaluate.ts, tested against hand-computed and published values)
    const e = evaluateSodFolders([join(DATA, 'preds')], join(DATA, 'masks'))[0].evaluation;
    const cols = [e.MAE, e.Smeasure, e.wFmeasure, e.maxFm, e.meanFm, e.adpFm, e.maxEm, e.meanEm, e.adpEm, e.IoU, e.Dice].map(f4).join('\\s+');
    expect(lines[1]).toMatch(new RegExp(`^preds\\s+3\\s+${cols}$`));
    expect(lines[2]).toMatch(/^partial\s+2\s/);
    expect(r.stderr).toContain('partial: 1 ground truths without a prediction (e.g. aerial-1867541__340)');
    expect(r.stderr).toContain('partial: 1 predictions without a ground truth (e.g. stray)');
    const out = JSON.parse(readFileSync(json, 'utf8'));
    expect(out.methods.map((m: { name: string }) => m.name)).toEqual(['preds', 'partial']);
    expect(out.methods[0].maxFm).toBeCloseTo(e.maxFm, 12);
    expect(out.methods[0].curves.precision).toHaveLength(256);
    expect(out.methods[1].missing).toEqual(['aerial-1867541__340']);
    for (const f of ['pr-curves.png', 'fmeasure-curves.png']) {
      const img = decodeImage(readFileSync(join(plots, f)));
      expect([img.width, img.height]).toEqual([720, 540]);
      // the two methods' colours are drawn
      const has = (c: number[]) => {
        for (let i = 0; i < img.data.length; i += 4) if (img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2]) return true;
        return false;
      };
      expect(has([31, 119, 180]) && has([255, 127, 14])).toBe(true);
    }
  });

  it('comma-separated --pred works too', () => {
    const r = runCli(['evaluate-sod', '--pred', `${join(DATA, 'preds')},${join(dir, 'partial')}`, '--gt', join(DATA, 'masks')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(3);
  });

  const usage: [string[], string][] = [
    [['evaluate-sod', '--gt', 'x'], 'webgrad evaluate-sod: --pred DIR is required (a folder of prediction maps) (webgrad evaluate-sod --help)'],
    [
      ['evaluate-sod', '--pred', '/nonexistent-sod', '--gt', 'x'],
      "webgrad evaluate-sod: --pred '/nonexistent-sod': cannot read (ENOENT) (webgrad evaluate-sod --help)",
    ],
    [['evaluate-sod', '--pred', 'test'], 'webgrad evaluate-sod: --gt DIR is required (a folder of ground-truth masks) (webgrad evaluate-sod --help)'],
    [['evaluate-sod', '--pred'], 'webgrad evaluate-sod: --pred needs a value (webgrad evaluate-sod --help)'],
  ];
  it.each(usage)('%j is one line and exit 2', (argv, message) => {
    const r = runCli(argv);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${message}\n`);
  });

  it('a prediction of another size than its truth is one line and exit 1', () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    copyFileSync(join(DATA, 'preds/19.png'), join(bad, '0001.png'));
    const r = runCli(['evaluate-sod', '--pred', bad, '--gt', join(DATA, 'masks')]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^webgrad evaluate-sod: evaluateSodFolder: .*0001\.png is 36×48 but its ground truth .*0001\.png is 40×30; expected the same size$/,
      ),
    ]);
  });

  it('--help shows the options', () => {
    const r = runCli(['evaluate-sod', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: webgrad evaluate-sod /);
    for (const o of ['--pred', '--gt', '--json', '--plots', '--empty-iou']) expect(r.stdout).toContain(o);
  });
});
