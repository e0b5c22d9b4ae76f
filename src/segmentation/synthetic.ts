/**
 * Synthetic street scenes with Cityscapes labels, generated from code and deterministic by (seed, index):
 * a sky with clouds, a row of buildings with windows, trees, a road in perspective with lane marks,
 * sidewalks, grass, poles with traffic signs and lights, cars and persons (several instances each, sized
 * by their distance), sometimes a wall or a fence, and sometimes the ego vehicle's bonnet at the bottom
 * (label 'ego vehicle', ignored in training, as in the real set). Colours and textures vary per image
 * (value noise, window grids, paving tiles, shadows, a global colour cast and per-pixel noise), and
 * several classes share colours (grey cars on grey roads, grey walls and buildings), so a small network
 * learns it well but not perfectly. Pure host arithmetic on typed arrays: a 256×512 scene takes a few
 * milliseconds. Deterministic per (seed, index) on a given JavaScript engine (Math.sin/cos/pow are not
 * correctly rounded by specification, so another engine may differ in the last bit).
 */
import { mulberry32 } from '../base/mulberry32';
import { type Colour, hsv, valueNoise } from '../base/procedural';
import { ArgumentError } from '../base/shape';
import { CITYSCAPES_LABEL_IDS as ID } from './cityscapes-labels';

/** One generated scene: pixels and the three Cityscapes annotations. */
export interface SyntheticStreetScene {
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** RGB bytes, interleaved (H·W·3), row-major: what `*_leftImg8bit.png` holds. */
  rgb: Uint8Array;
  /** Cityscapes label ids (H·W), what `*_gtFine_labelIds.png` holds. */
  labelIds: Uint8Array;
  /**
   * Instance ids (H·W) as the official `*_gtFine_instanceIds.png`: label id · 1000 + k for the k-th
   * (0-based) instance of a class with instances (cars, persons), the plain label id elsewhere.
   */
  instanceIds: Int32Array;
}

/** Options of {@link syntheticStreetScene}. */
export interface SyntheticStreetOptions {
  /** [height, width] in pixels (each 16..4096); default [256, 512], Cityscapes' 1:2 aspect ratio. */
  size?: readonly [number, number];
  /** The seed: a different seed is a different set; default 0. */
  seed?: number;
}

const hashSeed = (seed: number, index: number) => (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(index + 1, 0x165667b1)) >>> 0;

/** The canvas being painted: colour planes in [0, 1] (float) and the two label maps. */
class Canvas {
  readonly r: Float32Array;
  readonly g: Float32Array;
  readonly b: Float32Array;
  readonly label: Uint8Array;
  readonly inst: Int32Array;
  constructor(
    readonly h: number,
    readonly w: number,
  ) {
    const n = h * w;
    this.r = new Float32Array(n);
    this.g = new Float32Array(n);
    this.b = new Float32Array(n);
    this.label = new Uint8Array(n);
    this.inst = new Int32Array(n);
  }
  /** Paints pixel i with a class (instance = its label id unless given) and a colour scaled by `shade`. */
  set(i: number, label: number, inst: number, c: Colour, shade: number): void {
    this.label[i] = label;
    this.inst[i] = inst;
    this.r[i] = c[0] * shade;
    this.g[i] = c[1] * shade;
    this.b[i] = c[2] * shade;
  }
  /** Paints the pixels of the box [x0, x1)×[y0, y1) (clipped) where `inside(x, y)` holds, shaded by `shade(x, y, i)`. */
  fill(
    x0: number,
    y0: number,
    x1: number,
    y1: number,
    inside: (x: number, y: number) => boolean,
    label: number,
    inst: number,
    colour: (x: number, y: number) => Colour,
    shade: (i: number) => number,
  ): void {
    const xa = Math.max(0, Math.floor(x0)),
      xb = Math.min(this.w, Math.ceil(x1)),
      ya = Math.max(0, Math.floor(y0)),
      yb = Math.min(this.h, Math.ceil(y1));
    for (let y = ya; y < yb; y++)
      for (let x = xa; x < xb; x++) {
        if (!inside(x + 0.5, y + 0.5)) continue;
        const i = y * this.w + x;
        this.set(i, label, inst, colour(x, y), shade(i));
      }
  }
}

