/**
 * Prompts drawn from ground-truth masks on the host, as SAM's training simulates a user: the mask's bounding
 * box jittered by up to 10% of its side, and random positive points inside the mask and negative points
 * outside it; then moved into the model's input frame (the image resized so its longest side is the
 * encoder's input size, ResizeLongestSide: ../transforms.ts) and batched as the prompt encoder takes them. Randomness comes
 * from a host PRNG (`mulberry32(seed)`), so a seed gives the same prompts on every run.
 */
import { ArgumentError } from '../../base/shape';
import type { Device } from '../../kernels/webgpu/device';
import { tensor } from '../../tensor/ops/creation';
import type { Tensor } from '../../tensor/tensor';
import { mulberry32 } from '../../base/mulberry32';
import { getPreprocessShape } from '../transforms';

/** A seeded host random-number generator for prompt sampling: uniform numbers in [0, 1) (mulberry32). */
export const promptRng = (seed: number): (() => number) => mulberry32(seed);

/** A box as x1, y1, x2, y2 (pixels; x2, y2 the last column and row). */
export type PromptBox = [x1: number, y1: number, x2: number, y2: number];

/** One prompt: a box and points (x, y) with labels 1 (inside, positive) or 0 (outside, negative); -1 pads. */
export interface MaskPrompt {
  /** The (jittered) bounding box. */
  box: PromptBox;
  /** Points as [x, y] pixel positions. */
  points: [number, number][];
  /** One label a point: 1 positive, 0 negative, -1 padding (ignored by the prompt encoder). */
  labels: number[];
}

/** Options of {@link samplePrompt}. */
export interface PromptSamplingOptions {
  /** Positive points drawn inside the mask (with replacement when it has fewer pixels); default 1. */
  positive?: number;
  /** Negative points drawn outside the mask (padding points, label -1, when the mask covers the image); default 0. */
  negative?: number;
  /** Largest shift of each box coordinate as a fraction of the box's side (uniform); default 0.1. */
  jitter?: number;
}

function checkMask(fn: string, mask: ArrayLike<number>, height: number, width: number): void {
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0))
    throw new ArgumentError(fn, 'height/width', `are ${height}×${width}`, 'positive integers');
  if (!mask || typeof mask.length !== 'number' || mask.length !== height * width)
    throw new ArgumentError(
      fn,
      'mask',
      mask && typeof mask.length === 'number' ? `has ${mask.length} values` : `is ${typeof mask}`,
      `height·width = ${height * width} values (non-zero = inside)`,
    );
}

/** The bounding box of a mask's non-zero pixels (x2, y2 inclusive), or null for an empty mask. */
export function maskBox(mask: ArrayLike<number>, height: number, width: number): PromptBox | null {
  checkMask('maskBox', mask, height, width);
  let x1 = width,
    y1 = height,
    x2 = -1,
    y2 = -1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
    }
  return x2 < 0 ? null : [x1, y1, x2, y2];
}

/**
 * Moves each coordinate of `box` by a uniform amount in ±jitter·side (side = x2 − x1 for x, y2 − y1 for y),
 * then clamps it to the image ([0, width − 1] × [0, height − 1]); the corners never cross.
 */
export function jitterBox(box: PromptBox, height: number, width: number, rng: () => number, jitter = 0.1): PromptBox {
  if (!(jitter >= 0 && jitter <= 0.5)) throw new ArgumentError('jitterBox', 'jitter', `is ${jitter}`, 'a fraction in [0, 0.5]');
  const [x1, y1, x2, y2] = box;
  const sx = jitter * (x2 - x1),
    sy = jitter * (y2 - y1);
  const shift = (s: number) => (2 * rng() - 1) * s;
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return [clamp(x1 + shift(sx), width - 1), clamp(y1 + shift(sy), height - 1), clamp(x2 + shift(sx), width - 1), clamp(y2 + shift(sy), height - 1)];
}

/** `k` pixel indices drawn uniformly from `pool` (without replacement while it lasts). */
function draw(pool: number[], k: number, rng: () => number): number[] {
  const out: number[] = [];
  const p = pool.slice();
  for (let i = 0; i < k; i++) {
    if (p.length === 0) p.push(...pool);
    const j = Math.floor(rng() * p.length);
    out.push(p[j]);
    p[j] = p[p.length - 1];
    p.pop();
  }
  return out;
}

