/** Datasets (image folder, DUTS layout, arrays) and the loader: order, batching, collation, worker decoding, errors naming files. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { sequential, lambda, linear } from '../../src/nn';
import { loadSodFolder } from '../../src/sod/node/folder';
import {
  type Tensor,
  crossEntropy,
  reshape,
  tidy,
  valueAndGrad,
  optim,
  colorJitter,
  normalize,
  encodePng,
  imageFolder,
  sodDataset,
  decodeWorkers,
  loader,
  arrayDataset,
  subset,
  random,
  augmentGeometry,
} from '../../src/node';
import type { HostBatch } from '../../src/train/data/loader';
import { permutation } from '../../src/base/random';

let root: string;
const W = 6,
  H = 5;
/** A distinct RGB pattern per (class, file). */
const pattern = (c: number, f: number) => Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 7 + c * 50 + f * 13) % 256);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'webgrad-data-'));
  const classes = ['dog', 'ant', 'cat']; // sorted: ant 0, cat 1, dog 2
  classes.forEach((c, ci) => {
    mkdirSync(join(root, 'folder', c), { recursive: true });
    for (let f = 0; f < 3 + ci; f++) writeFileSync(join(root, 'folder', c, `p${f}.png`), encodePng(pattern(ci, f), W, H, 3));
    const rgba = new Uint8Array(W * H * 4).fill(200);
    writeFileSync(join(root, 'folder', c, 'q.jpg'), jpeg.encode({ data: rgba, width: W, height: H }, 90).data);
    writeFileSync(join(root, 'folder', c, 'notes.txt'), 'not an image');
  });
  // DUTS layout: 5 pairs, masks grey PNGs
  mkdirSync(join(root, 'duts', 'DUTS-TR-Image'), { recursive: true });
  mkdirSync(join(root, 'duts', 'DUTS-TR-Mask'), { recursive: true });
  for (let s = 0; s < 5; s++) {
    writeFileSync(join(root, 'duts', 'DUTS-TR-Image', `im${s}.png`), encodePng(pattern(s, 0), W, H, 3));
    writeFileSync(
      join(root, 'duts', 'DUTS-TR-Mask', `im${s}.png`),
      encodePng(
        Uint8Array.from({ length: W * H }, (_, i) => (i % W < 3 ? 255 : 0)),
        W,
        H,
        1,
      ),
    );
  }
  // a class folder with one truncated file
  mkdirSync(join(root, 'bad', 'a'), { recursive: true });
  for (let f = 0; f < 3; f++) writeFileSync(join(root, 'bad', 'a', `ok${f}.png`), encodePng(pattern(0, f), W, H, 3));
  writeFileSync(join(root, 'bad', 'a', 'broken.png'), encodePng(pattern(0, 9), W, H, 3).subarray(0, 40));
  // mixed sizes without a size option
  mkdirSync(join(root, 'mixed', 'a'), { recursive: true });
  writeFileSync(join(root, 'mixed', 'a', '1.png'), encodePng(pattern(0, 0), W, H, 3));
  writeFileSync(join(root, 'mixed', 'a', '2.png'), encodePng(new Uint8Array(4 * 4 * 3), 4, 4, 3));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('datasets', () => {
  it('imageFolder: sorted classes, labels, pixels', async () => {
    const ds = imageFolder(join(root, 'folder'));
    expect(ds.classes).toEqual(['ant', 'cat', 'dog']);
    expect(ds.classToIndex).toEqual({ ant: 0, cat: 1, dog: 2 });
    expect(JSON.parse(JSON.stringify(ds.classToIndex))).toEqual(ds.classToIndex);
    expect(ds.length).toBe(5 + 6 + 4);
    expect([...ds.labels]).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
    const s = await ds.get(0); // ant/p0.png, written as class index 1 of ['dog', 'ant', 'cat']
    expect(s.label).toBe(0);
    expect([s.image.channels, s.image.height, s.image.width]).toEqual([3, H, W]);
    const px = pattern(1, 0);
    expect(s.image.data[0]).toBeCloseTo(px[0] / 255, 6); // R of pixel 0
    expect(s.image.data[H * W + 1]).toBeCloseTo(px[4] / 255, 6); // G of pixel 1
    const jpg = await ds.get(4); // ant/q.jpg
    expect(jpg.image.data[0]).toBeGreaterThan(0.7);
    const resized = await imageFolder(join(root, 'folder'), { size: [3, 4] }).get(0);
    expect([resized.image.height, resized.image.width]).toEqual([3, 4]);
    expect(() => imageFolder(join(root, 'nope'))).toThrow(/cannot list .*nope/);
  });

  it('sodDataset wraps the DUTS layout; arrayDataset and subset index together', async () => {
    const ds = sodDataset(join(root, 'duts'), { split: 'train', heldOutFraction: 0.2 });
    expect(ds.length).toBe(4);
    expect(ds.stems).toEqual(['im0', 'im1', 'im2', 'im3']);
    const s = await ds.get(1);
    expect([s.mask!.channels, s.mask!.height, s.mask!.width]).toEqual([1, H, W]);
    expect([s.mask!.data[0], s.mask!.data[5]]).toEqual([1, 0]);
    const arr = arrayDataset({ data: Float32Array.from({ length: 4 * 2 }, (_, i) => i), shape: [4, 2, 1, 1] }, [3, 1, 4, 1]);
    const sub = subset(arr, [2, 0]);
    expect((await sub.get(0)).label).toBe(4);
    expect([...(await sub.get(1)).image.data]).toEqual([0, 1]);
    expect(() => arrayDataset({ data: new Float32Array(8), shape: [4, 2, 1, 1] }, [1, 2])).toThrow(/labels.*2 entries/);
  });
});

