/** Stage panels for segmentation: rows of image | predicted mask | cutout on black | ground truth, as one PNG. */
import { writePng } from '../../io/images';

/** One row of a panel: the image, the predicted mask, optionally the ground truth, and the size. */
export interface PanelRow {
  /** The image, channel-major RGB [3, size, width] in [0, 1]. */
  image: Float32Array;
  /** The predicted mask, [size, width] in [0, 1]. */
  pred: Float32Array;
  /** The ground truth, when there is one. */
  mask?: Float32Array;
  /** Height (and width, unless `width` is given) of the row. */
  size: number;
  /** Width, when not square. */
  width?: number;
}

export function panelPixels(rows: readonly PanelRow[]): { pixels: Uint8Array; width: number; height: number } {
  const w = Math.max(...rows.map((r) => r.width ?? r.size));
  const cols = rows.some((r) => r.mask) ? 4 : 3;
  const height = rows.reduce((s, r) => s + r.size, 0),
    width = w * cols;
  const pixels = new Uint8Array(width * height * 3);
  let top = 0;
  for (const r of rows) {
    const rw = r.width ?? r.size,
      n = r.size * rw;
    const put = (col: number, x: number, y: number, rgb: [number, number, number]) => {
      const o = ((top + y) * width + col * w + x) * 3;
      for (let c = 0; c < 3; c++) pixels[o + c] = Math.round(Math.min(1, Math.max(0, rgb[c])) * 255);
    };
    for (let y = 0; y < r.size; y++)
      for (let x = 0; x < rw; x++) {
        const i = y * rw + x;
        const rgb: [number, number, number] = [r.image[i], r.image[n + i], r.image[2 * n + i]];
        const p = r.pred[i];
        put(0, x, y, rgb);
        put(1, x, y, [p, p, p]);
        put(2, x, y, [rgb[0] * p, rgb[1] * p, rgb[2] * p]);
        if (r.mask) put(3, x, y, [r.mask[i], r.mask[i], r.mask[i]]);
      }
    top += r.size;
  }
  return { pixels, width, height };
}

/**
 * Writes rows of image | predicted mask | cutout | ground truth as one PNG, to look at predictions during
 * training.
 */
export async function writePanels(path: string, rows: readonly PanelRow[]): Promise<void> {
  if (rows.length === 0) return;
  const { pixels, width, height } = panelPixels(rows);
  await writePng(path, pixels, width, height, 3);
}
