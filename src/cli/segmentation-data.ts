/**
 * The data of `webgrad train-segmentation`: a Cityscapes folder (`--data`), or the synthetic street scenes
 * written once in the same layout (so both go through the same loader), resized to `--size` on the host,
 * with at most N images of each split taken evenly across it.
 */
import { join } from 'node:path';
import { cityscapesDataset, writeSyntheticCityscapes, type CityscapesDataset } from '../segmentation/node/cityscapes';
import type { SegmentationSample } from '../segmentation/dataset';
import type { Dataset } from '../train/data/datasets';
import { firstLine, UsageError } from './args';
import { checkInputDir } from './paths';

/** `HxW` (e.g. `128x256`) with both sides positive multiples of `multiple`; a UsageError naming `flag` otherwise. */
export function parseSize(flag: string, raw: string, multiple: number): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(raw.trim());
  const [H, W] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(H >= multiple && W >= multiple && H <= 4096 && W <= 4096))
    throw new UsageError(`${flag} must be HxW with each side in [${multiple}, 4096] (e.g. 128x256); got '${raw}'`);
  if (H % multiple || W % multiple) throw new UsageError(`${flag} ${raw}: both sides must be multiples of the output stride ${multiple}`);
  return [H, W];
}

/** Where the data comes from and how much of it is used. */
export interface SegmentationDataOptions {
  /** A Cityscapes root; empty = the synthetic set. */
  data: string;
  /** The folder the synthetic sets are written under (one sub-folder per size and seed). */
  synthetic: string;
  /** At most this many training images (the synthetic set writes this many). */
  trainImages: number;
  /** At most this many validation images. */
  valImages: number;
  /** [H, W] the images are resized to. */
  size: [number, number];
  /** The synthetic set's seed. */
  seed: number;
  /** Also read the instance ids (`*_instanceIds.png`) into each sample's `instanceIds` (webgrad train-sam --task prompt). */
  instances?: boolean;
}

/** The training and validation sets, and a line that says what they are. */
export interface SegmentationData {
  /** The training images with train-id masks. */
  train: Dataset<SegmentationSample>;
  /** The validation images with train-id masks. */
  val: Dataset<SegmentationSample>;
  /** For the log: the folder and how many images of how many are used. */
  description: string;
}

/** The synthetic set's frames per city (its cities grow with the image count). */
const SYNTHETIC_PER_CITY = 40;

/** Opens (writing the synthetic set first when needed) both splits; bad folders are UsageErrors. */
export async function openSegmentationData(o: SegmentationDataOptions): Promise<SegmentationData> {
  let root = o.data;
  let note = '';
  if (!root) {
    const [H, W] = o.size;
    const n = Math.max(o.trainImages, o.valImages);
    const cities = Math.ceil(n / SYNTHETIC_PER_CITY);
    root = join(o.synthetic, `${H}x${W}-seed${o.seed}-${cities * SYNTHETIC_PER_CITY}`);
    const t0 = performance.now();
    const r = await writeSyntheticCityscapes(root, { cities, imagesPerCity: SYNTHETIC_PER_CITY, size: o.size, seed: o.seed });
    note = r.existed ? 'synthetic, written before' : `synthetic, written now in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  } else checkInputDir('--data', root);
  const open = (split: 'train' | 'val', most: number): { set: Dataset<SegmentationSample>; of: number } => {
    let all: CityscapesDataset;
    try {
      all = cityscapesDataset(root, { split, targetType: o.instances ? ['semantic', 'instance'] : 'semantic', size: o.size });
    } catch (e) {
      throw new UsageError(`--data: ${firstLine(e)}`);
    }
    if (all.length === 0) throw new UsageError(`--data: '${root}' has no ${split} images`);
    return { set: evenly(all as Dataset<SegmentationSample>, most), of: all.length };
  };
  const train = open('train', o.trainImages),
    val = open('val', o.valImages);
  const description = `${root} (${note || 'Cityscapes layout'}): training ${train.set.length} of ${train.of}, validation ${val.set.length} of ${val.of}`;
  return { train: train.set, val: val.set, description };
}

/** At most `most` samples of `set`, spread evenly across it (all of it when it has no more). */
function evenly<S extends SegmentationSample>(set: Dataset<S>, most: number): Dataset<S> {
  if (set.length <= most) return set;
  const pick = (i: number) => Math.floor((i * set.length) / most);
  return { length: most, get: (i: number) => set.get(pick(i)) };
}
