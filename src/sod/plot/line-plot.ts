/**
 * A small line-plot rasteriser (runtime-neutral): axes with ticks and labels, a title, one coloured
 * polyline per series and a legend, drawn into 8-bit RGB pixels. Enough for the PR and F-measure
 * curves evaluation toolboxes draw; the caller encodes the pixels (e.g. as PNG).
 */
import { glyph, GLYPH_HEIGHT, GLYPH_WIDTH } from '../../base/bitmap-font';

export interface PlotSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface LinePlot {
  title: string;
  xLabel: string;
  yLabel: string;
  xRange: [number, number];
  yRange: [number, number];
  xTicks: number[];
  yTicks: number[];
  series: PlotSeries[];
  /** where the legend sits inside the plot area (default 'lower-left') */
  legend?: 'lower-left' | 'upper-right' | 'lower-right';
  width?: number;
  height?: number;
}

export interface RgbImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** Distinct line colours (the usual categorical palette), cycled. */
export const SERIES_COLOURS: [number, number, number][] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const SCALE = 2; // text is the 5×7 font at twice its size
const CHAR_W = (GLYPH_WIDTH + 1) * SCALE;
const CHAR_H = GLYPH_HEIGHT * SCALE;

class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, c: readonly number[]) {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.pixels[i] = c[0];
    this.pixels[i + 1] = c[1];
    this.pixels[i + 2] = c[2];
  }
  rect(x0: number, y0: number, w: number, h: number, c: readonly number[]) {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, c);
  }
  /** a line `thickness` pixels wide (square pen), by stepping along its longer axis */
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[], thickness = 1) {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const lo = -Math.floor((thickness - 1) / 2),
      hi = lo + thickness;
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps,
        y = y0 + ((y1 - y0) * s) / steps;
      for (let dy = lo; dy < hi; dy++) for (let dx = lo; dx < hi; dx++) this.set(x + dx, y + dy, c);
    }
  }
  text(s: string, x: number, y: number, c: readonly number[], vertical = false) {
    [...s].forEach((ch, k) => {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_HEIGHT; r++)
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (!((rows[r] >> (GLYPH_WIDTH - 1 - col)) & 1)) continue;
          for (let sy = 0; sy < SCALE; sy++)
            for (let sx = 0; sx < SCALE; sx++) {
              const u = k * CHAR_W + col * SCALE + sx,
                v = r * SCALE + sy;
              // vertical text reads bottom to top
              if (vertical) this.set(x + v, y - u, c);
              else this.set(x + u, y + v, c);
            }
        }
    });
  }
}

const textWidth = (s: string) => s.length * CHAR_W - SCALE;
const tickLabel = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

export function drawLinePlot(plot: LinePlot): RgbImage {
  const W = plot.width ?? 720,
    H = plot.height ?? 540;
  const cv = new Canvas(W, H);
  const black = [0, 0, 0],
    grid = [225, 225, 225];
  const left = 90,
    right = W - 24,
    top = 44,
    bottom = H - 70;
  const [x0, x1] = plot.xRange,
    [y0, y1] = plot.yRange;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  // grid and ticks
  for (const t of plot.xTicks) {
    const x = px(t);
    cv.line(x, top, x, bottom, grid);
    cv.line(x, bottom, x, bottom + 6, black);
    const label = tickLabel(t);
    cv.text(label, Math.round(x - textWidth(label) / 2), bottom + 12, black);
  }
  for (const t of plot.yTicks) {
    const y = py(t);
    cv.line(left, y, right, y, grid);
    cv.line(left - 6, y, left, y, black);
    const label = tickLabel(t);
    cv.text(label, left - 12 - textWidth(label), Math.round(y - CHAR_H / 2), black);
  }
  // axes box, title and axis labels
  cv.line(left, top, right, top, black);
  cv.line(left, bottom, right, bottom, black);
  cv.line(left, top, left, bottom, black);
  cv.line(right, top, right, bottom, black);
  cv.text(plot.title, Math.round((W - textWidth(plot.title)) / 2), 14, black);
  cv.text(plot.xLabel, Math.round((left + right - textWidth(plot.xLabel)) / 2), bottom + 40, black);
  cv.text(plot.yLabel, 14, Math.round((top + bottom + textWidth(plot.yLabel)) / 2), black, true);
  // the curves, clipped to the plot area
  const clip = (v: number, a: number, b: number) => Math.min(Math.max(v, a), b);
  plot.series.forEach((s, k) => {
    const colour = SERIES_COLOURS[k % SERIES_COLOURS.length];
    const n = Math.min(s.x.length, s.y.length);
    for (let i = 1; i < n; i++) {
      if (![s.x[i - 1], s.y[i - 1], s.x[i], s.y[i]].every(Number.isFinite)) continue;
      cv.line(clip(px(s.x[i - 1]), left, right), clip(py(s.y[i - 1]), top, bottom), clip(px(s.x[i]), left, right), clip(py(s.y[i]), top, bottom), colour, 2);
    }
  });
  // legend: a framed box with a colour swatch per series
  if (plot.series.length) {
    const rowH = CHAR_H + 8,
      boxW = 16 + 28 + 8 + Math.max(...plot.series.map((s) => textWidth(s.name))),
      boxH = plot.series.length * rowH + 8;
    const where = plot.legend ?? 'lower-left';
    const bx = where === 'lower-left' ? left + 12 : right - 12 - boxW;
    const by = where === 'upper-right' ? top + 12 : bottom - 12 - boxH;
    cv.rect(bx, by, boxW, boxH, [255, 255, 255]);
    cv.line(bx, by, bx + boxW, by, black);
    cv.line(bx, by + boxH, bx + boxW, by + boxH, black);
    cv.line(bx, by, bx, by + boxH, black);
    cv.line(bx + boxW, by, bx + boxW, by + boxH, black);
    plot.series.forEach((s, k) => {
      const y = by + 8 + k * rowH;
      cv.line(bx + 8, y + CHAR_H / 2, bx + 36, y + CHAR_H / 2, SERIES_COLOURS[k % SERIES_COLOURS.length], 3);
      cv.text(s.name, bx + 44, y, black);
    });
  }
  return { width: W, height: H, pixels: cv.pixels };
}
