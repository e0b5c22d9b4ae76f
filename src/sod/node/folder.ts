/**
 * A salient-object folder in the DUTS layout: `<root>/*-Image/<stem>.jpg|png` with masks in
 * `<root>/*-Mask/<stem>.png` (also `images/` + `masks/`). Pairs are matched by file stem, decoded on
 * demand and resized to `size`×`size`; the last `heldOutFraction` of stems (sorted) is held out.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, extname, basename } from 'node:path';
import { readImage, pixelsToCHW } from '../../io/images';
import { resizeBilinearCHW } from '../../train/data/resize-host';
import type { SodPair } from '../batches';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);

export interface SodFolder {
  count: number;
  heldOutCount: number;
  train(i: number): SodPair;
  heldOut(i: number): SodPair;
  stems: string[];
}

export function findSodDirs(root: string): { images: string; masks: string } {
  let entries: string[];
  try {
    entries = readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory());
  } catch (e) {
    throw new Error(`sod folder '${root}': cannot list (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const images = entries.find((d) => /-image$/i.test(d) || /^images?$/i.test(d));
  const masks = entries.find((d) => /-mask$/i.test(d) || /^masks?$/i.test(d));
  if (!images || !masks)
    throw new Error(`sod folder '${root}': expected an image folder (*-Image or images/) and a mask folder (*-Mask or masks/); found [${entries.join(', ')}]`);
  return { images: join(root, images), masks: join(root, masks) };
}

/** What a DUTS-layout folder holds: pairs matched by stem (sorted) and the files that have no partner. */
export interface SodMatch {
  pairs: { stem: string; image: string; mask: string }[];
  /** Images without a mask (left out of the pairs). */
  imagesWithoutMask: string[];
  /** Masks without an image. */
  masksWithoutImage: string[];
}

export function matchSodPairs(root: string): SodMatch {
  const dirs = findSodDirs(root);
  const byStem = (dir: string) =>
    new Map(
      readdirSync(dir)
        .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
        .map((f) => [basename(f, extname(f)), join(dir, f)]),
    );
  const imgs = byStem(dirs.images),
    masks = byStem(dirs.masks);
  const stems = [...imgs.keys()].filter((s) => masks.has(s)).sort();
  return {
    pairs: stems.map((stem) => ({ stem, image: imgs.get(stem)!, mask: masks.get(stem)! })),
    imagesWithoutMask: [...imgs.keys()]
      .filter((s) => !masks.has(s))
      .sort()
      .map((s) => imgs.get(s)!),
    masksWithoutImage: [...masks.keys()]
      .filter((s) => !imgs.has(s))
      .sort()
      .map((s) => masks.get(s)!),
  };
}

/** What to do with images that have no mask or fail to decode: skip them with a warning, or raise. */
export interface SodErrorOptions {
  /**
   * 'skip' (default): images without a mask are left out with one warning at start-up, and a pair that
   * fails to decode is skipped with a warning (counted in `skipped`). 'raise': either is an error.
   */
  onError?: 'skip' | 'raise';
  /** Images without a mask and masks without an image: 'warn' (the default with onError 'skip'), 'raise' (with 'raise'), or 'ignore' (a caller that reports them itself). */
  onUnmatched?: 'warn' | 'raise' | 'ignore';
  /** Where warnings go; default console.warn. */
  warn?: (message: string) => void;
}

const listSome = (files: readonly string[], n = 5) =>
  files
    .slice(0, n)
    .map((f) => basename(f))
    .join(', ') + (files.length > n ? `, … (${files.length - n} more)` : '');

export function checkOnError(fn: string, v: unknown): 'skip' | 'raise' {
  if (v === undefined) return 'skip';
  if (v !== 'skip' && v !== 'raise') throw new Error(`${fn}: onError is ${JSON.stringify(v)}; expected 'skip' or 'raise'`);
  return v;
}

/**
 * Image/mask file pairs matched by stem, sorted by stem (at least 2). Unmatched files are reported
 * (a warning, or an error with onError: 'raise'), never dropped without a word.
 */
export function sodPairs(root: string, options: SodErrorOptions = {}): { stem: string; image: string; mask: string }[] {
  return reportSodMatch(root, options).pairs;
}

