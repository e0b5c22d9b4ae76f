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

export interface SodFolder { count: number; heldOutCount: number; train(i: number): SodPair; heldOut(i: number): SodPair; stems: string[]; }

export function findSodDirs(root: string): { images: string; masks: string } {
  let entries: string[];
  try { entries = readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory()); } catch (e) {
    throw new Error(`sod folder '${root}': cannot list (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const images = entries.find((d) => /-image$/i.test(d) || /^images?$/i.test(d));
  const masks = entries.find((d) => /-mask$/i.test(d) || /^masks?$/i.test(d));
  if (!images || !masks) throw new Error(`sod folder '${root}': expected an image folder (*-Image or images/) and a mask folder (*-Mask or masks/); found [${entries.join(', ')}]`);
  return { images: join(root, images), masks: join(root, masks) };
}

/** Image/mask file pairs matched by stem, sorted by stem (at least 2). */
export function sodPairs(root: string): { stem: string; image: string; mask: string }[] {
  const dirs = findSodDirs(root);
  const byStem = (dir: string) => new Map(readdirSync(dir).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).map((f) => [basename(f, extname(f)), join(dir, f)]));
  const imgs = byStem(dirs.images), masks = byStem(dirs.masks);
  const stems = [...imgs.keys()].filter((s) => masks.has(s)).sort();
  if (stems.length < 2) throw new Error(`sod folder '${root}': found ${stems.length} image/mask pairs with matching stems; need at least 2`);
  return stems.map((stem) => ({ stem, image: imgs.get(stem)!, mask: masks.get(stem)! }));
}

export function loadSodFolder(root: string, size: number, heldOutFraction = 0.1): SodFolder {
  const pairs = sodPairs(root);
  const stems = pairs.map((p) => p.stem);
  const imgs = new Map(pairs.map((p) => [p.stem, p.image])), masks = new Map(pairs.map((p) => [p.stem, p.mask]));
  const held = Math.max(1, Math.round(stems.length * heldOutFraction));
  const trainStems = stems.slice(0, stems.length - held), heldStems = stems.slice(stems.length - held);
  const load = (stem: string): SodPair => {
    const im = readImage(imgs.get(stem)!), mk = readImage(masks.get(stem)!);
    const image = resizeBilinearCHW(pixelsToCHW(im, 3), 3, im.height, im.width, size, size);
    const mask = resizeBilinearCHW(pixelsToCHW(mk, 1), 1, mk.height, mk.width, size, size);
    return { image, mask, height: size, width: size };
  };
  return {
    count: trainStems.length, heldOutCount: heldStems.length, stems,
    train: (i) => load(trainStems[i % trainStems.length]),
    heldOut: (i) => load(heldStems[i % heldStems.length]),
  };
}
