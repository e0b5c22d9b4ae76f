/**
 * The Cityscapes label table (as the official cityscapesScripts `helpers/labels.py` defines it: 34 label
 * ids 0..33 plus the license plate, id −1) and the two maps a training loop needs: label id → train id
 * (`encodeTarget`, 19 train classes, everything else 255 = ignore) and train id → colour (`decodeTarget`).
 * Both run on the GPU for tensors (one lookup-table gather) and on the host for byte arrays.
 */
import { ArgumentError, fmtShape } from '../base/shape';
import { add } from '../tensor/ops/elementwise';
import { tensor } from '../tensor/ops/creation';
import { indexSelect } from '../tensor/ops/indexing';
import { permute } from '../tensor/ops/layout';
import { reshape } from '../tensor/ops/shape-ops';
import { requireTensor } from '../tensor/require-tensor';
import type { Tensor } from '../tensor/tensor';
import { tidy } from '../tensor/scope';

/** One row of the Cityscapes label table. */
export interface CityscapesLabel {
  /** Class name, e.g. 'car'. */
  readonly name: string;
  /** Label id, the value in `*_gtFine_labelIds.png` (0..33; −1 for the license plate, which never appears in those files). */
  readonly id: number;
  /** Train id: 0..18 for the 19 evaluated classes, 255 for ignored ones (−1 for the license plate, as the official table). */
  readonly trainId: number;
  /** Category name ('void', 'flat', 'construction', 'object', 'nature', 'sky', 'human', 'vehicle'). */
  readonly category: string;
  /** Category id 0..7. */
  readonly categoryId: number;
  /** Whether the class has instances (its pixels in `*_instanceIds.png` are id·1000 + k). */
  readonly hasInstances: boolean;
  /** Whether the official evaluation ignores pixels of this class. */
  readonly ignoreInEval: boolean;
  /** Colour in `*_gtFine_color.png`, [r, g, b] bytes. */
  readonly color: readonly [number, number, number];
}

const row = (
  name: string,
  id: number,
  trainId: number,
  category: string,
  categoryId: number,
  hasInstances: boolean,
  ignoreInEval: boolean,
  color: [number, number, number],
): CityscapesLabel => Object.freeze({ name, id, trainId, category, categoryId, hasInstances, ignoreInEval, color: Object.freeze(color) });

/** The 35 rows of the official Cityscapes label table, in its order (label ids 0..33, then the license plate, id −1). */
export const CITYSCAPES_LABELS: readonly CityscapesLabel[] = Object.freeze([
  row('unlabeled', 0, 255, 'void', 0, false, true, [0, 0, 0]),
  row('ego vehicle', 1, 255, 'void', 0, false, true, [0, 0, 0]),
  row('rectification border', 2, 255, 'void', 0, false, true, [0, 0, 0]),
  row('out of roi', 3, 255, 'void', 0, false, true, [0, 0, 0]),
  row('static', 4, 255, 'void', 0, false, true, [0, 0, 0]),
  row('dynamic', 5, 255, 'void', 0, false, true, [111, 74, 0]),
  row('ground', 6, 255, 'void', 0, false, true, [81, 0, 81]),
  row('road', 7, 0, 'flat', 1, false, false, [128, 64, 128]),
  row('sidewalk', 8, 1, 'flat', 1, false, false, [244, 35, 232]),
  row('parking', 9, 255, 'flat', 1, false, true, [250, 170, 160]),
  row('rail track', 10, 255, 'flat', 1, false, true, [230, 150, 140]),
  row('building', 11, 2, 'construction', 2, false, false, [70, 70, 70]),
  row('wall', 12, 3, 'construction', 2, false, false, [102, 102, 156]),
  row('fence', 13, 4, 'construction', 2, false, false, [190, 153, 153]),
  row('guard rail', 14, 255, 'construction', 2, false, true, [180, 165, 180]),
  row('bridge', 15, 255, 'construction', 2, false, true, [150, 100, 100]),
  row('tunnel', 16, 255, 'construction', 2, false, true, [150, 120, 90]),
  row('pole', 17, 5, 'object', 3, false, false, [153, 153, 153]),
  row('polegroup', 18, 255, 'object', 3, false, true, [153, 153, 153]),
  row('traffic light', 19, 6, 'object', 3, false, false, [250, 170, 30]),
  row('traffic sign', 20, 7, 'object', 3, false, false, [220, 220, 0]),
  row('vegetation', 21, 8, 'nature', 4, false, false, [107, 142, 35]),
  row('terrain', 22, 9, 'nature', 4, false, false, [152, 251, 152]),
  row('sky', 23, 10, 'sky', 5, false, false, [70, 130, 180]),
  row('person', 24, 11, 'human', 6, true, false, [220, 20, 60]),
  row('rider', 25, 12, 'human', 6, true, false, [255, 0, 0]),
  row('car', 26, 13, 'vehicle', 7, true, false, [0, 0, 142]),
  row('truck', 27, 14, 'vehicle', 7, true, false, [0, 0, 70]),
  row('bus', 28, 15, 'vehicle', 7, true, false, [0, 60, 100]),
  row('caravan', 29, 255, 'vehicle', 7, true, true, [0, 0, 90]),
  row('trailer', 30, 255, 'vehicle', 7, true, true, [0, 0, 110]),
  row('train', 31, 16, 'vehicle', 7, true, false, [0, 80, 100]),
  row('motorcycle', 32, 17, 'vehicle', 7, true, false, [0, 0, 230]),
  row('bicycle', 33, 18, 'vehicle', 7, true, false, [119, 11, 32]),
  row('license plate', -1, -1, 'vehicle', 7, false, true, [0, 0, 142]),
]);

