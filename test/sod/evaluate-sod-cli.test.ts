/** `webgrad evaluate-sod`: the table, the JSON, the plots, several methods, unmatched files, usage errors. */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, root } from '../cli/run-cli';
import { decodeImage } from '../../src/io/images';

const DATA = join(root, 'test/fixtures/pysodmetrics');
const dir = mkdtempSync(join(tmpdir(), 'webgrad-evaluate-sod-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('webgrad evaluate-sod', () => {
  it('prints the table, writes JSON with curves and two PNG plots, for two methods side by side', () => {
    // a second "method": two of the three predictions, plus one without a ground truth
    const other = join(dir, 'partial');
    mkdirSync(other);
    copyFileSync(join(DATA, 'preds/0001.png'), join(other, '0001.png'));
    copyFileSync(join(DATA, 'preds/19.png'), join(other, '19.png'));
    copyFileSync(join(DATA, 'preds/19.png'), join(other, 'stray.png'));
    const json = join(dir, 'out/scores.json'), plots = join(dir, 'plots');
    const r = runCli(['evaluate-sod', '--pred', join(DATA, 'preds'), '--pred', other, '--gt', join(DATA, 'masks'), '--json', json, '--plots', plots]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^method\s+images\s+MAE\s+Sm\s+wFm\s+maxFm\s+meanFm\s+adpFm\s+maxEm\s+meanEm\s+adpEm\s+IoU\s+Dice$/);
    expect(lines[1]).toMatch(/^preds\s+3\s+0\.0371\s+0\.9030\s+0\.5580\s+0\.5887\s+0\.5771\s+0\.5817\s+0\.9670\s+0\.9566\s+0\.9409\s+0\.5040\s+0\.5738$/);
    expect(lines[2]).toMatch(/^partial\s+2\s/);
    expect(r.stderr).toContain('partial: 1 ground truths without a prediction (e.g. aerial-1867541__340)');
    expect(r.stderr).toContain('partial: 1 predictions without a ground truth (e.g. stray)');
    const out = JSON.parse(readFileSync(json, 'utf8'));
    expect(out.methods.map((m: { name: string }) => m.name)).toEqual(['preds', 'partial']);
    expect(out.methods[0].maxFm).toBeCloseTo(0.5886784581120638, 12);
    expect(out.methods[0].curves.precision).toHaveLength(256);
    expect(out.methods[1].missing).toEqual(['aerial-1867541__340']);
    for (const f of ['pr-curves.png', 'fmeasure-curves.png']) {
      const img = decodeImage(readFileSync(join(plots, f)));
      expect([img.width, img.height]).toEqual([720, 540]);
      // the two methods' colours are drawn
      const has = (c: number[]) => { for (let i = 0; i < img.data.length; i += 4) if (img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2]) return true; return false; };
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
    [['evaluate-sod', '--pred', '/nonexistent-sod', '--gt', 'x'], "webgrad evaluate-sod: --pred '/nonexistent-sod': cannot read (ENOENT) (webgrad evaluate-sod --help)"],
    [['evaluate-sod', '--pred', 'test/fixtures/pysodmetrics/preds'], 'webgrad evaluate-sod: --gt DIR is required (a folder of ground-truth masks) (webgrad evaluate-sod --help)'],
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
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^webgrad evaluate-sod: evaluateSodFolder: .*0001\.png is 500×375 but its ground truth .*0001\.png is 267×400; expected the same size$/)]);
  });

  it('--help shows the options', () => {
    const r = runCli(['evaluate-sod', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: webgrad evaluate-sod /);
    for (const o of ['--pred', '--gt', '--json', '--plots', '--empty-iou']) expect(r.stdout).toContain(o);
  });
});
