/**
 * The Cityscapes folder: writeSyntheticCityscapes writes the official layout and file formats (8-bit grey
 * labelIds, RGB color, 16-bit grey instanceIds), cityscapesDataset reads back exactly what the generator made
 * (images, train ids, colours, instance ids), resizes with nearest targets, feeds the library's loader and
 * segmentationBatch, and refuses bad layouts and options in one line naming the path or argument.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cityscapesDataset, encodePng, encodePng16, loader, readInstanceIds, writeSyntheticCityscapes, SYNTHETIC_CITYSCAPES_MARKER } from '../../src/node';
import { CITYSCAPES_LABELS, encodeTarget, segmentationBatch, syntheticStreetScene } from '../../src/segmentation';

let root: string;
const size: [number, number] = [32, 64];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webgrad-cityscapes-'));
  const r = await writeSyntheticCityscapes(root, { cities: 2, imagesPerCity: 2, size, seed: 3, splits: ['train', 'val'] });
  expect(r).toEqual({ counts: { train: 4, val: 4 }, existed: false });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ihdr = (file: string) => {
  const b = readFileSync(file);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), depth: b[24], colorType: b[25] };
};

describe('writeSyntheticCityscapes', () => {
  it('writes the official layout and formats, and a marker last', () => {
    const frame = 'aachen_000001_000019';
    const img = join(root, 'leftImg8bit', 'train', 'aachen', `${frame}_leftImg8bit.png`);
    const gt = join(root, 'gtFine', 'train', 'aachen', `${frame}_gtFine_`);
    expect(ihdr(img)).toEqual({ width: 64, height: 32, depth: 8, colorType: 2 });
    expect(ihdr(`${gt}labelIds.png`)).toEqual({ width: 64, height: 32, depth: 8, colorType: 0 });
    expect(ihdr(`${gt}color.png`)).toEqual({ width: 64, height: 32, depth: 8, colorType: 2 });
    expect(ihdr(`${gt}instanceIds.png`)).toEqual({ width: 64, height: 32, depth: 16, colorType: 0 });
    for (const city of ['aachen', 'bochum']) expect(existsSync(join(root, 'gtFine', 'train', city))).toBe(true);
    for (const city of ['frankfurt', 'lindau']) expect(existsSync(join(root, 'leftImg8bit', 'val', city))).toBe(true);
    expect(JSON.parse(readFileSync(join(root, SYNTHETIC_CITYSCAPES_MARKER), 'utf8'))).toMatchObject({ cities: 2, imagesPerCity: 2, size, seed: 3 });
  });

  it('does nothing when the same set is already there, and rewrites for other options', async () => {
    expect((await writeSyntheticCityscapes(root, { cities: 2, imagesPerCity: 2, size, seed: 3 })).existed).toBe(true);
    const other = mkdtempSync(join(tmpdir(), 'webgrad-cityscapes-'));
    try {
      await writeSyntheticCityscapes(other, { cities: 1, imagesPerCity: 1, size: [16, 32], splits: ['test'] });
      expect((await writeSyntheticCityscapes(other, { cities: 1, imagesPerCity: 1, size: [16, 32], splits: ['test'], seed: 1 })).existed).toBe(false);
      expect(cityscapesDataset(other, { split: 'test' }).length).toBe(1);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('16-bit PNGs keep values above 255 (encodePng16 / readInstanceIds round trip)', () => {
    const file = join(root, 'ids16.png');
    const values = Int32Array.from({ length: 12 }, (_, i) => [0, 7, 255, 256, 26000, 26001, 24003, 65535][i % 8]);
    writeFileSync(file, encodePng16(values, 4, 3));
    expect(readInstanceIds(file)).toEqual({ width: 4, height: 3, ids: values });
    unlinkSync(file);
  });
});

describe('cityscapesDataset', () => {
  it('reads back exactly what the generator made: image, train ids, colours, instance ids (val scenes follow the train ones)', async () => {
    const ds = cityscapesDataset(root, { split: 'val', targetType: ['semantic', 'color', 'instance'] });
    expect(ds.length).toBe(4);
    expect(ds.files.map((f) => f.image.split('/').pop())).toEqual([
      'frankfurt_000000_000019_leftImg8bit.png',
      'frankfurt_000001_000019_leftImg8bit.png',
      'lindau_000000_000019_leftImg8bit.png',
      'lindau_000001_000019_leftImg8bit.png',
    ]);
    const s = await ds.get(2); // lindau (city 1), frame 0 of val (split 1): scene 1e7 + 1·2 + 0
    const g = syntheticStreetScene(1e7 + 2, { size, seed: 3 });
    expect(s.name).toBe('lindau_000000_000019');
    const n = size[0] * size[1];
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) expect(s.image.data[c * n + p]).toBe(Math.fround(g.rgb[3 * p + c] / 255));
    expect(Array.from(s.mask!.data)).toEqual(Array.from(encodeTarget(g.labelIds)));
    expect(Array.from(s.instanceIds!)).toEqual(Array.from(g.instanceIds));
    const colour = new Map(CITYSCAPES_LABELS.map((l) => [l.id, l.color]));
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) expect(s.color!.data[c * n + p]).toBe(Math.fround(colour.get(g.labelIds[p])![c] / 255));
    const raw = await cityscapesDataset(root, { split: 'val', encode: false }).get(2);
    expect(Array.from(raw.mask!.data)).toEqual(Array.from(g.labelIds));
  });

  it('resizes (image bilinear, targets nearest: values stay ids) and batches with the library loader and segmentationBatch', async () => {
    const ds = cityscapesDataset(root, { split: 'train', size: [16, 24], targetType: ['semantic', 'instance'] });
    const s = await ds.get(1);
    expect([s.image.height, s.image.width, s.mask!.height, s.mask!.width, s.instanceIds!.length]).toEqual([16, 24, 16, 24, 16 * 24]);
    const full = await cityscapesDataset(root, { split: 'train' }).get(1);
    const ids = new Set(full.mask!.data);
    for (const v of s.mask!.data) expect(ids.has(v)).toBe(true);
    const l = loader(ds, { batchSize: 3 });
    const b = await l.batch(0, 0);
    expect(b.images.shape).toEqual([3, 3, 16, 24]);
    expect(b.masks!.shape).toEqual([3, 1, 16, 24]);
    b.dispose();
    await l.close();
    const sb = segmentationBatch([await ds.get(0), s]);
    expect(sb.masks.shape).toEqual([2, 16, 24]);
    expect(Array.from((await sb.masks.data()).subarray(16 * 24))).toEqual(Array.from(s.mask!.data));
    sb.images.dispose();
    sb.masks.dispose();
  });

  it('refuses bad layouts in one line naming the path', () => {
    expect(() => cityscapesDataset(join(root, 'nope'))).toThrow(/nope: is not a folder/);
    expect(() => cityscapesDataset(root, { split: 'test' })).toThrow(/has no leftImg8bit\/test\/ folder; expected the Cityscapes layout/);
    expect(() => cityscapesDataset(root, { mode: 'coarse' })).toThrow(/has no gtCoarse\/train\/ folder/);
    const broken = mkdtempSync(join(tmpdir(), 'webgrad-cityscapes-'));
    try {
      const img = join(broken, 'leftImg8bit', 'val', 'ulm');
      const gt = join(broken, 'gtFine', 'val', 'ulm');
      const g = syntheticStreetScene(0, { size: [16, 32] });
      const write = (path: string, bytes: Uint8Array) => {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, bytes);
      };
      write(join(gt, 'keep.txt'), new Uint8Array(0));
      expect(() => cityscapesDataset(broken, { split: 'val' })).toThrow(/has no leftImg8bit\/val\/ folder/);
      write(join(img, 'ulm_000000_000019_leftImg8bit.png'), encodePng(g.rgb, 32, 16, 3));
      expect(() => cityscapesDataset(broken, { split: 'val' })).toThrow(
        /ulm_000000_000019_leftImg8bit\.png: has no semantic target \(.*ulm_000000_000019_gtFine_labelIds\.png does not exist\)/,
      );
      write(join(gt, 'ulm_000000_000019_gtFine_labelIds.png'), encodePng(new Uint8Array(8 * 8), 8, 8, 1));
      const ds = cityscapesDataset(broken, { split: 'val' });
      expect(() => ds.get(0)).toThrow(/gtFine_labelIds\.png: is 8×8 \(width×height\) but its image .* is 32×16/);
      expect(() => ds.get(1)).toThrow(/cityscapesDataset.*'index'.*1.*\[0, 1\)/);
      rmSync(img, { recursive: true });
      mkdirSync(img, { recursive: true });
      expect(() => cityscapesDataset(broken, { split: 'val' })).toThrow(/holds no \*_leftImg8bit\.png files/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('refuses bad options in one line naming the argument', () => {
    expect(() => cityscapesDataset(root, { split: 'bad' as 'val' })).toThrow(/cityscapesDataset.*'split'.*"bad".*'train', 'val', 'test' for mode 'fine'/);
    expect(() => cityscapesDataset(root, { mode: 'coarse', split: 'test' })).toThrow(/'split'.*'train', 'train_extra', 'val' for mode 'coarse'/);
    expect(() => cityscapesDataset(root, { mode: 'medium' as 'fine' })).toThrow(/'mode'/);
    expect(() => cityscapesDataset(root, { targetType: 'polygon' as 'color' })).toThrow(/'targetType'.*"polygon"/);
    expect(() => cityscapesDataset(root, { targetType: [] })).toThrow(/'targetType'/);
    expect(() => cityscapesDataset(root, { size: [0, 4] })).toThrow(/'size'/);
    return expect(writeSyntheticCityscapes(root, { imagesPerCity: 0 })).rejects.toThrow(/writeSyntheticCityscapes.*'imagesPerCity'.*0/);
  });
});