/** matchSodPairs, with the unmatched files reported at once (warning or error) and at least 2 pairs required. */
export function reportSodMatch(root: string, options: SodErrorOptions = {}): SodMatch {
  const onError = checkOnError(`sod folder '${root}'`, options.onError);
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const m = matchSodPairs(root);
  const onUnmatched = options.onUnmatched ?? (onError === 'raise' ? 'raise' : 'warn');
  const notes: string[] = [];
  if (m.imagesWithoutMask.length) notes.push(`${m.imagesWithoutMask.length} image(s) without a mask: ${listSome(m.imagesWithoutMask)}`);
  if (m.masksWithoutImage.length) notes.push(`${m.masksWithoutImage.length} mask(s) without an image: ${listSome(m.masksWithoutImage)}`);
  if (notes.length && onUnmatched !== 'ignore') {
    const text = `sod folder '${root}': ${notes.join('; ')}`;
    if (onUnmatched === 'raise') throw new Error(`${text} (onError: 'skip' leaves them out)`);
    warn(`${text}; left out, ${m.pairs.length} pairs used`);
  }
  if (m.pairs.length < 2) throw new Error(`sod folder '${root}': found ${m.pairs.length} image/mask pairs with matching stems; need at least 2`);
  return m;
}

export interface SodFolderSkip {
  stem: string;
  error: string;
}

/**
 * A DUTS folder for the training example: `train(i)`/`heldOut(i)` decode pair i, resized. With
 * onError 'skip' (default) a pair that fails to decode is reported once (warning, `skipped`) and the
 * next good pair stands in; `unmatched` lists the files left out at start-up.
 */
export function loadSodFolder(
  root: string,
  size: number,
  heldOutFraction = 0.1,
  options: SodErrorOptions = {},
): SodFolder & { readonly skipped: readonly SodFolderSkip[]; readonly unmatched: Omit<SodMatch, 'pairs'> } {
  const onError = checkOnError('loadSodFolder', options.onError);
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const { pairs, imagesWithoutMask, masksWithoutImage } = reportSodMatch(root, options);
  const stems = pairs.map((p) => p.stem);
  const imgs = new Map(pairs.map((p) => [p.stem, p.image])),
    masks = new Map(pairs.map((p) => [p.stem, p.mask]));
  const held = Math.max(1, Math.round(stems.length * heldOutFraction));
  const trainStems = stems.slice(0, stems.length - held),
    heldStems = stems.slice(stems.length - held);
  const decode = (stem: string): SodPair => {
    const im = readImage(imgs.get(stem)!),
      mk = readImage(masks.get(stem)!);
    const image = resizeBilinearCHW(pixelsToCHW(im, 3), 3, im.height, im.width, size, size);
    const mask = resizeBilinearCHW(pixelsToCHW(mk, 1), 1, mk.height, mk.width, size, size);
    return { image, mask, height: size, width: size };
  };
  const skipped: SodFolderSkip[] = [];
  const bad = new Set<string>();
  /** Sample i of `list`; with 'skip', a pair that fails is reported once and the next good one stands in. */
  const load = (list: string[], i: number): SodPair => {
    for (let k = 0; k < list.length; k++) {
      const stem = list[(i + k) % list.length];
      if (bad.has(stem)) continue;
      try {
        return decode(stem);
      } catch (e) {
        if (onError === 'raise') throw e;
        bad.add(stem);
        const error = (e as Error)?.message ?? String(e);
        skipped.push({ stem, error });
        warn(`loadSodFolder: skipping '${stem}': ${error} [${skipped.length} skipped so far; onError: 'raise' stops instead]`);
      }
    }
    throw new Error(`loadSodFolder: every pair of '${root}' in this split failed to load (${skipped.length} skipped)`);
  };
  return {
    count: trainStems.length,
    heldOutCount: heldStems.length,
    stems,
    skipped,
    unmatched: { imagesWithoutMask, masksWithoutImage },
    train: (i) => load(trainStems, i % trainStems.length),
    heldOut: (i) => load(heldStems, i % heldStems.length),
  };
}
