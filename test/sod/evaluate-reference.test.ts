/**
 * The evaluator against PySODMetrics' published example values: its repository scores three
 * (prediction, ground truth) pairs (its examples/test_data) and publishes the numbers in
 * examples/version_performance.json (entry v1_4_3, below). The differences are summation order only
 * (numpy sums pairwise). The images are not part of this repository: `scripts/pysodmetrics-data.sh
 * <a PySODMetrics clone>` copies them to .cache/pysodmetrics (or set WEBGRAD_PYSODMETRICS); without
 * them this file is skipped with a warning, and test/sod/evaluate.test.ts's hand-computed cases stand.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../cli/run-cli';
import { evaluateSodFolders, readGrey } from '../../src/sod/node/evaluate-folders';

const DATA = process.env.WEBGRAD_PYSODMETRICS ?? join(root, '.cache/pysodmetrics');
const present = existsSync(join(DATA, 'preds')) && existsSync(join(DATA, 'masks'));
if (!present)
  console.warn(
    `PySODMetrics example data not found in ${DATA}: its published-values test is skipped (scripts/pysodmetrics-data.sh fetches nothing; it copies from a clone)`,
  );

// PySODMetrics v1_4_3 published values, keyed by our names (theirs in the comments where they differ)
const PUBLISHED = {
  MAE: 0.03705558476661653,
  Smeasure: 0.9029761578759272,
  wFmeasure: 0.5579812753638986,
  maxFm: 0.5886784581120638,
  meanFm: 0.577051059518767,
  adpFm: 0.5816750824038355,
  maxEm: 0.9669544828922699,
  meanEm: 0.9566258293508704,
  adpEm: 0.9408760066970617,
  maxIoU: 0.5201569938888494, // maxiou
  meanIoU: 0.49816648786971, // meaniou
  adpIoU: 0.5141023436626048, // adpiou
  maxDice: 0.5830613926289557, // maxdice
  meanDice: 0.5689913551800527, // meandice
  adpDice: 0.5801020564379223, // adpdice
  IoU: 0.5039622042094377, // sample_biiou
  Dice: 0.5738376903441331, // sample_bidice
};

describe.skipIf(!present)("PySODMetrics' example set", () => {
  const result = present ? evaluateSodFolders([join(DATA, 'preds')], join(DATA, 'masks'))[0] : (null as never);

  it('reproduces every published number to 1e-12', () => {
    expect(result.evaluation.images).toBe(3);
    expect([result.missing, result.extra]).toEqual([[], []]);
    for (const [k, v] of Object.entries(PUBLISHED)) {
      const got = result.evaluation[k as keyof typeof PUBLISHED];
      expect(Math.abs(got - v), `${k}: ${got} vs ${v}`).toBeLessThan(1e-12);
    }
  });

  it('the all-background RGB mask reads as grey zeros (cv2 IMREAD_GRAYSCALE weights)', () => {
    const g = readGrey(join(DATA, 'masks/aerial-1867541__340.png'));
    expect([g.width, g.height]).toEqual([605, 340]);
    expect(g.grey.every((v) => v === 0)).toBe(true);
  });
});
