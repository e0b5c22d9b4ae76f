/**
 * `webgrad evaluate-sod`: score saved saliency maps against ground-truth masks with the numbers the
 * salient-object-detection literature reports, computed as PySODMetrics computes them (MAE, S-measure,
 * weighted F-measure, max/mean/adaptive F-measure and E-measure, IoU and Dice), for one or several
 * methods side by side; optionally as JSON (with the averaged curves) and as PNG plots of the PR and
 * F-measure curves.
 *   webgrad evaluate-sod --pred results/u2netp --gt DUTS-TE/DUTS-TE-Mask
 *   webgrad evaluate-sod --pred a,b --pred c --gt masks --json scores.json --plots plots/
 */
import { writeFileAtomic } from '../io/files';
import { evaluateSodFolders, type SodFolderEvaluation } from '../sod/node/evaluate-folders';
import { writeSodPlots } from '../sod/node/plots';
import { parseArgs, UsageError } from './args';
import { checkInputDir, prepareOutDir, prepareOutFile } from './paths';

const USAGE = 'usage: webgrad evaluate-sod --pred DIR[,DIR…] [--pred DIR …] --gt DIR [options]';
const SPEC = {
  pred: { default: '', help: 'folder of prediction maps (0–255 images); repeat or comma-separate for several methods' },
  gt: { default: '', help: 'folder of ground-truth masks, paired with predictions by file name without extension' },
  json: { default: '', help: 'also write the numbers and the averaged curves to this JSON file' },
  plots: { default: '', help: 'also write pr-curves.png and fmeasure-curves.png to this folder' },
  'empty-iou': { default: 0, help: 'IoU/Dice when prediction and truth are both empty (0 as PySODMetrics, or 1)', int: true, min: 0, max: 1 },
} as const;

/** The table's columns: the JSON key and its header. */
const COLUMNS: [keyof SodFolderEvaluation['evaluation'], string][] = [
  ['MAE', 'MAE'],
  ['Smeasure', 'Sm'],
  ['wFmeasure', 'wFm'],
  ['maxFm', 'maxFm'],
  ['meanFm', 'meanFm'],
  ['adpFm', 'adpFm'],
  ['maxEm', 'maxEm'],
  ['meanEm', 'meanEm'],
  ['adpEm', 'adpEm'],
  ['IoU', 'IoU'],
  ['Dice', 'Dice'],
];

/** `--pred` may be given several times; the shared parser keeps one value, so collect them first. */
function takeRepeated(argv: string[], name: string): { values: string[]; rest: string[] } {
  const values: string[] = [],
    rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === `--${name}`) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      values.push(v);
    } else if (a.startsWith(`--${name}=`)) values.push(a.slice(name.length + 3));
    else rest.push(a);
  }
  return {
    values: values
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== ''),
    rest,
  };
}

export function formatTable(results: SodFolderEvaluation[]): string {
  const nameW = Math.max(6, ...results.map((r) => r.name.length));
  const head = ['method'.padEnd(nameW), 'images'.padStart(6), ...COLUMNS.map(([, h]) => h.padStart(7))].join('  ');
  const rows = results.map((r) =>
    [r.name.padEnd(nameW), String(r.evaluation.images).padStart(6), ...COLUMNS.map(([k]) => (r.evaluation[k] as number).toFixed(4).padStart(7))].join('  '),
  );
  return [head, ...rows].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values: preds, rest } = takeRepeated(argv, 'pred');
  const args = parseArgs(rest, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}'`);
  if (!preds.length) throw new UsageError('--pred DIR is required (a folder of prediction maps)');
  if (!args.gt) throw new UsageError('--gt DIR is required (a folder of ground-truth masks)');
  for (const p of preds) checkInputDir('--pred', p);
  checkInputDir('--gt', args.gt);
  if (args.json) prepareOutFile('--json', args.json);
  if (args.plots) prepareOutDir('--plots', args.plots);

  const results = evaluateSodFolders(preds, args.gt, { emptyIoU: args['empty-iou'] as 0 | 1 });
  for (const r of results) {
    if (r.missing.length)
      console.error(
        `warning: ${r.name}: ${r.missing.length} ground truths without a prediction (e.g. ${r.missing.slice(0, 3).join(', ')}); scored ${r.evaluation.images}`,
      );
    if (r.extra.length)
      console.error(`warning: ${r.name}: ${r.extra.length} predictions without a ground truth (e.g. ${r.extra.slice(0, 3).join(', ')}); ignored`);
  }
  console.log(formatTable(results));
  if (args.json) {
    const out = {
      gt: args.gt,
      methods: results.map((r) => {
        const { curves, ...numbers } = r.evaluation;
        return {
          name: r.name,
          pred: r.dir,
          ...numbers,
          missing: r.missing,
          extra: r.extra,
          curves: { thresholds: 'index t = 0…255: prediction ≥ t/255', ...curves },
        };
      }),
    };
    await writeFileAtomic(args.json, new TextEncoder().encode(`${JSON.stringify(out, null, 2)}\n`));
    console.log(`wrote ${args.json}`);
  }
  if (args.plots) {
    const files = await writeSodPlots(
      args.plots,
      results.map((r) => ({ name: r.name, evaluation: r.evaluation })),
    );
    console.log(`wrote ${files.join(', ')}`);
  }
  return 0;
}
