/** PNG plots of dataset evaluations: PR curves and F-measure-vs-threshold curves, methods side by side. */
import { join } from 'node:path';
import { writePng } from '../../io/images';
import { drawLinePlot, type RgbImage } from '../plot/line-plot';
import type { SodEvaluation } from '../evaluate';

/** A dataset evaluation with the name it has in plot legends. */
export interface NamedEvaluation {
  /** The legend entry. */
  name: string;
  /** The evaluation to plot. */
  evaluation: SodEvaluation;
}

const UNIT_TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];

/** Precision (y) against recall (x), one curve per method over the 256 thresholds. */
export function prCurvePlot(methods: NamedEvaluation[]): RgbImage {
  return drawLinePlot({
    title: 'PR curves',
    xLabel: 'Recall',
    yLabel: 'Precision',
    xRange: [0, 1],
    yRange: [0, 1],
    xTicks: UNIT_TICKS,
    yTicks: UNIT_TICKS,
    series: methods.map((m) => ({ name: m.name, x: m.evaluation.curves.recall, y: m.evaluation.curves.precision })),
    legend: 'lower-left',
  });
}

/** F-measure (β² = 0.3, y) against the threshold 0…255 (x). */
export function fmeasureCurvePlot(methods: NamedEvaluation[]): RgbImage {
  const t = Array.from({ length: 256 }, (_, i) => i);
  return drawLinePlot({
    title: 'F-measure curves',
    xLabel: 'Threshold',
    yLabel: 'F-measure',
    xRange: [0, 255],
    yRange: [0, 1],
    xTicks: [0, 50, 100, 150, 200, 250],
    yTicks: UNIT_TICKS,
    series: methods.map((m) => ({ name: m.name, x: t, y: m.evaluation.curves.fmeasure })),
    legend: 'lower-left',
  });
}

/** Writes DIR/pr-curves.png and DIR/fmeasure-curves.png; returns their paths. */
export async function writeSodPlots(dir: string, methods: NamedEvaluation[]): Promise<string[]> {
  const out: string[] = [];
  for (const [file, img] of [
    ['pr-curves.png', prCurvePlot(methods)],
    ['fmeasure-curves.png', fmeasureCurvePlot(methods)],
  ] as const) {
    const path = join(dir, file);
    await writePng(path, img.pixels, img.width, img.height, 3);
    out.push(path);
  }
  return out;
}