/**
 * A prompt for one ground-truth mask (`height`·`width` values, non-zero inside): its jittered bounding box,
 * `positive` points inside and `negative` points outside. Throws for an empty mask.
 *
 * @example
 * ```ts
 * import { samplePrompt, promptRng } from '@webgrad/core/sam';
 * const mask = new Uint8Array(8 * 8).map((_, i) => (i % 8 >= 2 && i % 8 < 6 && i >= 16 && i < 48 ? 1 : 0));
 * const p = samplePrompt(mask, 8, 8, promptRng(0), { positive: 2, negative: 1 });
 * console.log(p.labels); // [1, 1, 0]
 * ```
 */
export function samplePrompt(mask: ArrayLike<number>, height: number, width: number, rng: () => number, options: PromptSamplingOptions = {}): MaskPrompt {
  const fn = 'samplePrompt';
  checkMask(fn, mask, height, width);
  const { positive = 1, negative = 0, jitter = 0.1 } = options;
  for (const [k, v] of Object.entries({ positive, negative }))
    if (!(Number.isInteger(v) && v >= 0 && v <= 1024)) throw new ArgumentError(fn, k, `is ${v}`, 'an integer in [0, 1024]');
  if (typeof rng !== 'function') throw new ArgumentError(fn, 'rng', `is ${typeof rng}`, 'a function returning numbers in [0, 1) (e.g. promptRng(seed))');
  const inside: number[] = [],
    outside: number[] = [];
  for (let i = 0; i < mask.length; i++) (mask[i] ? inside : outside).push(i);
  if (inside.length === 0) throw new ArgumentError(fn, 'mask', 'is empty', 'at least one non-zero pixel');
  const box = jitterBox(maskBox(mask, height, width)!, height, width, rng, jitter);
  const xy = (i: number): [number, number] => [i % width, Math.floor(i / width)];
  const points = draw(inside, positive, rng).map(xy);
  const labels = points.map(() => 1);
  // a mask that covers the image has no outside: its negative points become padding
  const negatives = outside.length ? draw(outside, negative, rng) : new Array<number>(negative).fill(-1);
  for (const i of negatives) {
    points.push(i < 0 ? [0, 0] : xy(i));
    labels.push(i < 0 ? -1 : 0);
  }
  return { box, points, labels };
}

/** A prompt of an image of `originalSize` [H, W] moved into the input frame of an encoder of `longSide` pixels. */
export function promptToInputFrame(p: MaskPrompt, originalSize: readonly [number, number], longSide: number): MaskPrompt {
  const [H, W] = originalSize;
  const [h, w] = getPreprocessShape(H, W, longSide);
  const sx = w / W,
    sy = h / H;
  return {
    box: [p.box[0] * sx, p.box[1] * sy, p.box[2] * sx, p.box[3] * sy],
    points: p.points.map(([x, y]) => [x * sx, y * sy]),
    labels: p.labels.slice(),
  };
}

/** Which parts of the prompts {@link promptBatch} uploads. */
export type PromptKind = 'box' | 'points' | 'both';

/** A batch of prompts as the prompt encoder takes them (SamPrompts). */
export interface PromptBatch {
  /** coords [B, N, 2] (x, y), labels [B, N] float (1, 0, -1). */
  points?: { coords: Tensor; labels: Tensor };
  /** [B, 4] x1, y1, x2, y2. */
  boxes?: Tensor;
}

