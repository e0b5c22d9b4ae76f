/**
 * The Cityscapes folder layout (as the official release and torchvision's `datasets.Cityscapes` read it):
 * `leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png` with its targets in
 * `gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_{labelIds,color,instanceIds}.png` (`gtCoarse` for the
 * coarse annotations). `cityscapesDataset` reads it; `writeSyntheticCityscapes` writes the synthetic street
 * scenes in exactly that layout (labelIds 8-bit grey, color RGB, instanceIds 16-bit grey with id·1000 + k
 * like the official files), so one loader serves both.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { ArgumentError } from '../../base/shape';
import { writeFileAtomic } from '../../io/files';
import { checkPng, getMaxImagePixels } from '../../io/image-header';
import { encodePng, pixelsToCHW, readImage } from '../../io/images';
import { resizeBilinearCHW } from '../../train/data/resize-host';
import type { Dataset, HostImage, Sample } from '../../train/data/datasets';
import { CITYSCAPES_CLASSES, CITYSCAPES_LABELS, encodeTarget } from '../cityscapes-labels';
import { syntheticStreetScene } from '../synthetic';

/** Thrown by the Cityscapes loader: one line naming the folder or file and what is wrong. */
export class SegmentationDataError extends Error {
  /** `what` names the folder or file. */
  constructor(what: string, message: string) {
    super(`${what}: ${message}`);
    this.name = 'SegmentationDataError';
  }
}

/** Which annotation a sample carries: 'semantic' (`*_labelIds.png`), 'color' (`*_color.png`) or 'instance' (`*_instanceIds.png`). */
export type CityscapesTargetType = 'semantic' | 'color' | 'instance';

/** Options of {@link cityscapesDataset}. */
export interface CityscapesDatasetOptions {
  /** 'train' (default), 'val' or 'test'; with mode 'coarse': 'train', 'train_extra' or 'val' (torchvision's rule). */
  split?: 'train' | 'val' | 'test' | 'train_extra';
  /** 'fine' (default, `gtFine/`) or 'coarse' (`gtCoarse/`). */
  mode?: 'fine' | 'coarse';
  /** The target(s) each sample carries; default 'semantic'. */
  targetType?: CityscapesTargetType | readonly CityscapesTargetType[];
  /** Resize to this side or [H, W] on the host (image bilinear, targets nearest); default the files' size. */
  size?: number | readonly [number, number];
  /** 'semantic' targets as train ids (0..18, 255 = ignore; default true) or as raw label ids (false). */
  encode?: boolean;
}

/** One Cityscapes sample: the image and the targets asked for. */
export interface CityscapesSample extends Sample {
  /** The image, float32 RGB CHW in [0, 1]. */
  image: HostImage;
  /** With targetType 'semantic': one channel of train ids (or label ids with `encode: false`), as exact floats. */
  mask?: HostImage;
  /** With targetType 'color': the colour annotation, float32 RGB CHW in [0, 1]. */
  color?: HostImage;
  /** With targetType 'instance': H·W instance ids (label id · 1000 + k for instances, the label id elsewhere). */
  instanceIds?: Int32Array;
  /** The frame's name, e.g. 'aachen_000000_000019'. */
  name: string;
}

/** The files of one sample. */
export interface CityscapesFiles {
  /** The `*_leftImg8bit.png` image. */
  image: string;
  /** The target files, by target type. */
  targets: Partial<Record<CityscapesTargetType, string>>;
}

/** A Cityscapes split as a dataset (samples sorted by city, then name). */
export interface CityscapesDataset extends Dataset<CityscapesSample> {
  /** The files of each sample. */
  readonly files: readonly CityscapesFiles[];
  /** The 19 train class names, by train id. */
  readonly classNames: readonly string[];
}

const SUFFIX: Record<CityscapesTargetType, string> = { semantic: 'labelIds.png', color: 'color.png', instance: 'instanceIds.png' };
const IMAGE_SUFFIX = '_leftImg8bit.png';

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