describe('loader', () => {
  const arr = arrayDataset(
    { data: Float32Array.from({ length: 10 }, (_, i) => i), shape: [10, 1, 1, 1] },
    Array.from({ length: 10 }, (_, i) => i % 3),
  );

  it('shuffles per epoch from its key, batches, drops the last partial batch on request', async () => {
    const key = random.key(4);
    const l = loader(arr, { batchSize: 4, shuffle: true, key });
    expect(l.length).toBe(3);
    const seen: number[] = [];
    const sizes: number[] = [];
    for await (const b of l.epoch(0)) {
      expect(b.images.shape.slice(1)).toEqual([1, 1, 1]);
      expect(b.labels!.dtype).toBe('int32');
      const v = [...(await b.images.data())],
        lab = [...(await b.labels!.data())];
      expect(v).toEqual([...b.indices]);
      expect(lab).toEqual(v.map((i) => i % 3));
      seen.push(...v);
      sizes.push(v.length);
      b.dispose();
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen).toEqual([...permutation(random.foldIn(key, 0), 10)]);
    expect([...l.order(1)]).not.toEqual(seen);
    expect([...loader(arr, { batchSize: 4, shuffle: true, key }).order(1)]).toEqual([...l.order(1)]);
    const d = loader(arr, { batchSize: 4, dropLast: true });
    expect(d.length).toBe(2);
    const it2 = d.epoch(0);
    const first = (await it2.next()).value!;
    expect([...first.indices]).toEqual([0, 1, 2, 3]);
    first.dispose();
    await it2.return(undefined); // an early stop leaves nothing dangling
    expect(() => loader(arr, { batchSize: 4, shuffle: true })).toThrow(/key/);
    expect(() => loader(arr, { batchSize: 0 })).toThrow(/batchSize/);
  });

  it('decodes on worker threads: the same batches as in-thread, errors name the file', async () => {
    const ds = imageFolder(join(root, 'folder'));
    const key = random.key(1);
    const workers = decodeWorkers(2);
    try {
      const a = loader(ds, { batchSize: 4, shuffle: true, key, runner: workers, prefetch: 3 });
      const b = loader(ds, { batchSize: 4, shuffle: true, key });
      for (let k = 0; k < a.length; k++) {
        const [x, y]: HostBatch[] = [await a.hostBatch(2, k), await b.hostBatch(2, k)];
        expect(x.images).toEqual(y.images);
        expect(x.labels).toEqual(y.labels);
        expect(x.imageShape).toEqual(y.imageShape);
      }
      let n = 0;
      for await (const batch of a.epoch(0)) {
        n += batch.images.shape[0];
        batch.dispose();
      }
      expect(n).toBe(ds.length);
      const bad = imageFolder(join(root, 'bad'));
      const run = async (l: ReturnType<typeof loader>) => {
        for await (const batch of l.epoch(0)) batch.dispose();
      };
      await expect(run(loader(bad, { batchSize: 2, runner: workers, onError: 'raise' }))).rejects.toThrow(/broken\.png.*(corrupt or truncated|PNG)/);
      await expect(run(loader(bad, { batchSize: 2, onError: 'raise' }))).rejects.toThrow(/broken\.png.*(corrupt or truncated|PNG)/);
      // the default skips it, with one warning and a count, on worker threads and in this thread alike
      for (const runner of [workers, undefined]) {
        const warnings: string[] = [];
        const l = loader(bad, { batchSize: 2, runner, warn: (m) => warnings.push(m) });
        const seen: number[] = [];
        for (let e = 0; e < 2; e++)
          for await (const batch of l.epoch(e)) {
            seen.push(...batch.indices);
            batch.dispose();
          }
        expect(seen).toEqual([1, 2, 3, 1, 2, 3]); // broken.png sorts first: index 0
        expect(l.skipped.length).toBe(1);
        expect(l.skipped[0]).toMatchObject({ index: 0, file: join(root, 'bad', 'a', 'broken.png') });
        expect(warnings.length).toBe(1); // once, not once per epoch
        expect(warnings[0]).toMatch(
          /^loader: skipping sample 0: .*broken\.png.*corrupt or truncated PNG.*\[1 skipped so far; onError: 'raise' stops instead\]$/,
        );
      }
      // the pool survives a decode error
      expect((await a.hostBatch(0, 0)).images.length).toBe(4 * 3 * H * W);
      await expect(run(loader(imageFolder(join(root, 'mixed')), { batchSize: 2 }))).rejects.toThrow(/2\.png.*3×4×4.*size option/);
    } finally {
      await workers.close();
    }
  });

  it('DUTS folders: images without a mask are reported at start-up; a corrupt pair is skipped with a count', () => {
    const d = join(root, 'duts-gaps');
    mkdirSync(join(d, 'DUTS-TR-Image'), { recursive: true });
    mkdirSync(join(d, 'DUTS-TR-Mask'), { recursive: true });
    const mask = encodePng(new Uint8Array(W * H).fill(255), W, H, 1);
    for (let s = 0; s < 4; s++) {
      writeFileSync(join(d, 'DUTS-TR-Image', `im${s}.png`), s === 1 ? encodePng(pattern(s, 0), W, H, 3).subarray(0, 50) : encodePng(pattern(s, 0), W, H, 3));
      writeFileSync(join(d, 'DUTS-TR-Mask', `im${s}.png`), mask);
    }
    writeFileSync(join(d, 'DUTS-TR-Image', 'lonely.png'), encodePng(pattern(9, 0), W, H, 3));
    writeFileSync(join(d, 'DUTS-TR-Mask', 'orphan.png'), mask);
    const warnings: string[] = [];
    const ds = sodDataset(d, { warn: (m) => warnings.push(m) });
    expect(ds.length).toBe(4);
    expect(ds.unmatched.imagesWithoutMask).toEqual([join(d, 'DUTS-TR-Image', 'lonely.png')]);
    expect(ds.unmatched.masksWithoutImage).toEqual([join(d, 'DUTS-TR-Mask', 'orphan.png')]);
    expect(warnings).toEqual([`sod folder '${d}': 1 image(s) without a mask: lonely.png; 1 mask(s) without an image: orphan.png; left out, 4 pairs used`]);
    expect(() => sodDataset(d, { onError: 'raise' })).toThrow(/sod folder .*1 image\(s\) without a mask: lonely\.png.*\(onError: 'skip' leaves them out\)/);
    // loadSodFolder (the training example's reader): the corrupt pair im1 is skipped, the next one stands in
    const w2: string[] = [];
    const f = loadSodFolder(d, 4, 0.25, { warn: (m) => w2.push(m) });
    expect(f.count).toBe(3);
    const a = f.train(1),
      b = f.train(2);
    expect(a.image).toEqual(b.image);
    expect(f.skipped.map((x) => x.stem)).toEqual(['im1']);
    expect(f.unmatched.imagesWithoutMask.length).toBe(1);
    expect(w2[1]).toMatch(/^loadSodFolder: skipping 'im1': .*im1\.png: corrupt or truncated PNG.*\[1 skipped so far/);
    expect(() => loadSodFolder(d, 4, 0.25, { onError: 'raise', warn: () => {} })).toThrow(/lonely/);
  });

  it('DUTS batches carry masks that augmentGeometry moves with the images', async () => {
    const l = loader(sodDataset(join(root, 'duts')), { batchSize: 5 });
    const b = await l.batch(0, 0);
    expect(b.images.shape).toEqual([5, 3, H, W]);
    expect(b.masks!.shape).toEqual([5, 1, H, W]);
    const out = augmentGeometry({ image: b.images, mask: b.masks }, random.key(0), { size: [H, W], hflip: 1 });
    const m = await out.mask!.data();
    expect([m[0], m[W - 1]]).toEqual([0, 1]); // columns 0–2 were 1; flipped they are columns 3–5
    b.dispose();
    out.image.dispose();
    out.mask!.dispose();
  });

  it('loadSodFolder still reads the DUTS layout through sodPairs', () => {
    const f = loadSodFolder(join(root, 'duts'), 4, 0.2);
    expect([f.count, f.heldOutCount]).toEqual([4, 1]);
    expect(f.train(0).image.length).toBe(3 * 16);
  });

  it('trains from a folder: imageFolder → loader (workers) → GPU augmentation → model step', async () => {
    const ds = imageFolder(join(root, 'folder'), { size: 8 });
    const workers = decodeWorkers(2);
    const data = loader(ds, { batchSize: 4, shuffle: true, key: random.key(0), dropLast: true, runner: workers });
    const model = sequential(
      lambda((x) => reshape(x, [x.shape[0], -1])),
      linear({ inFeatures: 3 * 6 * 6, outFeatures: ds.classes.length }),
    );
    let { params } = model.init(random.key(1));
    const opt = optim.sgd({ lr: 0.1 });
    let state = opt.init(params);
    const lossOf = (p: typeof params, x: Tensor, y: Tensor) => crossEntropy(model.apply(p, {}, x, { training: true }).y, y);
    const losses: number[] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      const augKey = random.foldIn(random.key(2), epoch);
      for await (const b of data.epoch(epoch)) {
        const k = random.foldIn(augKey, b.index);
        const r = tidy(() => {
          const g = augmentGeometry({ image: b.images }, k, { size: 6, crop: 'resizedCrop', hflip: 0.5 }).image;
          const x = normalize(colorJitter(g, random.foldIn(k, 1), { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.05 }));
          const [loss, grads] = valueAndGrad(lossOf)(params, x, b.labels!);
          const u = opt.update(grads, state, params, { donate: true });
          return { loss, params: u.params, state: u.state };
        });
        ({ params, state } = r);
        const loss = r.loss;
        losses.push(await loss.item());
        loss.dispose();
        b.dispose();
      }
    }
    await data.close();
    expect(losses.length).toBe(2 * Math.floor(ds.length / 4));
    expect(losses.every(Number.isFinite)).toBe(true);
  });
});
