/**
 * Float64 host reference for the segmentation augmentation, written step by step from the definition (not
 * from the one-matrix GPU path): resize each sample to its scaled size (images bilinear at pixel centres,
 * align_corners=False, taps clamped to the edge; masks nearest-exact), take the crop at (top, left) with
 * `fill` / `ignoreIndex` where it leaves the scaled image, then mirror it left–right when flipped.
 */

/** Inputs of {@link refAugmentSegmentation}: images (B, 3, H, W) and masks (B, H, W), row-major. */
export interface RefSegmentationBatch {
  images: ArrayLike<number>;
  masks: ArrayLike<number>;
  shape: readonly [number, number, number];
}

/**
 * The augmented batch: images (B, 3, OH, OW) as float64, masks (B, OH, OW) and, per mask pixel, the
 * distance of its nearest-neighbour source coordinate to a pixel boundary (in input pixels): where it is
 * below float32 precision, a GPU may round to either neighbour.
 */
export function refAugmentSegmentation(
  batch: RefSegmentationBatch,
  crops: ArrayLike<number>,
  outSize: readonly [number, number],
  fill: number,
  ignoreIndex: number,
): { images: Float64Array; masks: Int32Array; margin: Float64Array } {
  const [B, H, W] = batch.shape;
  const [OH, OW] = outSize;
  const images = new Float64Array(B * 3 * OH * OW);
  const masks = new Int32Array(B * OH * OW);
  const margin = new Float64Array(B * OH * OW);
  for (let b = 0; b < B; b++) {
    const [sh, sw, top, left, flip] = [crops[5 * b], crops[5 * b + 1], crops[5 * b + 2], crops[5 * b + 3], crops[5 * b + 4]];
    // 1. resize to sh × sw
    const scaled = new Float64Array(3 * sh * sw);
    const scaledMask = new Int32Array(sh * sw);
    const scaledMargin = new Float64Array(sh * sw);
    for (let y = 0; y < sh; y++) {
      const { a: ya, b: yb, t: ty } = bilinearTaps(y, sh, H);
      const ny = ((y + 0.5) * H) / sh;
      const my = Math.min(H - 1, Math.floor(ny));
      for (let x = 0; x < sw; x++) {
        const { a: xa, b: xb, t: tx } = bilinearTaps(x, sw, W);
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xx: number) => batch.images[((b * 3 + c) * H + yy) * W + xx];
          const top2 = at(ya, xa) * (1 - tx) + at(ya, xb) * tx;
          const bot2 = at(yb, xa) * (1 - tx) + at(yb, xb) * tx;
          scaled[(c * sh + y) * sw + x] = top2 * (1 - ty) + bot2 * ty;
        }
        const nx = ((x + 0.5) * W) / sw;
        scaledMask[y * sw + x] = batch.masks[(b * H + my) * W + Math.min(W - 1, Math.floor(nx))];
        const dist = (v: number) => Math.abs(v - Math.round(v));
        scaledMargin[y * sw + x] = Math.min(dist(nx), dist(ny));
      }
    }
    // 2. crop (with padding), 3. flip
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const cx = flip ? OW - 1 - ox : ox;
        const sy = top + oy,
          sx = left + cx;
        const inside = sy >= 0 && sy < sh && sx >= 0 && sx < sw;
        const o = (b * OH + oy) * OW + ox;
        masks[o] = inside ? scaledMask[sy * sw + sx] : ignoreIndex;
        margin[o] = inside ? scaledMargin[sy * sw + sx] : 1;
        for (let c = 0; c < 3; c++) images[((b * 3 + c) * OH + oy) * OW + ox] = inside ? scaled[(c * sh + sy) * sw + sx] : fill;
      }
  }
  return { images, masks, margin };
}

/**
 * One axis of a bilinear resize from `n` input pixels to `size` (align_corners=False): output pixel `o`'s two
 * source taps `a` ≤ `b`, clamped to the edge, and the weight `t` of `b`.
 */
function bilinearTaps(o: number, size: number, n: number): { a: number; b: number; t: number } {
  const f = ((o + 0.5) * n) / size - 0.5;
  const i = Math.floor(f);
  return { a: Math.min(n - 1, Math.max(0, i)), b: Math.min(n - 1, Math.max(0, i + 1)), t: f - i };
}
