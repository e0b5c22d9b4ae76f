/**
 * A built-in detection set, generated from code and deterministic by (seed, index): one to four
 * objects of a few classes (each a distinct shape in a distinct colour) at varied sizes, aspect
 * ratios and positions, with limited overlap, painted over textured, noisy backgrounds that carry
 * low-saturation distractor shapes. The boxes are the painted shapes' exact geometric extents.
 * Pure TypeScript on typed arrays (a 256² image takes about 8 ms on one core of the 2-core CI
 * machine). Deterministic per (seed, index) on a given JavaScript engine; Math.pow, Math.cos and
 * Math.atan2 are not correctly rounded by specification, so another engine may differ in the last bit.
 */
import { ArgumentError } from '../base/shape';
import type { DetectionSample } from './types';
import type { DetectionDataset } from './batch';
import { mulberry32 } from '../base/mulberry32';
import { type Colour, hsv, valueNoise } from '../base/procedural';

/**
 * The class names of the synthetic set, indexed by class id: a red rectangle, a green disc
 * (ellipse), a blue triangle and a yellow cross.
 */
export const SYNTHETIC_DETECTION_CLASSES: readonly string[] = Object.freeze(['red rectangle', 'green disc', 'blue triangle', 'yellow cross']);

/** Options of {@link syntheticDetectionSample} and {@link syntheticDetectionDataset}. */
export interface SyntheticDetectionOptions {
  /** Image side, or [height, width], in pixels; default 256. */
  size?: number | readonly [number, number];
  /** The seed: a different seed is a different set; default 0. */
  seed?: number;
  /** Fewest objects per image; default 1. */
  minObjects?: number;
  /** Most objects per image; default 4. */
  maxObjects?: number;
  /** Range of an object's size (the geometric mean of its box's sides) as a fraction of the image's shorter side; default [0.1, 0.5]. */
  scale?: readonly [number, number];
  /** Largest IoU allowed between two objects' boxes; default 0.1. Besides, no box lies more than half inside another, so no object hides another. */
  maxOverlap?: number;
}

interface Resolved {
  h: number;
  w: number;
  seed: number;
  minObjects: number;
  maxObjects: number;
  scale: [number, number];
  maxOverlap: number;
}

function resolve(fn: string, o: SyntheticDetectionOptions = {}): Resolved {
  const size = o.size ?? 256;
  const hw = typeof size === 'number' ? [size, size] : size;
  if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((d) => Number.isInteger(d) && d >= 8 && d <= 4096))
    throw new ArgumentError(fn, 'size', `is ${JSON.stringify(size)}`, 'an integer side in [8, 4096] or an [H, W] pair of them');
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ArgumentError(fn, 'seed', `is ${seed}`, 'an integer');
  const minObjects = o.minObjects ?? 1,
    maxObjects = o.maxObjects ?? 4;
  if (!Number.isInteger(minObjects) || minObjects < 0) throw new ArgumentError(fn, 'minObjects', `is ${minObjects}`, 'a non-negative integer');
  if (!Number.isInteger(maxObjects) || maxObjects < minObjects || maxObjects > 64)
    throw new ArgumentError(fn, 'maxObjects', `is ${maxObjects}`, `an integer in [minObjects = ${minObjects}, 64]`);
  const scale = o.scale ?? [0.1, 0.5];
  if (!Array.isArray(scale) || scale.length !== 2 || !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 0.9))
    throw new ArgumentError(fn, 'scale', `is ${JSON.stringify(o.scale)}`, 'a range 0 < lo ≤ hi ≤ 0.9');
  const maxOverlap = o.maxOverlap ?? 0.1;
  if (!(maxOverlap >= 0 && maxOverlap <= 1)) throw new ArgumentError(fn, 'maxOverlap', `is ${o.maxOverlap}`, 'an IoU in [0, 1]');
  return { h: hw[0], w: hw[1], seed, minObjects, maxObjects, scale: [scale[0], scale[1]], maxOverlap };
}

