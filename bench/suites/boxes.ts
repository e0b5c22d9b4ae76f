/**
 * Box ops and d2l's anchor machinery, time per call: multiboxTarget on a TinySSD batch (32 images,
 * its 5444 anchors at 256×256, 2–6 objects an image padded to 6), pairwise boxIou 1000×1000, the
 * GIoU loss forward and backward over 5444 pairs, and multiboxPrior for the book's 561×728 image
 * (the op itself, bypassing the cache).
 * Standalone: `npx tsx bench/suites/boxes.ts [--quick]`.
 */
import { init, tidy, tensor, valueAndGrad, sum, type Tensor } from '../../src/node';
import { tinySsd } from '../../src/models';
import { boxIou, generalizedBoxIouLoss, multiboxTarget, tinySsdAnchors } from '../../src/detection';
import { multiboxPriorOp } from '../../src/tensor/ops/boxes';
import { syncByReadBack, timeIt, type BenchRow, type Suite } from '../lib';

/** A small seeded generator, so every run times the same boxes. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomBoxes(n: number, rnd: () => number): number[][] {
  return Array.from({ length: n }, () => {
    const x = rnd() * 0.7;
    const y = rnd() * 0.7;
    return [x, y, x + 0.05 + rnd() * 0.25, y + 0.05 + rnd() * 0.25];
  });
}

export const boxesSuite: Suite = async ({ quick }) => {
  const rows: BenchRow[] = [];
  const opts = quick ? { warmup: 1, iters: 1, repeats: 1 } : { warmup: 2, iters: 5, repeats: 3 };
  const sync = syncByReadBack;
  const rnd = lcg(12);
  const ms = (s: number) => s * 1e3;

  // TinySSD's anchors at 256×256 input: 32², 16², 8², 4², 1² maps with 4 anchors a pixel
  const anchors = tinySsdAnchors(tinySsd({ numClasses: 1 }), 256, 256);
  const B = 32;
  const G = 6;
  const targets = tensor(Array.from({ length: B }, (_, b) => randomBoxes(G, rnd).map((box, g) => (g < 2 + (b % 5) ? [g % 3, ...box] : [-1, 0, 0, 0, 0]))));
  const tTarget = await timeIt(() => void tidy(() => multiboxTarget(anchors, targets)), sync, opts);
  rows.push({ suite: 'boxes', name: `multiboxTarget B=${B} A=${anchors.shape[1]} G=${G}`, metric: 'ms', value: ms(tTarget) });

  const N = 1000;
  const b1 = tensor(randomBoxes(N, rnd));
  const b2 = tensor(randomBoxes(N, rnd));
  const tIou = await timeIt(() => void tidy(() => boxIou(b1, b2)), sync, opts);
  rows.push({ suite: 'boxes', name: `boxIou ${N}x${N}`, metric: 'ms', value: ms(tIou) });

  const A = anchors.shape[1];
  const p = tensor(randomBoxes(A, rnd));
  const q = tensor(randomBoxes(A, rnd));
  const lossGrad = valueAndGrad((x: Tensor) => sum(generalizedBoxIouLoss(x, q)));
  const tLoss = await timeIt(() => void tidy(() => lossGrad(p)), sync, opts);
  rows.push({ suite: 'boxes', name: `generalizedBoxIouLoss fwd+bwd ${A} pairs`, metric: 'ms', value: ms(tLoss) });

  const tPrior = await timeIt(() => void tidy(() => multiboxPriorOp.call1([], { H: 561, W: 728, sizes: [0.75, 0.5, 0.25], ratios: [1, 2, 0.5] })), sync, opts);
  rows.push({ suite: 'boxes', name: 'multiboxPrior 561x728, 5 a pixel', metric: 'ms', value: ms(tPrior) });

  for (const t of [anchors, targets, b1, b2, p, q]) t.dispose();
  return rows;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  const rows = await boxesSuite({ device, quick: process.argv.includes('--quick') });
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  for (const r of rows) console.log(`${r.name.padEnd(44)} ${r.value.toFixed(2).padStart(9)} ${r.metric}`);
  process.exit(0);
}
