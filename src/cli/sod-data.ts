/**
 * The training CLI's view of a DUTS-style folder: counts the images without a mask (and masks without
 * an image) at start-up, checks every paired file's signature up front, and skips a sample that fails
 * to decode later (or stops, with `onBadImage: 'stop'`), so one corrupt JPEG does not end a long run.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { loadSodFolder, matchSodPairs } from '../sod/node/folder';
import type { SodPair } from '../sod/batches';

export type BadImagePolicy = 'skip' | 'stop';

export interface CheckedSodFolder {
  trainCount: number;
  heldOutCount: number;
  /** images without a mask and masks without an image (not used) */
  unmatchedImages: number;
  unmatchedMasks: number;
  /** samples left out: at start-up (bad signature) plus any that failed to decode since */
  skipped(): number;
  /** the i-th sample of the split (cycling), a readable one in its place when it is bad */
  train(i: number): SodPair;
  heldOut(i: number): SodPair;
  /** the k-th sample of the split exactly, or null when it is unreadable (skipped and counted) */
  exact(split: 'train' | 'held-out', k: number): SodPair | null;
}

/** A PNG or JPEG by its first bytes (cheap: no decode); empty and foreign files fail. */
export function imageSignatureProblem(path: string): string | null {
  const head = new Uint8Array(8);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, 8, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (n >= 8 && head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) return null;
  if (n >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return null;
  return n === 0 ? 'empty file' : 'not a PNG or JPEG file';
}

export function openSodFolder(root: string, size: number, policy: BadImagePolicy, warn: (line: string) => void): CheckedSodFolder {
  // the library's folder raises on a bad decode here: this wrapper applies the policy and counts
  const { pairs, imagesWithoutMask, masksWithoutImage } = matchSodPairs(root);
  const unmatchedImages = imagesWithoutMask.length,
    unmatchedMasks = masksWithoutImage.length;
  const folder = loadSodFolder(root, size, 0.1, { onError: 'raise', onUnmatched: 'ignore' });
  const stemIndex = new Map(folder.stems.map((s, i) => [s, i]));
  const trainCount = folder.count,
    heldOutCount = folder.heldOutCount;
  // bad samples by split: indices into the train and held-out lists
  const badTrain = new Set<number>(),
    badHeld = new Set<number>();
  const markBad = (stem: string) => {
    const k = stemIndex.get(stem)!;
    if (k < trainCount) badTrain.add(k);
    else badHeld.add(k - trainCount);
  };
  for (const p of pairs) {
    const problem = imageSignatureProblem(p.image) ?? imageSignatureProblem(p.mask);
    if (!problem) continue;
    if (policy === 'stop') throw new BadImageError(`${imageSignatureProblem(p.image) ? p.image : p.mask}: ${problem}`);
    markBad(p.stem);
  }

  const pick = (i: number, n: number, bad: Set<number>, load: (k: number) => SodPair, split: string): SodPair => {
    for (let tries = 0; tries < n; tries++) {
      const k = (i + tries) % n;
      if (bad.has(k)) continue;
      try {
        return load(k);
      } catch (e) {
        const msg = (e as Error).message;
        if (policy === 'stop') throw new BadImageError(msg);
        bad.add(k);
        warn(`skipping a ${split} sample: ${msg}`);
      }
    }
    throw new BadImageError(`every ${split} sample in '${root}' failed to load`);
  };
  if (badTrain.size >= trainCount) throw new BadImageError(`every training sample in '${root}' is unreadable`);
  return {
    trainCount,
    heldOutCount,
    unmatchedImages,
    unmatchedMasks,
    skipped: () => badTrain.size + badHeld.size,
    train: (i) => pick(i % trainCount, trainCount, badTrain, folder.train, 'training'),
    heldOut: (i) => pick(i % heldOutCount, heldOutCount, badHeld, folder.heldOut, 'held-out'),
    exact: (split, k) => {
      const bad = split === 'train' ? badTrain : badHeld;
      if (bad.has(k)) return null;
      try {
        return split === 'train' ? folder.train(k) : folder.heldOut(k);
      } catch (e) {
        if (policy === 'stop') throw new BadImageError((e as Error).message);
        bad.add(k);
        warn(`skipping a ${split} sample: ${(e as Error).message}`);
        return null;
      }
    },
  };
}

/** A sample that cannot be decoded, under `onBadImage: 'stop'` (or when none is left). */
export class BadImageError extends Error {
  override name = 'BadImageError';
}
