/**
 * The metrics' working form: the images' detections and ground truth split by class, in float64, and the
 * box overlap both benchmarks use. Internal to src/detection/metrics*.ts.
 */

/** One image's detections and ground truth, copied and checked (see `checkImage` in metrics.ts). */
export interface EvalImage {
  /** Detection corner boxes, 4 per detection. */
  detBoxes: Float64Array;
  /** Detection scores. */
  scores: Float64Array;
  /** Detection classes. */
  detLabels: Int32Array;
  /** Ground-truth corner boxes, 4 per object. */
  gtBoxes: Float64Array;
  /** Ground-truth classes. */
  gtLabels: Int32Array;
  /** VOC difficult flags (1 = ignored). */
  difficult: Uint8Array;
  /** COCO crowd flags (1 = crowd region: ignored, may absorb several detections). */
  crowd: Uint8Array;
}

/** One image's part of one class: indices into that image's detections and ground truth. */
export interface ClassImage {
  /** The image's position in the evaluation (ties in score rank by it). */
  image: number;
  /** Indices of the class's detections in this image, ascending. */
  dets: number[];
  /** Indices of the class's ground-truth objects in this image, ascending. */
  gts: number[];
}

/** Splits the images by class: for each class id, the images holding a detection or an object of it. */
export function splitByClass(images: readonly EvalImage[]): Map<number, ClassImage[]> {
  const byClass = new Map<number, ClassImage[]>();
  images.forEach((im, image) => {
    const here = new Map<number, ClassImage>();
    const entry = (c: number): ClassImage => {
      let e = here.get(c);
      if (!e) {
        e = { image, dets: [], gts: [] };
        here.set(c, e);
        let list = byClass.get(c);
        if (!list) byClass.set(c, (list = []));
        list.push(e);
      }
      return e;
    };
    for (let i = 0; i < im.detLabels.length; i++) entry(im.detLabels[i]).dets.push(i);
    for (let j = 0; j < im.gtLabels.length; j++) entry(im.gtLabels[j]).gts.push(j);
  });
  return byClass;
}

/** Area of box `i` of a corner-box array (continuous coordinates, no +1). */
export function boxAreaAt(boxes: Float64Array, i: number): number {
  return (boxes[4 * i + 2] - boxes[4 * i]) * (boxes[4 * i + 3] - boxes[4 * i + 1]);
}

/**
 * Overlap of detection box `i` of `a` with ground-truth box `j` of `b`: intersection over union, or over the
 * detection's area when the ground truth is a crowd region (pycocotools' `iscrowd` rule). 0 when the boxes do
 * not intersect with a positive area (the VOC devkit's `iw > 0 && ih > 0`).
 */
export function overlap(a: Float64Array, i: number, b: Float64Array, j: number, crowd: boolean): number {
  const iw = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]);
  const ih = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const areaA = boxAreaAt(a, i);
  const union = crowd ? areaA : areaA + boxAreaAt(b, j) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Detection order for ranking: descending score, ties by position (image, then index in the image), as a
 * stable sort (MATLAB's `sort`, numpy's mergesort in pycocotools) of the detections in input order gives.
 */
export function byScoreThenPosition(a: { score: number; image: number; index: number }, b: { score: number; image: number; index: number }): number {
  return b.score - a.score || a.image - b.image || a.index - b.index;
}