function checkOptions(fn: string, o: CityscapesDatasetOptions) {
  const mode = o.mode ?? 'fine';
  if (mode !== 'fine' && mode !== 'coarse') throw new ArgumentError(fn, 'mode', `is ${JSON.stringify(o.mode)}`, "'fine' or 'coarse'");
  const split = o.split ?? 'train';
  const splits = mode === 'fine' ? ['train', 'val', 'test'] : ['train', 'train_extra', 'val'];
  if (!splits.includes(split))
    throw new ArgumentError(fn, 'split', `is ${JSON.stringify(o.split)}`, `one of ${splits.map((s) => `'${s}'`).join(', ')} for mode '${mode}'`);
  const types = (typeof o.targetType === 'string' || o.targetType === undefined ? [o.targetType ?? 'semantic'] : [...o.targetType]) as string[];
  if (types.length === 0 || types.some((t) => !(t in SUFFIX)))
    throw new ArgumentError(fn, 'targetType', `is ${JSON.stringify(o.targetType)}`, "'semantic', 'color' or 'instance', or a non-empty list of them");
  let size: [number, number] | undefined;
  if (o.size !== undefined) {
    const v = typeof o.size === 'number' ? [o.size, o.size] : o.size;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 1))
      throw new ArgumentError(fn, 'size', `is ${JSON.stringify(o.size)}`, 'a positive integer or an [H, W] pair of them');
    size = [v[0], v[1]];
  }
  return { mode, split, types: types as CityscapesTargetType[], size, encode: o.encode ?? true };
}

/**
 * One split of a Cityscapes folder as a dataset (torchvision's `datasets.Cityscapes`, in Node). `root`
 * holds `leftImg8bit/` and `gtFine/` (or `gtCoarse/`). The files are listed when the dataset is made:
 * a missing folder, an image without its target or an empty split is an error then, naming the path;
 * images are decoded on demand (`get(i)`). With targetType 'semantic' the samples batch with
 * `segmentationBatch` or the library's `loader` (mask = train ids).
 *
 * @example
 * ```ts
 * import { cityscapesDataset, writeSyntheticCityscapes } from '@webgrad/core/node';
 * await writeSyntheticCityscapes('/tmp/cityscapes', { cities: 1, imagesPerCity: 2, size: [64, 128] });
 * const val = cityscapesDataset('/tmp/cityscapes', { split: 'val', targetType: ['semantic', 'instance'] });
 * const s = await val.get(0);
 * console.log(val.length, s.name, s.image.height, s.image.width, s.mask?.channels); // 2 'frankfurt_000000_000019' 64 128 1
 * ```
 */
export function cityscapesDataset(root: string, options: CityscapesDatasetOptions = {}): CityscapesDataset {
  const fn = 'cityscapesDataset';
  if (typeof root !== 'string' || root === '') throw new ArgumentError(fn, 'root', `is ${JSON.stringify(root)}`, 'the path of a Cityscapes folder');
  const { mode, split, types, size, encode } = checkOptions(fn, options);
  const gt = mode === 'fine' ? 'gtFine' : 'gtCoarse';
  const imagesDir = join(root, 'leftImg8bit', split),
    targetsDir = join(root, gt, split);
  const layout = `expected the Cityscapes layout leftImg8bit/${split}/{city}/*${IMAGE_SUFFIX} and ${gt}/${split}/{city}/*_${gt}_*.png`;
  if (!isDir(root)) throw new SegmentationDataError(root, 'is not a folder');
  if (!isDir(imagesDir)) throw new SegmentationDataError(root, `has no leftImg8bit/${split}/ folder; ${layout}`);
  if (!isDir(targetsDir)) throw new SegmentationDataError(root, `has no ${gt}/${split}/ folder; ${layout}`);
  const files: CityscapesFiles[] = [];
  const names: string[] = [];
  for (const city of readdirSync(imagesDir).sort()) {
    const cityDir = join(imagesDir, city);
    if (!isDir(cityDir)) continue;
    for (const file of readdirSync(cityDir).sort()) {
      if (!file.endsWith(IMAGE_SUFFIX)) continue;
      const name = file.slice(0, -IMAGE_SUFFIX.length);
      const targets: CityscapesFiles['targets'] = {};
      for (const t of types) {
        const target = join(targetsDir, city, `${name}_${gt}_${SUFFIX[t]}`);
        if (!existsSync(target)) throw new SegmentationDataError(join(cityDir, file), `has no ${t} target (${target} does not exist)`);
        targets[t] = target;
      }
      files.push({ image: join(cityDir, file), targets });
      names.push(name);
    }
  }
  if (files.length === 0) throw new SegmentationDataError(imagesDir, `holds no *${IMAGE_SUFFIX} files in city folders; ${layout}`);
  return {
    length: files.length,
    files,
    classNames: CITYSCAPES_CLASSES,
    get(i: number): CityscapesSample {
      if (!Number.isInteger(i) || i < 0 || i >= files.length) throw new ArgumentError(fn, 'index', `is ${i}`, `an integer in [0, ${files.length})`);
      return loadSample(files[i], names[i], size, encode);
    },
  };
}