/** A hash of (i, seed) to [0, 1): per-pixel white noise without a PRNG call per pixel (murmur3's finaliser). */
function hash01(i: number, seed: number): number {
  let h = Math.imul(i ^ seed, 0xcc9e2d51);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Smooth value noise over H×W with the first lattice cell `cell` pixels: computed on a grid 4× coarser and
 * spread to full size bilinearly, since the field varies over tens of pixels; 16× less work than full size.
 */
function smoothNoise(r: () => number, H: number, W: number, cell: number, octaves: number): Float32Array {
  const h = (H >> 2) + 2,
    w = (W >> 2) + 2;
  const low = valueNoise(r, h, w, Math.max(2, cell / 4), octaves, Float32Array);
  const out = new Float32Array(H * W);
  const x0s = new Int32Array(W),
    txs = new Float32Array(W);
  for (let x = 0; x < W; x++) {
    const fx = (x + 0.5) / 4;
    x0s[x] = Math.floor(fx);
    txs[x] = fx - x0s[x];
  }
  for (let y = 0; y < H; y++) {
    const fy = (y + 0.5) / 4,
      y0 = Math.floor(fy),
      ty = fy - y0;
    const r0 = y0 * w,
      r1 = r0 + w;
    for (let x = 0, i = y * W; x < W; x++, i++) {
      const x0 = x0s[x],
        tx = txs[x];
      const top = low[r0 + x0] + (low[r0 + x0 + 1] - low[r0 + x0]) * tx;
      const bottom = low[r1 + x0] + (low[r1 + x0 + 1] - low[r1 + x0]) * tx;
      out[i] = top + (bottom - top) * ty;
    }
  }
  return out;
}

const frac = (v: number) => v - Math.floor(v);
const mix = (a: Colour, b: Colour, t: number): Colour => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
const always = () => true;

/**
 * One synthetic street scene. Scene `index` of the set `seed` is always the same (on one JavaScript engine).
 *
 * @example
 * ```ts
 * import { syntheticStreetScene, encodeTarget, CITYSCAPES_CLASSES } from '@webgrad/core/segmentation';
 * const s = syntheticStreetScene(0, { size: [128, 256], seed: 1 });
 * const trainIds = encodeTarget(s.labelIds); // 0..18, 255 = ignore
 * const present = new Set(trainIds);
 * console.log([...present].filter((t) => t !== 255).map((t) => CITYSCAPES_CLASSES[t])); // e.g. [ 'sky', 'building', 'road', … ]
 * ```
 */
export function syntheticStreetScene(index: number, options: SyntheticStreetOptions = {}): SyntheticStreetScene {
  const fn = 'syntheticStreetScene';
  if (!Number.isInteger(index) || index < 0) throw new ArgumentError(fn, 'index', `is ${index}`, 'a non-negative integer');
  const size = options.size ?? [256, 512];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 16 && d <= 4096))
    throw new ArgumentError(fn, 'size', `is ${JSON.stringify(options.size)}`, 'an [H, W] pair of integers in [16, 4096]');
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ArgumentError(fn, 'seed', `is ${seed}`, 'an integer');
  return paintScene(size[0], size[1], mulberry32(hashSeed(seed, index)));
}

