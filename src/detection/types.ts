/**
 * The shapes detection data takes on the host and on the GPU, shared by the datasets, the SSD
 * trainer and the metrics. Boxes are corner boxes (x1, y1, x2, y2); on the GPU they are
 * normalised to [0, 1] by the image's width and height, as d2l's banana data is.
 */
import type { Tensor } from '../tensor/tensor';

/** One image and its objects on the host. */
export interface DetectionSample {
  /** RGB, channel-major (3, height, width), values in [0, 1]. */
  image: Float32Array;
  /** The image's height in pixels. */
  height: number;
  /** The image's width in pixels. */
  width: number;
  /** The objects' corner boxes, normalised to [0, 1], four numbers per object. */
  boxes: Float32Array;
  /** Each object's class id (0, 1, …), one per box. */
  labels: Int32Array;
}

/**
 * A batch on the GPU in d2l's layout: `images` (B, 3, H, W) and `targets` (B, G, 5), one row
 * `[class, x1, y1, x2, y2]` per object, normalised corners; rows with class −1 are padding
 * ("no object"), so images may hold different numbers of objects.
 */
export interface DetectionBatch {
  /** (B, 3, H, W) float32, values in [0, 1]. */
  images: Tensor;
  /** (B, G, 5) float32 rows `[class, x1, y1, x2, y2]`; class −1 pads. */
  targets: Tensor;
}

/** One image's detections on the host (what the metrics take). */
export interface ImageDetections {
  /** Corner boxes, four numbers per detection (any coordinate system shared with the ground truth). */
  boxes: Float32Array;
  /** One confidence per detection. */
  scores: Float32Array;
  /** One class id per detection. */
  labels: Int32Array;
}

/** One image's ground truth on the host (what the metrics take). */
export interface ImageGroundTruth {
  /** Corner boxes, four numbers per object. */
  boxes: Float32Array;
  /** One class id per object. */
  labels: Int32Array;
  /** Pascal VOC's "difficult" flags (1 = ignored: neither a hit nor a miss); all 0 when absent. */
  difficult?: Uint8Array;
}