function loadSample(f: CityscapesFiles, name: string, size: [number, number] | undefined, encode: boolean): CityscapesSample {
  const img = readImage(f.image);
  const { width: W, height: H } = img;
  const [oh, ow] = size ?? [H, W];
  const sameSize = (what: string, w: number, h: number) => {
    if (w !== W || h !== H) throw new SegmentationDataError(what, `is ${w}×${h} (width×height) but its image ${f.image} is ${W}×${H}`);
  };
  let data = pixelsToCHW(img, 3);
  if (oh !== H || ow !== W) data = resizeBilinearCHW(data, 3, H, W, oh, ow);
  const sample: CityscapesSample = { image: { data, channels: 3, height: oh, width: ow }, name };
  if (f.targets.semantic) {
    const t = readImage(f.targets.semantic);
    sameSize(f.targets.semantic, t.width, t.height);
    const ids = new Uint8Array(H * W);
    for (let i = 0; i < ids.length; i++) ids[i] = t.data[4 * i];
    const v = nearest(encode ? encodeTarget(ids) : ids, H, W, oh, ow);
    sample.mask = { data: Float32Array.from(v), channels: 1, height: oh, width: ow };
  }
  if (f.targets.color) {
    const t = readImage(f.targets.color);
    sameSize(f.targets.color, t.width, t.height);
    const chw = pixelsToCHW(t, 3);
    const n = H * W,
      m = oh * ow;
    const out = new Float32Array(3 * m);
    for (let c = 0; c < 3; c++) out.set(nearest(chw.subarray(c * n, (c + 1) * n), H, W, oh, ow), c * m);
    sample.color = { data: out, channels: 3, height: oh, width: ow };
  }
  if (f.targets.instance) {
    const t = readInstanceIds(f.targets.instance);
    sameSize(f.targets.instance, t.width, t.height);
    sample.instanceIds = Int32Array.from(nearest(t.ids, H, W, oh, ow));
  }
  return sample;
}

/** Nearest-neighbour resize of one H×W plane (pixel centres, as torch's 'nearest-exact'), for labels. */
function nearest<T extends Uint8Array | Int32Array | Float32Array>(src: T, h: number, w: number, oh: number, ow: number): T {
  if (oh === h && ow === w) return src;
  const out = new (src.constructor as { new (n: number): T })(oh * ow);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / oh));
    for (let x = 0; x < ow; x++) out[y * ow + x] = src[sy * w + Math.min(w - 1, Math.floor(((x + 0.5) * w) / ow))];
  }
  return out;
}

/** Reads an instanceIds PNG keeping all 16 bits (8-bit files are read as they are). */
export function readInstanceIds(path: string): { width: number; height: number; ids: Int32Array } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SegmentationDataError(path, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const head = checkPng(bytes, getMaxImagePixels());
  if ('error' in head) throw new SegmentationDataError(path, head.error);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
  } catch (e) {
    throw new SegmentationDataError(path, `corrupt or truncated PNG (${(e as Error).message})`);
  }
  const n = png.width * png.height;
  const src = png.data as unknown as ArrayLike<number>; // RGBA, 16-bit values in a Uint16Array for 16-bit files
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = src[4 * i];
  return { width: png.width, height: png.height, ids };
}