/** The train id that marks pixels the loss and the metrics skip. */
export const IGNORE_INDEX = 255;

const trainRows = CITYSCAPES_LABELS.filter((l) => l.trainId >= 0 && l.trainId !== IGNORE_INDEX).sort((a, b) => a.trainId - b.trainId);

/** The 19 class names by train id: CITYSCAPES_CLASSES[0] = 'road' … [18] = 'bicycle'. */
export const CITYSCAPES_CLASSES: readonly string[] = Object.freeze(trainRows.map((l) => l.name));

/** The 19 colours by train id, [r, g, b] bytes (the colours of `*_gtFine_color.png`). */
export const CITYSCAPES_COLORS: readonly (readonly [number, number, number])[] = Object.freeze(trainRows.map((l) => l.color));

/** The label id of a class name, e.g. `CITYSCAPES_LABEL_IDS.car` = 26. */
export const CITYSCAPES_LABEL_IDS: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(CITYSCAPES_LABELS.map((l) => [l.name, l.id])));

/** Label id (index 0..255) → train id (0..18 or 255): the 256-entry table encodeTarget applies. */
export const LABEL_TO_TRAIN_ID: Uint8Array = (() => {
  const lut = new Uint8Array(256).fill(IGNORE_INDEX);
  for (const l of CITYSCAPES_LABELS) if (l.id >= 0 && l.trainId >= 0) lut[l.id] = l.trainId;
  return lut;
})();

/**
 * Label ids → train ids. On the host (a Uint8Array of label ids, e.g. decoded from `*_labelIds.png`) it
 * returns a new Uint8Array; on the GPU (an int32 tensor of any shape) a new int32 tensor of the same shape.
 * Ids with no train class, and values outside 0..255 (only possible in a tensor), become 255.
 */
export function encodeTarget(labelIds: Uint8Array): Uint8Array;
export function encodeTarget(labelIds: Tensor): Tensor;
export function encodeTarget(labelIds: Uint8Array | Tensor): Uint8Array | Tensor {
  const fn = 'encodeTarget';
  if (labelIds instanceof Uint8Array) {
    const out = new Uint8Array(labelIds.length);
    for (let i = 0; i < labelIds.length; i++) out[i] = LABEL_TO_TRAIN_ID[labelIds[i]];
    return out;
  }
  requireTensor(fn, 'labelIds', labelIds, 'a Uint8Array or an int32 Tensor of label ids');
  if (labelIds.dtype !== 'int32') throw new ArgumentError(fn, 'labelIds', `has dtype ${labelIds.dtype}`, 'int32 label ids');
  return tidy(() => {
    // indexSelect reads 0 for an index out of range; storing trainId − 255 and adding 255 back turns that 0 into 255
    const shifted = Int32Array.from(LABEL_TO_TRAIN_ID, (t) => t - IGNORE_INDEX);
    const lut = tensor(shifted, { shape: [256], dtype: 'int32', device: labelIds.device });
    const flat = indexSelect(lut, 0, reshape(labelIds, [labelIds.size]));
    return reshape(add(flat, IGNORE_INDEX), labelIds.shape);
  });
}

/** Train id (index 0..255) → [r, g, b] bytes: the 19 class colours, black for everything else (255 included). */
const TRAIN_ID_COLORS: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  CITYSCAPES_COLORS.forEach((c, t) => lut.set(c, 3 * t));
  return lut;
})();

/**
 * Train ids → colours (255 and any other id outside 0..18 → black). On the host (Uint8Array or Int32Array
 * of H·W train ids) it returns interleaved RGB bytes (H·W·3), ready for a PNG; on the GPU, an int32 tensor
 * (B, H, W) or (H, W) gives float32 RGB in [0, 1] of shape (B, 3, H, W) or (3, H, W), like an image batch.
 */
export function decodeTarget(trainIds: Uint8Array | Int32Array): Uint8Array;
export function decodeTarget(trainIds: Tensor): Tensor;
export function decodeTarget(trainIds: Uint8Array | Int32Array | Tensor): Uint8Array | Tensor {
  const fn = 'decodeTarget';
  if (trainIds instanceof Uint8Array || trainIds instanceof Int32Array) {
    const out = new Uint8Array(trainIds.length * 3);
    for (let i = 0; i < trainIds.length; i++) {
      const t = trainIds[i];
      if (t >= 0 && t < 256) {
        out[3 * i] = TRAIN_ID_COLORS[3 * t];
        out[3 * i + 1] = TRAIN_ID_COLORS[3 * t + 1];
        out[3 * i + 2] = TRAIN_ID_COLORS[3 * t + 2];
      }
    }
    return out;
  }
  requireTensor(fn, 'trainIds', trainIds, 'a Uint8Array, an Int32Array or an int32 Tensor (B, H, W) of train ids');
  if (trainIds.dtype !== 'int32' || (trainIds.ndim !== 2 && trainIds.ndim !== 3))
    throw new ArgumentError(fn, 'trainIds', `has shape ${fmtShape(trainIds.shape)} (${trainIds.dtype})`, 'an int32 (B, H, W) or (H, W) tensor of train ids');
  const t = trainIds;
  return tidy(() => {
    const lut = tensor(
      Float32Array.from(TRAIN_ID_COLORS, (v) => v / 255),
      { shape: [256, 3], device: t.device },
    );
    const rgb = indexSelect(lut, 0, reshape(t, [t.size])); // (n, 3); an index out of range reads a black row
    if (t.ndim === 2) return permute(reshape(rgb, [t.shape[0], t.shape[1], 3]), [2, 0, 1]);
    return permute(reshape(rgb, [...t.shape, 3]), [0, 3, 1, 2]);
  });
}
