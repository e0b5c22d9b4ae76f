import { mulberry32 } from '../base/mulberry32';
import { type Colour, hsv, valueNoise } from '../base/procedural';

/**
 * A built-in salient-object dataset, deterministic by seed: textured foreground shapes and blobs
 * with soft (anti-aliased) edges over cluttered, textured backgrounds. Each sample is an RGB image
 * (CHW, values in [0, 1]) and its ground-truth mask (HW, soft edges in [0, 1]), at any size.
 * Pure arithmetic on 32-bit integers, so every runtime produces the same bytes.
 */
export interface SodSample {
  /** RGB image, float32 [3, height, width] in [0, 1]. */
  image: Float32Array;
  /** Its mask, [height, width], 1 on the object. */
  mask: Float32Array;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
}

const hashSeed = (seed: number, index: number) => (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;

/** Signed "inside-ness" of a shape at (x, y): > 0 inside, in pixels from the edge (approximately). */
type Shape = (x: number, y: number) => number;

function randomShape(r: () => number, h: number, w: number, scale: number): Shape {
  const cx = w * (0.3 + 0.4 * r()),
    cy = h * (0.3 + 0.4 * r());
  const size = Math.min(h, w) * scale * (0.6 + 0.4 * r());
  const angle = r() * Math.PI;
  const cos = Math.cos(angle),
    sin = Math.sin(angle);
  const kind = Math.floor(r() * 4);
  if (kind === 0) {
    // ellipse
    const ax = size * (0.6 + 0.5 * r()),
      ay = size * (0.4 + 0.4 * r());
    return (x, y) => {
      const dx = x - cx,
        dy = y - cy,
        u = dx * cos + dy * sin,
        v = -dx * sin + dy * cos;
      return (1 - Math.hypot(u / ax, v / ay)) * Math.min(ax, ay);
    };
  }
  if (kind === 1) {
    // rounded rectangle
    const ax = size * (0.5 + 0.5 * r()),
      ay = size * (0.4 + 0.4 * r()),
      rad = size * 0.15;
    return (x, y) => {
      const dx = x - cx,
        dy = y - cy,
        u = Math.abs(dx * cos + dy * sin) - ax + rad,
        v = Math.abs(-dx * sin + dy * cos) - ay + rad;
      return -(Math.hypot(Math.max(u, 0), Math.max(v, 0)) + Math.min(Math.max(u, v), 0) - rad);
    };
  }
  if (kind === 2) {
    // star / polygon-like blob with k lobes
    const k = 3 + Math.floor(r() * 5),
      depth = 0.15 + 0.3 * r(),
      phase = r() * 6.28;
    return (x, y) => {
      const dx = x - cx,
        dy = y - cy,
        th = Math.atan2(dy, dx);
      const radius = size * (1 - depth + depth * Math.cos(k * th + phase));
      return radius - Math.hypot(dx, dy);
    };
  }
  // organic blob: radius modulated by a few random harmonics
  const harm = Array.from({ length: 4 }, (_, i) => [(0.25 * r()) / (i + 1), r() * 6.28] as const);
  return (x, y) => {
    const dx = x - cx,
      dy = y - cy,
      th = Math.atan2(dy, dx);
    let m = 1;
    harm.forEach(([a, ph], i) => {
      m += a * Math.cos((i + 2) * th + ph);
    });
    return size * m - Math.hypot(dx, dy);
  };
}

/** One sample; `index` selects it within the seed's stream (so splits are disjoint index ranges). */
export function syntheticSample(seed: number, index: number, height: number, width = height): SodSample {
  const r = mulberry32(hashSeed(seed, index));
  const h = height,
    w = width,
    n = h * w;
  const image = new Float32Array(3 * n);
  const mask = new Float32Array(n);

  // background: two colours mixed by multi-octave noise, plus low-contrast clutter shapes
  const bgHue = r();
  const bgA = hsv(bgHue, 0.2 + 0.3 * r(), 0.35 + 0.4 * r());
  const bgB = hsv((bgHue + 0.1 + 0.2 * r()) % 1, 0.2 + 0.3 * r(), 0.3 + 0.4 * r());
  const bgNoise = valueNoise(r, h, w, Math.max(4, h / 4), 3, Float64Array);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) image[c * n + i] = bgA[c] * (1 - bgNoise[i]) + bgB[c] * bgNoise[i];
  const clutter = 2 + Math.floor(r() * 4);
  for (let k = 0; k < clutter; k++) {
    const s = randomShape(r, h, w, 0.12);
    const col = hsv((bgHue + 0.05 * (r() - 0.5)) % 1, 0.3 * r(), 0.3 + 0.4 * r());
    const alpha = 0.35 + 0.25 * r();
    paint(image, null, s, col, alpha, h, w, null);
  }

  // foreground: one or two salient shapes, distinct hue and brightness, textured
  const fgHue = (bgHue + 0.35 + 0.3 * r()) % 1;
  const objects = r() < 0.7 ? 1 : 2;
  for (let k = 0; k < objects; k++) {
    const s = randomShape(r, h, w, objects === 1 ? 0.3 : 0.2);
    const base = hsv((fgHue + 0.08 * k) % 1, 0.55 + 0.4 * r(), 0.65 + 0.35 * r());
    const tex = valueNoise(r, h, w, Math.max(2, h / 12), 2, Float64Array);
    paint(image, mask, s, base, 1, h, w, tex);
  }
  return { image, mask, height: h, width: w };
}

/** Alpha-blends `shape` (soft edge one pixel wide) in `colour` onto the image (and the mask if given). */
function paint(
  image: Float32Array,
  mask: Float32Array | null,
  shape: Shape,
  colour: Colour,
  alpha: number,
  h: number,
  w: number,
  texture: Float32Array | null,
) {
  const n = h * w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = shape(x + 0.5, y + 0.5);
      if (d < -1) continue;
      const cover = Math.min(1, Math.max(0, (d + 1) / 2));
      const a = cover * alpha,
        i = y * w + x;
      const shade = texture ? 0.75 + 0.5 * texture[i] : 1;
      for (let c = 0; c < 3; c++) image[c * n + i] = image[c * n + i] * (1 - a) + Math.min(1, colour[c] * shade) * a;
      if (mask) mask[i] = Math.max(mask[i], cover);
    }
  }
}

/** `count` samples starting at `start` as batched arrays: images [count,3,H,W], masks [count,1,H,W]. */
export function syntheticBatch(seed: number, start: number, count: number, height: number, width = height): { images: Float32Array; masks: Float32Array } {
  const n = height * width;
  const images = new Float32Array(count * 3 * n),
    masks = new Float32Array(count * n);
  for (let k = 0; k < count; k++) {
    const s = syntheticSample(seed, start + k, height, width);
    images.set(s.image, k * 3 * n);
    masks.set(s.mask, k * n);
  }
  return { images, masks };
}
