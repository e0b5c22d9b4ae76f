/**
 * The detection file loaders on small fixture folders written here (no downloads): d2l's
 * banana-detection layout and a COCO-style JSON file, their samples (normalised boxes, pixels,
 * contiguous class ids, crowd and empty boxes) and their one-line errors.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { bananaDataset, cocoDataset, parseCocoDetection, parseBananaCsv, DetectionDataError, getMaxImagePixels, setMaxImagePixels } from '../../src/node';
import { detectionBatch, evaluateDetections, type DetectionSample } from '../../src/detection';

let dir: string;

/** A PNG whose red channel is x·8 and green channel y·8 (so a pixel says where it is), blue 200. */
function writePng(path: string, width: number, height: number) {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = 4 * (y * width + x);
      png.data[o] = (x * 8) % 256;
      png.data[o + 1] = (y * 8) % 256;
      png.data[o + 2] = 200;
      png.data[o + 3] = 255;
    }
  writeFileSync(path, PNG.sync.write(png));
}

function bananaFolder(name: string, csv: string, images: [string, number, number][]) {
  const root = join(dir, name);
  mkdirSync(join(root, 'bananas_train', 'images'), { recursive: true });
  writeFileSync(join(root, 'bananas_train', 'label.csv'), csv);
  for (const [f, w, h] of images) writePng(join(root, 'bananas_train', 'images', f), w, h);
  return root;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgrad-det-loaders-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const box = (s: DetectionSample, k: number) => Array.from(s.boxes.subarray(4 * k, 4 * k + 4));
/** Expected boxes as float32, as the samples hold them. */
const f32 = (v: number[]) => v.map(Math.fround);

describe('bananaDataset', () => {
  it("reads d2l's layout: boxes divided by the image size, rows of one image grouped, pixels in [0, 1]", () => {
    const root = bananaFolder('bananas', 'img_name,label,xmin,ymin,xmax,ymax\n0.png,0,8,4,24,20\n1.png,0,0,0,32,16\n0.png,0,1,2,3,4\n', [
      ['0.png', 32, 32],
      ['1.png', 32, 16],
    ]);
    const ds = bananaDataset(root, 'train');
    expect(ds.length).toBe(2);
    expect(ds.names).toEqual(['0.png', '1.png']);
    expect(ds.classNames).toEqual(['banana']);
    const s0 = ds.get(0) as DetectionSample;
    expect([s0.height, s0.width]).toEqual([32, 32]);
    expect(Array.from(s0.labels)).toEqual([0, 0]);
    expect(box(s0, 0)).toEqual([8 / 32, 4 / 32, 24 / 32, 20 / 32]);
    expect(box(s0, 1)).toEqual([1 / 32, 2 / 32, 3 / 32, 4 / 32]);
    // pixel (x 5, y 3): red 40/255, green 24/255, blue 200/255
    const n = 32 * 32;
    expect(s0.image[3 * 32 + 5]).toBeCloseTo(40 / 255, 6);
    expect(s0.image[n + 3 * 32 + 5]).toBeCloseTo(24 / 255, 6);
    expect(s0.image[2 * n + 3 * 32 + 5]).toBeCloseTo(200 / 255, 6);
    const s1 = ds.get(1) as DetectionSample;
    expect([s1.height, s1.width]).toEqual([16, 32]);
    expect(box(s1, 0)).toEqual([0, 0, 1, 1]);
    // resized to one size, they batch
    const sized = bananaDataset(root, 'train', { size: 24 });
    const samples = [0, 1].map((i) => sized.get(i) as DetectionSample);
    expect(samples.map((s) => [s.height, s.width])).toEqual([
      [24, 24],
      [24, 24],
    ]);
    expect(box(samples[1], 0)).toEqual([0, 0, 1, 1]);
    const b = detectionBatch(samples);
    expect(b.images.shape).toEqual([2, 3, 24, 24]);
    expect(b.targets.shape).toEqual([2, 2, 5]);
    b.images.dispose();
    b.targets.dispose();
    // the split folder itself works too
    expect(bananaDataset(join(root, 'bananas_train')).length).toBe(2);
  });

  it("batches like d2l's load_data_bananas: images (B, 3, 256, 256), targets (B, 1, 5) = [label, corners / 256]", async () => {
    const rows = [
      ['0.png', 104, 20, 143, 58],
      ['1.png', 68, 175, 118, 223],
      ['2.png', 163, 173, 218, 239],
    ];
    const root = bananaFolder(
      'd2l',
      `img_name,label,xmin,ymin,xmax,ymax\n${rows.map((r) => `${r[0]},0,${r.slice(1).join(',')}`).join('\n')}\n`,
      rows.map((r) => [r[0] as string, 256, 256]),
    );
    const ds = bananaDataset(root, 'train');
    const { images, targets } = detectionBatch([0, 1, 2].map((i) => ds.get(i) as DetectionSample));
    expect(images.shape).toEqual([3, 3, 256, 256]);
    expect(targets.shape).toEqual([3, 1, 5]);
    const t = await targets.data();
    rows.forEach((r, b) => expect(Array.from(t.subarray(5 * b, 5 * b + 5))).toEqual(f32([0, ...(r.slice(1) as number[]).map((v) => v / 256)])));
    images.dispose();
    targets.dispose();
  });

  it('clamps boxes that stick out by at most the tolerance, refuses those further out, naming the CSV line', () => {
    const root = bananaFolder('edge', 'img_name,label,xmin,ymin,xmax,ymax\na.png,0,-0.5,0,16.5,16\nb.png,0,0,0,18,16\n', [
      ['a.png', 16, 16],
      ['b.png', 16, 16],
    ]);
    const ds = bananaDataset(root);
    expect(box(ds.get(0) as DetectionSample, 0)).toEqual([0, 0, 1, 1]);
    expect(() => ds.get(1)).toThrow(/label\.csv line 3: box \[0, 0, 18, 16\] lies outside the 16×16 image .*b\.png/);
    expect(() => bananaDataset(root, 'train', { tolerance: 0 }).get(0)).toThrow('line 2: box [-0.5, 0, 16.5, 16] lies outside');
  });

  it('gives one-line errors for a missing folder, a bad header, malformed rows, missing images and oversize files', () => {
    expect(() => bananaDataset(join(dir, 'nowhere'))).toThrow(/nowhere: no bananas_train\/ folder/);
    const header = 'img_name,label,xmin,ymin,xmax,ymax\n';
    const img: [string, number, number][] = [['a.png', 8, 8]];
    expect(() => bananaDataset(bananaFolder('h', 'name,label,x1,y1,x2,y2\n', img))).toThrow(/label\.csv line 1: header is 'name,label,x1,y1,x2,y2'/);
    expect(() => bananaDataset(bananaFolder('f', `${header}a.png,0,1,2,3\n`, img))).toThrow(/line 2: has 5 fields/);
    expect(() => bananaDataset(bananaFolder('n', `${header}a.png,0,1,2,3,4\na.png,0,1,x,3,4\n`, img))).toThrow(/line 3: ymin is 'x'; expected a number/);
    expect(() => bananaDataset(bananaFolder('r', `${header}a.png,0,5,2,3,4\n`, img))).toThrow(/line 2: box \[5, 2, 3, 4\] has xmin > xmax/);
    expect(() => bananaDataset(bananaFolder('l', `${header}a.png,1.5,1,2,3,4\n`, img))).toThrow(/line 2: label is 1.5/);
    expect(() => bananaDataset(bananaFolder('c', `${header}a.png,1,1,2,3,4\n`, img))).toThrow(/line 2: label 1 has no class name/);
    expect(() => bananaDataset(bananaFolder('m', `${header}b.png,0,1,2,3,4\n`, img))).toThrow(/line 2: image .*b\.png does not exist/);
    expect(() => bananaDataset(bananaFolder('p', `${header}../a.png,0,1,2,3,4\n`, img))).toThrow(/line 2: img_name '\.\.\/a\.png' is not a plain file name/);
    expect(() => bananaDataset(bananaFolder('s', `${header}a.png,0,1,2,3,4\n`, img), 'train', { maxBytes: 10 })).toThrow(
      /label\.csv is \d+ bytes, over the limit of 10/,
    );
    // the image decoders' pixel limit applies (checked from the header, before any pixel is decoded)
    const limit = getMaxImagePixels();
    setMaxImagePixels(63);
    try {
      expect(() => bananaDataset(bananaFolder('big', `${header}a.png,0,1,2,3,4\n`, img)).get(0)).toThrow(/a\.png: .*64.*pixels|a\.png: .*limit/);
    } finally {
      setMaxImagePixels(limit);
    }
    expect(() => bananaDataset(dir, 'test' as 'train')).toThrow('bananaDataset: argument \'split\' is "test"');
    expect(() => parseBananaCsv(`${header}a.png,0,1,2,3,4`, 'x.csv')).not.toThrow();
    try {
      bananaDataset(bananaFolder('f2', `${header}a.png,0,1,2,3\n`, img));
    } catch (e) {
      expect(e).toBeInstanceOf(DetectionDataError);
      expect((e as Error).message.includes('\n')).toBe(false);
    }
  });
});

describe('cocoDataset', () => {
  const coco = () => ({
    images: [
      { id: 7, file_name: 'a.png', width: 20, height: 10 },
      { id: 3, file_name: 'sub/b.png', width: 10, height: 10 },
      { id: 9, file_name: 'c.png', width: 10, height: 10 },
    ],
    categories: [
      { id: 90, name: 'toothbrush' },
      { id: 1, name: 'person' },
      { id: 3, name: 'car' },
    ],
    annotations: [
      { id: 1, image_id: 7, category_id: 3, bbox: [2, 1, 10, 4], iscrowd: 0 },
      { id: 2, image_id: 3, category_id: 90, bbox: [0, 0, 10, 10], iscrowd: 0 },
      { id: 3, image_id: 7, category_id: 1, bbox: [0, 0, 20, 10], iscrowd: 1 },
      { id: 4, image_id: 7, category_id: 1, bbox: [5, 5, 5, 5] },
      { id: 5, image_id: 3, category_id: 1, bbox: [4, 4, 0, 3], iscrowd: 0 },
    ],
  });

  function cocoFolder(name: string, json: unknown) {
    const root = join(dir, name);
    mkdirSync(join(root, 'images', 'sub'), { recursive: true });
    writePng(join(root, 'images', 'a.png'), 20, 10);
    writePng(join(root, 'images', 'sub', 'b.png'), 10, 10);
    writePng(join(root, 'images', 'c.png'), 10, 10);
    const file = join(root, 'instances.json');
    writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
    return { file, images: join(root, 'images') };
  }

  it('maps category ids to contiguous class ids in id order, keeps names, groups boxes per image, skips crowd and empty boxes', () => {
    const { file, images } = cocoFolder('coco', coco());
    const ds = cocoDataset(file, images);
    expect(ds.classNames).toEqual(['person', 'car', 'toothbrush']);
    expect(ds.categoryIds).toEqual([1, 3, 90]);
    expect(ds.imageIds).toEqual([7, 3, 9]);
    expect(ds.skipped).toEqual({ crowd: 1, empty: 1 });
    const a = ds.get(0) as DetectionSample;
    expect([a.height, a.width]).toEqual([10, 20]);
    expect(Array.from(a.labels)).toEqual([1, 0]);
    expect(box(a, 0)).toEqual(f32([2 / 20, 1 / 10, 12 / 20, 5 / 10]));
    expect(box(a, 1)).toEqual(f32([5 / 20, 5 / 10, 10 / 20, 10 / 10]));
    const b = ds.get(1) as DetectionSample;
    expect(Array.from(b.labels)).toEqual([2]);
    expect(box(b, 0)).toEqual([0, 0, 1, 1]);
    expect((ds.get(2) as DetectionSample).labels.length).toBe(0);
    // the ground truth for the metrics keeps the crowd box, flagged (and still leaves out the empty one)
    const gt = ds.groundTruth(0);
    expect(Array.from(gt.labels)).toEqual([1, 0, 0]);
    expect(Array.from(gt.iscrowd!)).toEqual([0, 1, 0]);
    expect(Array.from(gt.boxes.subarray(4, 8))).toEqual([0, 0, 1, 1]);
    expect(Array.from(gt.boxes.subarray(0, 4))).toEqual(f32([2 / 20, 1 / 10, 12 / 20, 5 / 10]));
    expect(ds.groundTruth(1).labels.length).toBe(1);
    expect(Array.from(ds.groundTruth(0, { pixels: true }).boxes.subarray(0, 8))).toEqual([2, 1, 12, 5, 0, 0, 20, 10]);
    // the samples' own boxes as detections score a perfect COCO AP against it (the crowd box is neither hit nor miss)
    const gts = [0, 1, 2].map((i) => ds.groundTruth(i));
    const dets = [0, 1, 2].map((i) => {
      const s = ds.get(i) as DetectionSample;
      return { boxes: s.boxes, labels: s.labels, scores: new Float32Array(s.labels.length).fill(1) };
    });
    expect(evaluateDetections(dets, gts).cocoAp).toBeCloseTo(1, 10);
    expect(() => ds.groundTruth(3)).toThrow("cocoDataset: argument 'index' is 3");
    // options: keep crowd boxes, leave out empty images, resize
    const kept = cocoDataset(file, images, { crowd: 'keep', skipEmpty: true, size: [8, 8] });
    expect(kept.length).toBe(2);
    expect(kept.skipped).toEqual({ crowd: 0, empty: 1 });
    const k0 = kept.get(0) as DetectionSample;
    expect(Array.from(k0.labels)).toEqual([1, 0, 0]);
    expect(box(k0, 1)).toEqual([0, 0, 1, 1]);
    expect([k0.height, k0.width]).toEqual([8, 8]);
  });

  it('gives one-line errors naming the entry: unknown ids, bad boxes, missing files, size mismatches, oversize and malformed files', () => {
    const bad = (name: string, edit: (j: ReturnType<typeof coco>) => void) => {
      const j = coco();
      edit(j);
      const { file, images } = cocoFolder(name, j);
      return () => cocoDataset(file, images).get(0);
    };
    expect(
      bad('cat', (j) => {
        j.annotations[1].category_id = 2;
      }),
    ).toThrow(/annotations\[1\] \(id 2\): category_id 2 is not in 'categories' \(ids 1, 3, 90\)/);
    expect(
      bad('img', (j) => {
        j.annotations[0].image_id = 99;
      }),
    ).toThrow(/annotations\[0\] \(id 1\): image_id 99 is not the id of an image/);
    expect(
      bad('out', (j) => {
        j.annotations[0].bbox = [15, 0, 10, 4];
      }),
    ).toThrow(/annotations\[0\] \(id 1\): box \[15, 0, 25, 4\] lies outside the 20×10 image a\.png/);
    expect(
      bad('neg', (j) => {
        j.annotations[0].bbox = [1, 1, -2, 3];
      }),
    ).toThrow(/bbox \[1, 1, -2, 3\] has a negative width or height/);
    expect(
      bad('bbox', (j) => {
        (j.annotations[0] as { bbox: unknown }).bbox = [1, 2, 3];
      }),
    ).toThrow(/bbox is \[1,2,3\]; expected \[x, y, width, height\]/);
    expect(
      bad('size', (j) => {
        j.images[0].width = 30;
        j.annotations[0].bbox = [0, 0, 25, 4];
      }),
    ).toThrow(/image id 7: says 30×10 \(width×height\) but .*a\.png is 20×10/);
    expect(
      bad('missing', (j) => {
        j.images[2].file_name = 'zzz.png';
      }),
    ).toThrow(/image id 9: image .*zzz\.png does not exist/);
    expect(
      bad('escape', (j) => {
        j.images[2].file_name = '../zzz.png';
      }),
    ).toThrow(/images\[2\]: file_name '\.\.\/zzz\.png' is not a path inside the image folder/);
    expect(
      bad('dup', (j) => {
        j.categories[1].id = 90;
      }),
    ).toThrow(/categories\[1\]: repeats category id 90/);
    expect(
      bad('crowd', (j) => {
        j.annotations[0].iscrowd = 2;
      }),
    ).toThrow(/iscrowd is 2; expected 0 or 1/);
    const { file, images } = cocoFolder('json', '{"images": [');
    expect(() => cocoDataset(file, images)).toThrow(/instances\.json: is not valid JSON/);
    const ok = cocoFolder('cap', coco());
    expect(() => cocoDataset(ok.file, ok.images, { maxBytes: 100 })).toThrow(/annotation file is \d+ bytes, over the limit of 100/);
    expect(() => cocoDataset(join(dir, 'none.json'), ok.images)).toThrow(/none\.json: cannot read annotation file \(ENOENT\)/);
    expect(() => cocoDataset(ok.file, join(dir, 'no-images'))).toThrow(/no-images: image folder does not exist/);
    expect(() => parseCocoDetection({ images: [] }, 'x.json')).toThrow("x.json: has no 'annotations' array");
    expect(() => cocoDataset(ok.file, ok.images).get(5)).toThrow("cocoDataset: argument 'index' is 5");
  });
});