/** PNG bytes of a 16-bit grey image (values 0..65535), as the official instanceIds files. */
export function encodePng16(values: ArrayLike<number>, width: number, height: number): Uint8Array {
  const u16 = new Uint16Array(width * height);
  for (let i = 0; i < u16.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 65535)) throw new ArgumentError('encodePng16', 'values', `holds ${v} at ${i}`, 'integers in 0..65535');
    u16[i] = v;
  }
  const opts = { colorType: 0, inputColorType: 0, bitDepth: 16, inputHasAlpha: false } as const;
  const png = new PNG({ width, height, ...opts });
  png.data = Buffer.from(u16.buffer); // pngjs reads native-endian words from the whole buffer and writes them big-endian
  return PNG.sync.write(png, opts);
}

/** Options of {@link writeSyntheticCityscapes}. */
export interface SyntheticCityscapesOptions {
  /** Cities per split; default 2. Names come from the real splits' cities (train: aachen, bochum, …; val: frankfurt, …; test: berlin, …). */
  cities?: number;
  /** Frames per city; default 10. */
  imagesPerCity?: number;
  /** [H, W] of every frame; default [256, 512]. */
  size?: readonly [number, number];
  /** The set's seed; default 0. */
  seed?: number;
  /** Splits to write; default ['train', 'val']. */
  splits?: readonly ('train' | 'val' | 'test')[];
}

/** What {@link writeSyntheticCityscapes} did. */
export interface SyntheticCityscapesResult {
  /** Frames per split. */
  counts: Record<string, number>;
  /** True when an identical set was already there (the marker file matched) and nothing was written. */
  existed: boolean;
}

const CITY_NAMES: Record<string, readonly string[]> = {
  train: [
    'aachen',
    'bochum',
    'bremen',
    'cologne',
    'darmstadt',
    'dusseldorf',
    'erfurt',
    'hamburg',
    'hanover',
    'jena',
    'krefeld',
    'monchengladbach',
    'strasbourg',
    'stuttgart',
    'tubingen',
    'ulm',
    'weimar',
    'zurich',
  ],
  val: ['frankfurt', 'lindau', 'munster'],
  test: ['berlin', 'bielefeld', 'bonn', 'leverkusen', 'mainz', 'munich'],
};
const SPLIT_NUMBER: Record<string, number> = { train: 0, val: 1, test: 2 };

/** The marker file a complete synthetic set carries (written last), holding the options it was made with. */
export const SYNTHETIC_CITYSCAPES_MARKER = 'webgrad-synthetic-cityscapes.json';

/**
 * Writes the synthetic street scenes (`syntheticStreetScene`) as a Cityscapes folder under `root`:
 * for every split, `cities` city folders of `imagesPerCity` frames named `{city}_{k:06}_000019`, each with
 * `_leftImg8bit.png` (RGB), `_gtFine_labelIds.png` (8-bit grey label ids), `_gtFine_color.png` (RGB
 * colours of the label table) and `_gtFine_instanceIds.png` (16-bit grey, label id · 1000 + k for cars and
 * persons, the label id elsewhere, as the official files). Splits use disjoint scenes: split s, frame j is
 * scene `s · 10⁷ + j` of `seed`. A marker file (`webgrad-synthetic-cityscapes.json`) is written last; when
 * it already holds the same options, nothing is rewritten (`existed: true`).
 */