/** Uploads prompts (each with the same number of points) as the prompt encoder's tensors: boxes, points or both. */
export function promptBatch(prompts: readonly MaskPrompt[], kind: PromptKind = 'both', options: { device?: Device } = {}): PromptBatch {
  const fn = 'promptBatch';
  if (!Array.isArray(prompts) || prompts.length === 0) throw new ArgumentError(fn, 'prompts', 'is empty', 'a non-empty array of prompts');
  if (kind !== 'box' && kind !== 'points' && kind !== 'both') throw new ArgumentError(fn, 'kind', `is ${JSON.stringify(kind)}`, "'box', 'points' or 'both'");
  const B = prompts.length,
    N = prompts[0].points.length;
  const out: PromptBatch = {};
  if (kind !== 'box') {
    if (N === 0 || prompts.some((p) => p.points.length !== N || p.labels.length !== N))
      throw new ArgumentError(fn, 'prompts', 'have different or no point counts', 'the same number of points (and labels) in every prompt');
    const coords = new Float32Array(B * N * 2),
      labels = new Float32Array(B * N);
    prompts.forEach((p, b) =>
      p.points.forEach(([x, y]: [number, number], n: number) => {
        coords.set([x, y], (b * N + n) * 2);
        labels[b * N + n] = p.labels[n];
      }),
    );
    out.points = { coords: tensor(coords, { shape: [B, N, 2], device: options.device }), labels: tensor(labels, { shape: [B, N], device: options.device }) };
  }
  if (kind !== 'points') out.boxes = tensor(Float32Array.from(prompts.flatMap((p) => p.box)), { shape: [B, 4], device: options.device });
  return out;
}

/** A ground-truth object: its train id and its mask. */
export interface ObjectMask {
  /** The train id (0..18) of its pixels. */
  classId: number;
  /** height·width bytes, 1 inside. */
  mask: Uint8Array;
  /** Pixels inside. */
  area: number;
}

/**
 * The objects of a Cityscapes-style annotation: each instance (instance id ≥ 1000, label id · 1000 + k) of
 * `instanceIds` as its own mask, and every other train id present (0..18, 255 skipped) as one mask of its
 * remaining pixels; objects under `minArea` pixels are dropped.
 */
export function objectMasks(
  trainIds: ArrayLike<number>,
  height: number,
  width: number,
  options: { instanceIds?: ArrayLike<number>; minArea?: number } = {},
): ObjectMask[] {
  const fn = 'objectMasks';
  checkMask(fn, trainIds, height, width);
  const { instanceIds, minArea = 1 } = options;
  if (instanceIds && instanceIds.length !== trainIds.length)
    throw new ArgumentError(fn, 'instanceIds', `has ${instanceIds.length} values`, `one per pixel (${trainIds.length})`);
  const groups = new Map<string, { classId: number; pixels: number[] }>();
  for (let i = 0; i < trainIds.length; i++) {
    const c = trainIds[i];
    if (c === 255 || c < 0 || c > 18) continue;
    const inst = instanceIds && instanceIds[i] >= 1000 ? instanceIds[i] : -1;
    const k = inst >= 0 ? `i${inst}` : `c${c}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { classId: c, pixels: [] }));
    g.pixels.push(i);
  }
  const out: ObjectMask[] = [];
  for (const [, g] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (g.pixels.length < minArea) continue;
    const mask = new Uint8Array(trainIds.length);
    for (const i of g.pixels) mask[i] = 1;
    out.push({ classId: g.classId, mask, area: g.pixels.length });
  }
  return out;
}

/**
 * A mask (`height`·`width`, non-zero inside) as the target of the decoder's low-resolution output: the image
 * resized so its longest side is `imgSize` fills the top-left of the padded imgSize² input, which the
 * `lowRes`² output covers; each output pixel takes the mask value under its centre (0 in the padding).
 */
export function lowResTarget(mask: ArrayLike<number>, height: number, width: number, imgSize: number, lowRes: number): Float32Array {
  checkMask('lowResTarget', mask, height, width);
  const [h, w] = getPreprocessShape(height, width, imgSize);
  const out = new Float32Array(lowRes * lowRes);
  const step = imgSize / lowRes;
  for (let i = 0; i < lowRes; i++) {
    const yIn = (i + 0.5) * step;
    if (yIn >= h) break;
    const y = Math.min(height - 1, Math.floor((yIn * height) / h));
    for (let j = 0; j < lowRes; j++) {
      const xIn = (j + 0.5) * step;
      if (xIn >= w) break;
      const x = Math.min(width - 1, Math.floor((xIn * width) / w));
      out[i * lowRes + j] = mask[y * width + x] ? 1 : 0;
    }
  }
  return out;
}