/** Mixes the seed and the index (different constants from the salient-object set's, so the two sets differ). */
const hashSeed = (seed: number, index: number) => (Math.imul(seed ^ 0x2545f491, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;

/**
 * Approximate signed distance in pixels (> 0 inside) of a shape filling the box centred at (cx, cy)
 * with half-sides (a, b); the shape touches all four sides of its box, so the box is exact.
 */
type Sdf = (x: number, y: number) => number;

const CLASS_HUES = [0, 1 / 3, 2 / 3, 1 / 6];

function classShape(cls: number, cx: number, cy: number, a: number, b: number): Sdf {
  if (cls === 0) return (x, y) => Math.min(a - Math.abs(x - cx), b - Math.abs(y - cy));
  if (cls === 1) {
    const m = Math.min(a, b);
    return (x, y) => (1 - Math.hypot((x - cx) / a, (y - cy) / b)) * m;
  }
  if (cls === 2) {
    // apex at the top centre, base along the bottom side
    const top = cy - b,
      norm = Math.hypot(2 * b, a);
    return (x, y) => Math.min(cy + b - y, ((y - top) * a - Math.abs(x - cx) * 2 * b) / norm);
  }
  // a plus sign whose arms are 0.36 of the box wide
  const ta = 0.36 * a,
    tb = 0.36 * b;
  return (x, y) => {
    const u = Math.abs(x - cx),
      v = Math.abs(y - cy);
    return Math.max(Math.min(ta - u, b - v), Math.min(tb - v, a - u));
  };
}

/** Distractor shapes that are none of the classes: rings, stars and thick line segments. */
function distractorShape(r: () => number, cx: number, cy: number, s: number): Sdf {
  const kind = Math.floor(r() * 3);
  if (kind === 0) {
    const thick = s * (0.12 + 0.15 * r());
    return (x, y) => thick - Math.abs(Math.hypot(x - cx, y - cy) - s);
  }
  if (kind === 1) {
    const k = 5 + Math.floor(r() * 3),
      depth = 0.35 + 0.2 * r(),
      phase = r() * 6.28;
    return (x, y) => {
      const dx = x - cx,
        dy = y - cy;
      return s * (1 - depth + depth * Math.cos(k * Math.atan2(dy, dx) + phase)) - Math.hypot(dx, dy);
    };
  }
  const ang = r() * Math.PI,
    ux = Math.cos(ang),
    uy = Math.sin(ang),
    half = s * 1.5,
    thick = 1 + s * 0.08;
  return (x, y) => {
    const dx = x - cx,
      dy = y - cy,
      along = dx * ux + dy * uy,
      across = -dx * uy + dy * ux;
    return Math.min(thick - Math.abs(across), half - Math.abs(along));
  };
}

/**
 * Blends `shape` in `colour` over the pixels of the box [x1, x2) × [y1, y2) (clamped to the image),
 * with a one-pixel soft edge, an opacity and an optional brightness texture over the box.
 */
function paint(image: Float32Array, h: number, w: number, shape: Sdf, box: number[], colour: Colour, alpha: number, texture: Float32Array | null) {
  const n = h * w;
  const x1 = Math.max(0, Math.floor(box[0])),
    y1 = Math.max(0, Math.floor(box[1])),
    x2 = Math.min(w, Math.ceil(box[2])),
    y2 = Math.min(h, Math.ceil(box[3]));
  const tw = x2 - x1;
  for (let y = y1; y < y2; y++) {
    for (let x = x1; x < x2; x++) {
      const d = shape(x + 0.5, y + 0.5);
      if (d <= -0.5) continue;
      const a = Math.min(1, d + 0.5) * alpha,
        i = y * w + x;
      const shade = texture ? 0.7 + 0.6 * texture[(y - y1) * tw + (x - x1)] : 1;
      for (let c = 0; c < 3; c++) {
        const v = Math.min(1, colour[c] * shade);
        image[c * n + i] += (v - image[c * n + i]) * a;
      }
    }
  }
}

/** True when two boxes overlap more than allowed: IoU above `maxIou`, or more than half of either inside the other (no nesting). */
function overlaps(p: number[], q: number[], maxIou: number): boolean {
  const iw = Math.min(p[2], q[2]) - Math.max(p[0], q[0]),
    ih = Math.min(p[3], q[3]) - Math.max(p[1], q[1]);
  if (iw <= 0 || ih <= 0) return false;
  const inter = iw * ih,
    ap = (p[2] - p[0]) * (p[3] - p[1]),
    aq = (q[2] - q[0]) * (q[3] - q[1]);
  return inter / (ap + aq - inter) > maxIou || inter > 0.5 * Math.min(ap, aq);
}

function generate(index: number, o: Resolved): DetectionSample {
  const { h, w } = o;
  const r = mulberry32(hashSeed(o.seed, index));
  const n = h * w;
  const image = new Float32Array(3 * n);

  // background: two low-saturation colours mixed by noise, so no class colour is ever the background
  const bgHue = r();
  const bgA = hsv(bgHue, 0.05 + 0.25 * r(), 0.25 + 0.5 * r());
  const bgB = hsv(bgHue + 0.15 + 0.7 * r(), 0.05 + 0.25 * r(), 0.25 + 0.5 * r());
  const bg = valueNoise(r, h, w, Math.max(4, Math.min(h, w) / (3 + 5 * r())), 4, Float32Array);
  for (let i = 0; i < n; i++) {
    const t = bg[i];
    image[i] = bgA[0] + (bgB[0] - bgA[0]) * t;
    image[n + i] = bgA[1] + (bgB[1] - bgA[1]) * t;
    image[2 * n + i] = bgA[2] + (bgB[2] - bgA[2]) * t;
  }
  const side = Math.min(h, w);
  const distractors = 2 + Math.floor(r() * 6);
  for (let k = 0; k < distractors; k++) {
    const s = side * (0.04 + 0.12 * r()),
      cx = w * r(),
      cy = h * r();
    const col = hsv(r(), 0.35 * r(), 0.15 + 0.8 * r());
    paint(image, h, w, distractorShape(r, cx, cy, s), [cx - 1.6 * s, cy - 1.6 * s, cx + 1.6 * s, cy + 1.6 * s], col, 0.4 + 0.5 * r(), null);
  }

  // objects: sizes log-uniform in the scale range, aspect ratios in [1/2, 2], IoU between boxes ≤ maxOverlap and no box
  // more than half inside another (a later object is painted over an earlier one)
  const count = o.minObjects + Math.floor(r() * (o.maxObjects - o.minObjects + 1));
  const placed: number[][] = [],
    classes: number[] = [];
  const [lo, hi] = o.scale;
  for (let k = 0; k < count; k++) {
    for (let attempt = 0; attempt < 30; attempt++) {
      const s = side * lo * (hi / lo) ** r(),
        aspect = 2 ** (2 * r() - 1);
      const bw = Math.min(w, s * Math.sqrt(aspect)),
        bh = Math.min(h, s / Math.sqrt(aspect));
      const x1 = (w - bw) * r(),
        y1 = (h - bh) * r();
      const box = [x1, y1, x1 + bw, y1 + bh];
      if (placed.some((p) => overlaps(p, box, o.maxOverlap))) continue;
      placed.push(box);
      classes.push(Math.floor(r() * SYNTHETIC_DETECTION_CLASSES.length));
      break;
    }
  }
  const boxes = new Float32Array(4 * placed.length);
  placed.forEach((b, k) => {
    const cls = classes[k];
    const colour = hsv(CLASS_HUES[cls] + 0.04 * (r() - 0.5), 0.7 + 0.3 * r(), 0.6 + 0.4 * r());
    const bw = Math.ceil(b[2]) - Math.floor(b[0]),
      bh = Math.ceil(b[3]) - Math.floor(b[1]);
    const texture = valueNoise(r, bh, bw, Math.max(2, Math.min(bw, bh) / 3), 2, Float32Array);
    paint(image, h, w, classShape(cls, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, (b[2] - b[0]) / 2, (b[3] - b[1]) / 2), b, colour, 1, texture);
    boxes.set([b[0] / w, b[1] / h, b[2] / w, b[3] / h], 4 * k);
  });

  // sensor noise over everything, clamped to [0, 1]: an inline xorshift32 (a closure call per value costs a third of the time)
  let x = Math.floor(r() * 4294967295) + 1;
  for (let i = 0; i < 3 * n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const v = image[i] + 0.06 * ((x >>> 0) / 4294967296 - 0.5);
    image[i] = Math.min(1, Math.max(0, v));
  }
  return { image, height: h, width: w, boxes, labels: Int32Array.from(classes) };
}

/**
 * Sample `index` of the synthetic detection set (`index` selects it within the seed's stream, so
 * splits are disjoint index ranges). Its image is RGB (3, H, W) in [0, 1]; its boxes are normalised
 * corners, clamped to the image by construction; its labels index {@link SYNTHETIC_DETECTION_CLASSES}.
 *
 * @example
 * ```ts
 * import { syntheticDetectionSample, SYNTHETIC_DETECTION_CLASSES } from '@webgrad/core/detection';
 * const s = syntheticDetectionSample(0, { size: 256, seed: 0 });
 * console.log(s.labels.length, Array.from(s.labels, (c) => SYNTHETIC_DETECTION_CLASSES[c]));
 * // 4 [ 'yellow cross', 'yellow cross', 'blue triangle', 'yellow cross' ]
 * console.log(s.boxes.subarray(0, 4)); // the first object's [x1, y1, x2, y2], in [0, 1]
 * ```
 */
export function syntheticDetectionSample(index: number, options: SyntheticDetectionOptions = {}): DetectionSample {
  const fn = 'syntheticDetectionSample';
  if (!Number.isInteger(index) || index < 0) throw new ArgumentError(fn, 'index', `is ${index}`, 'a non-negative integer');
  return generate(index, resolve(fn, options));
}

/** Options of {@link syntheticDetectionDataset}: the sample options, and which stretch of the seed's stream. */
export interface SyntheticDetectionDatasetOptions extends SyntheticDetectionOptions {
  /** Number of samples. */
  length: number;
  /** Index of the first sample in the seed's stream; default 0 (a validation split starts after the training one). */
  start?: number;
}

/**
 * The synthetic set as a dataset: sample i is `syntheticDetectionSample(start + i, options)`,
 * generated on demand (nothing is cached). Batch it with `detectionBatch`.
 */
export function syntheticDetectionDataset(options: SyntheticDetectionDatasetOptions): DetectionDataset {
  const fn = 'syntheticDetectionDataset';
  const length = options?.length;
  if (!Number.isInteger(length) || length < 0) throw new ArgumentError(fn, 'length', `is ${length}`, 'a non-negative integer');
  const start = options.start ?? 0;
  if (!Number.isInteger(start) || start < 0) throw new ArgumentError(fn, 'start', `is ${start}`, 'a non-negative integer');
  const o = resolve(fn, options);
  return {
    length,
    classNames: SYNTHETIC_DETECTION_CLASSES,
    get(i: number) {
      if (!Number.isInteger(i) || i < 0 || i >= length) throw new ArgumentError(fn, 'index', `is ${i}`, `an integer in [0, ${length})`);
      return generate(start + i, o);
    },
  };
}