export async function writeSyntheticCityscapes(root: string, options: SyntheticCityscapesOptions = {}): Promise<SyntheticCityscapesResult> {
  const fn = 'writeSyntheticCityscapes';
  if (typeof root !== 'string' || root === '') throw new ArgumentError(fn, 'root', `is ${JSON.stringify(root)}`, 'a folder path');
  const cities = options.cities ?? 2,
    perCity = options.imagesPerCity ?? 10;
  if (!Number.isInteger(cities) || cities < 1 || cities > 1000) throw new ArgumentError(fn, 'cities', `is ${options.cities}`, 'an integer in [1, 1000]');
  if (!Number.isInteger(perCity) || perCity < 1 || perCity > 100000)
    throw new ArgumentError(fn, 'imagesPerCity', `is ${options.imagesPerCity}`, 'an integer in [1, 100000]');
  const size = options.size ?? [256, 512],
    seed = options.seed ?? 0;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 16 && d <= 4096))
    throw new ArgumentError(fn, 'size', `is ${JSON.stringify(options.size)}`, 'an [H, W] pair of integers in [16, 4096]');
  if (!Number.isInteger(seed)) throw new ArgumentError(fn, 'seed', `is ${options.seed}`, 'an integer');
  const splits = options.splits ?? ['train', 'val'];
  if (!Array.isArray(splits) || splits.length === 0 || splits.some((s) => !(s in SPLIT_NUMBER)) || new Set(splits).size !== splits.length)
    throw new ArgumentError(fn, 'splits', `is ${JSON.stringify(options.splits)}`, "distinct names among 'train', 'val', 'test'");
  // version: the generator's; bump it when syntheticStreetScene's pixels change (its pinned test fails then), so old sets are rewritten
  const config = { version: 2, cities, imagesPerCity: perCity, size: [size[0], size[1]], seed, splits: [...splits] };
  const marker = join(root, SYNTHETIC_CITYSCAPES_MARKER);
  const counts: Record<string, number> = Object.fromEntries(splits.map((s) => [s, cities * perCity]));
  try {
    if (JSON.stringify(JSON.parse(readFileSync(marker, 'utf8'))) === JSON.stringify(config)) return { counts, existed: true };
  } catch {
    /* no marker or another set: write */
  }
  const [H, W] = size;
  for (const split of splits) {
    const names = CITY_NAMES[split];
    for (let c = 0; c < cities; c++) {
      const city = c < names.length ? names[c] : `${names[c % names.length]}${Math.floor(c / names.length) + 1}`;
      for (let k = 0; k < perCity; k++) {
        const frame = `${city}_${String(k).padStart(6, '0')}_000019`;
        const s = syntheticStreetScene(SPLIT_NUMBER[split] * 1e7 + c * perCity + k, { size: [H, W], seed });
        const gt = join(root, 'gtFine', split, city, `${frame}_gtFine_`);
        // the four files of a frame at once: their fsyncs overlap
        await Promise.all([
          writeFileAtomic(join(root, 'leftImg8bit', split, city, `${frame}${IMAGE_SUFFIX}`), encodePng(s.rgb, W, H, 3)),
          writeFileAtomic(`${gt}labelIds.png`, encodePng(s.labelIds, W, H, 1)),
          writeFileAtomic(`${gt}color.png`, encodePng(labelColours(s.labelIds), W, H, 3)),
          writeFileAtomic(`${gt}instanceIds.png`, encodePng16(s.instanceIds, W, H)),
        ]);
      }
    }
  }
  await writeFileAtomic(marker, new TextEncoder().encode(`${JSON.stringify(config)}\n`));
  return { counts, existed: false };
}

/** Label id → [r, g, b] of the official table (void labels included: 'dynamic' is brown, 'ground' purple…). */
const LABEL_COLOURS = (() => {
  const lut = new Uint8Array(256 * 3);
  for (const l of CITYSCAPES_LABELS) if (l.id >= 0) lut.set(l.color, 3 * l.id);
  return lut;
})();

/** The `*_color.png` pixels of label ids: each label's colour in the official table. */
function labelColours(labelIds: Uint8Array): Uint8Array {
  const out = new Uint8Array(labelIds.length * 3);
  for (let i = 0; i < labelIds.length; i++) out.set(LABEL_COLOURS.subarray(3 * labelIds[i], 3 * labelIds[i] + 3), 3 * i);
  return out;
}
