/**
 * Image/mask batches for salient-object training, assembled on the host: random crop to `crop`
 * and random flip (both decided by an explicit key, so a resumed run sees the same batches).
 * The original U²-Net pipeline resizes to 320, crops 288 and flips vertically; webgrad defaults
 * to horizontal flips (photos are rarely upside down) and offers 'vertical' to match the original.
 */
import { type Key, foldIn, randomBits } from '../base/random';

export type Flip = 'horizontal' | 'vertical' | 'none';

export interface SodPair {
  image: Float32Array;
  mask: Float32Array;
  height: number;
  width: number;
}

export interface BatchOptions {
  crop: number;
  flip: Flip;
  key: Key;
}

/** Crops/flips each pair into [N,3,crop,crop] images and [N,1,crop,crop] masks. */
export function assembleBatch(pairs: readonly SodPair[], { crop, flip, key }: BatchOptions): { images: Float32Array; masks: Float32Array } {
  const n = crop * crop;
  const images = new Float32Array(pairs.length * 3 * n),
    masks = new Float32Array(pairs.length * n);
  pairs.forEach((s, k) => {
    if (s.height < crop || s.width < crop) throw new Error(`assembleBatch: sample ${k} is ${s.height}×${s.width}, smaller than the crop ${crop}`);
    const [r0, r1] = randomBits(foldIn(key, k), 0);
    const top = r0 % (s.height - crop + 1),
      left = r1 % (s.width - crop + 1);
    const doFlip = flip !== 'none' && (randomBits(foldIn(key, k), 1)[0] & 1) === 1;
    const plane = s.height * s.width;
    for (let y = 0; y < crop; y++) {
      for (let x = 0; x < crop; x++) {
        const sy = top + (doFlip && flip === 'vertical' ? crop - 1 - y : y);
        const sx = left + (doFlip && flip === 'horizontal' ? crop - 1 - x : x);
        const src = sy * s.width + sx,
          dst = y * crop + x;
        for (let c = 0; c < 3; c++) images[k * 3 * n + c * n + dst] = s.image[c * plane + src];
        masks[k * n + dst] = s.mask[src];
      }
    }
  });
  return { images, masks };
}