function paintScene(H: number, W: number, r: () => number): SyntheticStreetScene {
  const u = (a: number, b: number) => a + (b - a) * r();
  const ri = (a: number, b: number) => Math.floor(u(a, b + 1)); // integer in [a, b]
  const cv = new Canvas(H, W);
  // shared textures: coarse value noise (clouds, foliage edges, stains) and a per-pixel hash (grain)
  const coarse = smoothNoise(r, H, W, H / 8, 3);
  const grainSeed = Math.floor(r() * 4294967296);
  const grain = (i: number, k: number) => 1 + k * (hash01(i, grainSeed) - 0.5);
  const stain = (i: number, k: number) => 1 + k * (coarse[i] - 0.5);

  const horizon = H * u(0.38, 0.52);
  const vx = W * u(0.3, 0.7); // vanishing point
  const depth = (y: number) => Math.max(0, (y - horizon) / (H - horizon)); // 0 at the horizon, 1 at the bottom row

  // sky: a vertical gradient, clouds from the coarse noise; sometimes overcast
  const overcast = r() < 0.3;
  const skyTop: Colour = overcast ? hsv(0.6, u(0, 0.1), u(0.6, 0.8)) : hsv(u(0.55, 0.62), u(0.45, 0.7), u(0.6, 0.85));
  const skyLow: Colour = mix(skyTop, [0.92, 0.94, 0.96], u(0.3, 0.7));
  const cloud: Colour = [0.95, 0.95, 0.97];
  const cloudiness = u(0.45, 0.75);
  cv.label.fill(ID.sky);
  cv.inst.fill(ID.sky);
  for (let y = 0; y < H; y++) {
    const c = mix(skyTop, skyLow, Math.min(1, y / horizon));
    for (let x = 0, i = y * W; x < W; x++, i++) {
      const t = Math.max(0, Math.min(1, (coarse[i] - cloudiness) * 4));
      cv.r[i] = c[0] + (cloud[0] - c[0]) * t;
      cv.g[i] = c[1] + (cloud[1] - c[1]) * t;
      cv.b[i] = c[2] + (cloud[2] - c[2]) * t;
    }
  }

  // buildings: a row of facades from left to right, with gaps; tops vary, windows on a grid
  const groundTop = horizon + H * u(0.0, 0.04);
  for (let x = u(-0.1, 0) * W; x < W; ) {
    const bw = W * u(0.08, 0.3);
    if (r() < 0.15) {
      x += bw * 0.4; // a gap: sky shows
      continue;
    }
    const top = Math.max(0, horizon - H * u(0.12, 0.45));
    const grey = r() < 0.4;
    const base: Colour = grey ? hsv(0, 0, u(0.3, 0.7)) : hsv(u(0.02, 0.12), u(0.15, 0.45), u(0.35, 0.8));
    const win: Colour = hsv(u(0.55, 0.65), u(0.1, 0.4), u(0.15, 0.45));
    const px = Math.max(4, W * u(0.015, 0.04)),
      py = Math.max(4, H * u(0.04, 0.08));
    const fx = u(0.35, 0.7),
      fy = u(0.35, 0.65);
    const x0 = x;
    cv.fill(
      x0,
      top,
      x0 + bw,
      groundTop + 1,
      always,
      ID.building,
      ID.building,
      (xx, yy) => {
        const cx = frac((xx - x0) / px),
          cy = frac((yy - top) / py);
        return cx > (1 - fx) / 2 && cx < (1 + fx) / 2 && cy > 0.25 && cy < 0.25 + fy && yy < groundTop - py * 0.5 ? win : base;
      },
      (i) => stain(i, 0.35) * grain(i, 0.15),
    );
    x += bw;
  }

  // the ground: road in perspective, sidewalks beside it, grass or more pavement beyond
  const roadHalf = u(0.25, 0.55) * W,
    walk = u(0.15, 0.35) * W;
  const road: Colour = hsv(u(0.6, 0.75), u(0, 0.12), u(0.22, 0.42));
  const paving: Colour = r() < 0.5 ? hsv(u(0.8, 0.95), u(0.08, 0.25), u(0.5, 0.75)) : hsv(0, 0, u(0.45, 0.7));
  const grass: Colour = hsv(u(0.17, 0.25), u(0.35, 0.6), u(0.45, 0.7));
  const outer = [r() < 0.5 ? ID.terrain : ID.sidewalk, r() < 0.5 ? ID.terrain : ID.sidewalk];
  const tile = Math.max(3, W * u(0.01, 0.025));
  const laneMark = r() < 0.8;
  const kerbs = r() < 0.7;
  const kerbStone: Colour = hsv(0, 0, u(0.6, 0.85));
  const white: Colour = [0.9, 0.9, 0.88];
  for (let y = Math.floor(groundTop); y < H; y++) {
    const row = y * W;
    if (y + 0.5 < horizon) {
      // between the facades' feet and the horizon: pavement
      for (let i = row; i < row + W; i++) cv.set(i, ID.sidewalk, ID.sidewalk, paving, grain(i, 0.3));
      continue;
    }
    const d = depth(y + 0.5) + 1e-3;
    // the row's segments: outer | sidewalk | road | sidewalk | outer, as pixel-column bounds
    const col = (v: number) => Math.max(0, Math.min(W, Math.round(v)));
    const wl = col(vx - (roadHalf + walk) * d),
      rl = col(vx - roadHalf * d),
      rr = col(vx + roadHalf * d),
      wr = col(vx + (roadHalf + walk) * d);
    const lanes = laneMark && frac((y - horizon) / (3 + 25 * d) / 2) < 0.5;
    const laneHalf = Math.max(0.6, 0.012 * W * d);
    const kerbW = Math.max(1, 0.008 * W * d);
    const tileW = tile * (0.3 + d),
      tyJoint = frac((y - horizon) / (tile * 0.5 * (0.3 + d))) < 0.1;
    for (let x = 0; x < W; x++) {
      const i = row + x;
      if (x >= rl && x < rr) {
        const lane = lanes && Math.abs(x + 0.5 - vx) < laneHalf;
        cv.set(i, ID.road, ID.road, lane ? white : road, stain(i, 0.25) * grain(i, 0.35));
      } else if (x >= wl && x < wr) {
        const joint = tyJoint || frac((x + 0.5 - vx) / tileW + 0.035) < 0.07;
        const kerb = kerbs && (x < rl ? rl - x : x - rr + 1) <= kerbW; // the kerb stones belong to the sidewalk, as in Cityscapes
        cv.set(i, ID.sidewalk, ID.sidewalk, kerb ? kerbStone : paving, (joint ? 0.8 : 1) * grain(i, 0.25));
      } else {
        const l = outer[x < vx ? 0 : 1];
        cv.set(i, l, l, l === ID.terrain ? grass : paving, l === ID.terrain ? stain(i, 0.5) * grain(i, 0.45) : grain(i, 0.3));
      }
    }
  }
  const groundX = (y: number, side: number, along: number) => {
    // a point on the sidewalk at row y: side −1 left, +1 right; along 0 = kerb, 1 = outer edge
    const d = depth(y);
    return vx + side * (roadHalf + walk * along) * d;
  };

  // a wall or a fence along one sidewalk's outer edge, sometimes
  if (r() < 0.35) {
    const side = r() < 0.5 ? -1 : 1;
    const isFence = r() < 0.5;
    const hgt = u(0.08, 0.16) * H; // height at the bottom row
    const colour: Colour = isFence ? hsv(u(0.05, 0.12), u(0.2, 0.4), u(0.35, 0.6)) : hsv(0, 0, u(0.4, 0.65));
    const bar = Math.max(2, W * 0.01);
    const edge = side * (roadHalf + walk); // the outer edge meets the bottom row at vx + edge
    // a vertical plane standing on the outer edge: at column x its foot is where the edge crosses x
    cv.fill(
      side < 0 ? 0 : vx,
      horizon - hgt,
      side < 0 ? vx : W,
      H,
      (x, y) => {
        const d = (x - vx) / edge;
        if (d <= 0) return false;
        const foot = horizon + d * (H - horizon);
        if (y > foot || y < foot - hgt * d) return false;
        return !isFence || (x / (bar * (0.3 + d))) % 3 < 1 || ((foot - y) / (hgt * d)) % 0.34 < 0.08;
      },
      isFence ? ID.fence : ID.wall,
      isFence ? ID.fence : ID.wall,
      () => colour,
      (i) => grain(i, 0.3) * stain(i, 0.3),
    );
  }

  // things standing on the ground, painted far to near: trees, poles (with signs or lights), persons, cars
  type Thing = { foot: number; draw: (k: number) => void; kind: 'car' | 'person' | 'other' };
  const things: Thing[] = [];
  const nTrees = ri(0, 4);
  for (let t = 0; t < nTrees; t++) {
    const foot = u(horizon + 0.1 * (H - horizon), H * 0.95),
      side = r() < 0.5 ? -1 : 1;
    things.push({ foot, kind: 'other', draw: () => tree(foot, groundX(foot, side, u(0.6, 1.1))) });
  }
  const nPoles = ri(1, 4);
  for (let t = 0; t < nPoles; t++) {
    const foot = u(horizon + 0.1 * (H - horizon), H * 0.98),
      side = r() < 0.5 ? -1 : 1;
    things.push({ foot, kind: 'other', draw: () => pole(foot, groundX(foot, side, u(0.05, 0.25))) });
  }
  const nPersons = ri(0, 6);
  for (let t = 0; t < nPersons; t++) {
    const foot = u(horizon + 0.15 * (H - horizon), H * 0.98),
      side = r() < 0.5 ? -1 : 1;
    const x = r() < 0.15 ? vx + u(-0.8, 0.8) * roadHalf * depth(foot) : groundX(foot, side, u(0.1, 0.9));
    things.push({ foot, kind: 'person', draw: (k) => person(foot, x, k) });
  }
  const nCars = ri(1, 6);
  for (let t = 0; t < nCars; t++) {
    const foot = u(horizon + 0.08 * (H - horizon), H * 1.05);
    const x = vx + u(-0.75, 0.75) * roadHalf * depth(foot);
    things.push({ foot, kind: 'car', draw: (k) => car(foot, x, k) });
  }
  things.sort((a, b) => a.foot - b.foot);
  let cars = 0,
    persons = 0;
  for (const t of things) t.draw(t.kind === 'car' ? cars++ : t.kind === 'person' ? persons++ : 0);

  function tree(foot: number, x: number) {
    const s = depth(foot) * H;
    const trunkW = Math.max(1.5, 0.03 * s),
      trunkH = 0.5 * s,
      crownR = u(0.18, 0.35) * s;
    const bark: Colour = hsv(u(0.05, 0.1), u(0.3, 0.6), u(0.2, 0.4));
    const leaf: Colour = hsv(u(0.22, 0.36), u(0.45, 0.8), u(0.25, 0.55));
    const cy = foot - trunkH - crownR * 0.6,
      aspect = u(0.7, 1.2);
    cv.fill(
      x - trunkW / 2,
      foot - trunkH,
      x + trunkW / 2,
      foot,
      always,
      ID.vegetation,
      ID.vegetation,
      () => bark,
      (i) => grain(i, 0.3),
    );
    cv.fill(
      x - crownR * 1.3,
      cy - crownR * 1.3,
      x + crownR * 1.3,
      cy + crownR * 1.3,
      (px, py) => {
        const dx = (px - x) / (crownR * aspect),
          dy = (py - cy) / crownR;
        const i = Math.min(H - 1, Math.floor(py)) * W + Math.min(W - 1, Math.floor(px));
        return dx * dx + dy * dy < 1 + 0.8 * (coarse[i] - 0.5);
      },
      ID.vegetation,
      ID.vegetation,
      () => leaf,
      (i) => grain(i, 0.8) * stain(i, 0.4),
    );
  }

  function pole(foot: number, x: number) {
    const s = depth(foot) * H;
    const pw = Math.max(1, 0.015 * s),
      ph = u(0.8, 1.3) * s;
    const metal: Colour = hsv(0, 0, u(0.3, 0.65));
    cv.fill(
      x - pw / 2,
      foot - ph,
      x + pw / 2,
      foot,
      always,
      ID.pole,
      ID.pole,
      () => metal,
      (i) => grain(i, 0.2),
    );
    const top = foot - ph;
    if (r() < 0.5) {
      // a traffic sign: a disc, a triangle or a square, on the pole
      const sr = Math.max(2, u(0.06, 0.1) * s),
        shape = ri(0, 2),
        cy = top + sr;
      const face: Colour = [hsv(0.15, 0.9, 0.9), hsv(0.6, 0.8, 0.7), hsv(0, 0.8, 0.8), hsv(0, 0, 0.95)][ri(0, 3)];
      cv.fill(
        x - sr,
        cy - sr,
        x + sr,
        cy + sr,
        (px, py) => {
          const dx = (px - x) / sr,
            dy = (py - cy) / sr;
          return shape === 0 ? dx * dx + dy * dy < 1 : shape === 1 ? dy > -1 && Math.abs(dx) < (1 - dy) / 2 + 0.02 : true;
        },
        ID['traffic sign'],
        ID['traffic sign'],
        () => face,
        (i) => grain(i, 0.15),
      );
    } else if (r() < 0.6) {
      // a traffic light: a dark box with one lit lamp
      const bw = Math.max(2, 0.05 * s),
        bh = bw * 2.6;
      const box: Colour = hsv(0, 0, u(0.05, 0.2));
      const lit = ri(0, 2);
      const lamp: Colour = [hsv(0, 0.9, 1), hsv(0.13, 0.9, 1), hsv(0.38, 0.8, 0.9)][lit];
      cv.fill(
        x - bw / 2,
        top,
        x + bw / 2,
        top + bh,
        always,
        ID['traffic light'],
        ID['traffic light'],
        (px, py) => {
          const ly = top + (bh * (lit + 0.5)) / 3;
          const dx = px + 0.5 - x,
            dy = py + 0.5 - ly;
          return dx * dx + dy * dy < (bw * 0.35) ** 2 ? lamp : box;
        },
        () => 1,
      );
    }
  }

  function person(foot: number, x: number, k: number) {
    const s = depth(foot) * H;
    const ph = u(0.38, 0.5) * s,
      pw = ph * u(0.22, 0.3);
    const id = ID.person,
      inst = id * 1000 + k;
    const skin: Colour = hsv(u(0.03, 0.09), u(0.3, 0.6), u(0.35, 0.9));
    const shirt: Colour = hsv(r(), u(0.2, 0.9), u(0.2, 0.9));
    const trousers: Colour = hsv(u(0.55, 0.7), u(0, 0.6), u(0.1, 0.5));
    const headR = ph * 0.09,
      top = foot - ph;
    const lean = u(-0.1, 0.1) * pw;
    cv.fill(
      x - pw,
      top,
      x + pw,
      foot,
      (px, py) => {
        const t = (py - top) / ph; // 0 at the head's top, 1 at the feet
        const cx = x + lean * (1 - t);
        if (t < 0.18) {
          const dx = px - cx,
            dy = py - (top + headR);
          return dx * dx + dy * dy < headR * headR;
        }
        if (t < 0.58) return Math.abs(px - cx) < pw / 2;
        // two legs, apart by a stride
        const stride = pw * 0.25 * (t - 0.58) * 2.4;
        return Math.abs(Math.abs(px - cx) - stride - pw * 0.12) < pw * 0.16;
      },
      id,
      inst,
      (_px, py) => {
        const t = (py - top) / ph;
        return t < 0.18 ? skin : t < 0.58 ? shirt : trousers;
      },
      (i) => grain(i, 0.3),
    );
  }

  function car(foot: number, x: number, k: number) {
    const s = depth(Math.min(foot, H)) * H;
    const ch = u(0.24, 0.32) * s,
      cw = ch * u(1.3, 2.2);
    const id = ID.car,
      inst = id * 1000 + k;
    const grey = r() < 0.35;
    const body: Colour = grey ? hsv(0, 0, u(0.15, 0.75)) : hsv(r(), u(0.4, 0.9), u(0.25, 0.85));
    const glass: Colour = hsv(u(0.55, 0.65), u(0.2, 0.4), u(0.12, 0.3));
    const tyre: Colour = [0.05, 0.05, 0.05];
    const top = foot - ch,
      left = x - cw / 2;
    const cabin = u(0.35, 0.5),
      inset = u(0.1, 0.2);
    cv.fill(
      left,
      top,
      left + cw,
      foot,
      (px, py) => {
        const tx = (px - left) / cw,
          ty = (py - top) / ch;
        if (ty < cabin) return tx > inset * (1 - ty / cabin) + 0.05 && tx < 1 - inset * (1 - ty / cabin) - 0.05; // cabin narrows to the roof
        if (ty > 0.85) return tx < 0.3 || tx > 0.7; // wheels
        return true;
      },
      id,
      inst,
      (px, py) => {
        const tx = (px + 0.5 - left) / cw,
          ty = (py + 0.5 - top) / ch;
        if (ty > 0.85 || (ty > 0.75 && (tx < 0.3 || tx > 0.7) && Math.abs(((tx < 0.5 ? tx : 1 - tx) - 0.17) / 0.12) < 1)) return tyre;
        if (ty > 0.08 && ty < cabin * 0.92 && tx > 0.2 && tx < 0.8) return glass;
        return body;
      },
      (i) => grain(i, 0.2),
    );
  }

  // the ego vehicle's bonnet, sometimes (ignored in training, as in the real set)
  if (r() < 0.4) {
    const bh = u(0.06, 0.14) * H;
    const hood: Colour = hsv(r(), u(0, 0.4), u(0.05, 0.3));
    cv.fill(
      0,
      H - bh,
      W,
      H,
      (x, y) => y > H - bh * (1 - 0.5 * ((2 * x) / W - 1) ** 2),
      ID['ego vehicle'],
      ID['ego vehicle'],
      () => hood,
      (i) => grain(i, 0.1),
    );
  }

  // shadows across everything, a colour cast, per-pixel noise, then bytes
  const shadowT = u(0.35, 0.55),
    shadowK = u(0.55, 0.85);
  const gain: Colour = [u(0.85, 1.15), u(0.85, 1.15), u(0.85, 1.15)];
  const bright = u(0.75, 1.2),
    contrast = u(0.8, 1.2),
    noise = u(0.01, 0.05),
    noiseSeed = Math.floor(r() * 4294967296);
  const shadows = smoothNoise(r, H, W, H / 3, 2); // its own field, so shadows cut across shapes
  const rgb = new Uint8Array(H * W * 3);
  const { r: R, g: G, b: B } = cv;
  const [gr, gg, gb] = gain;
  const byte = (v: number) => (v <= 0 ? 0 : v >= 1 ? 255 : (v * 255 + 0.5) | 0);
  let state = noiseSeed | 1; // xorshift32: the per-pixel noise, cheaper than a hash per pixel
  for (let i = 0; i < H * W; i++) {
    const sh = (shadows[i] < shadowT ? shadowK : 1) * bright;
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const n = 0.5 + noise * ((state >>> 0) / 2147483648 - 1);
    rgb[3 * i] = byte((R[i] * sh * gr - 0.5) * contrast + n);
    rgb[3 * i + 1] = byte((G[i] * sh * gg - 0.5) * contrast + n);
    rgb[3 * i + 2] = byte((B[i] * sh * gb - 0.5) * contrast + n);
  }
  return { height: H, width: W, rgb, labelIds: cv.label, instanceIds: cv.inst };
}
