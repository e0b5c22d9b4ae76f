import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../../src/io/files';
import { HostTensor, hostValues } from '../../src/formats/host-tensor';
import { tensor } from '../../src/tensor/ops/creation';

const dir = mkdtempSync(join(tmpdir(), 'webgrad-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('safetensors files (Node)', () => {
  it('saves a param tree by dotted path and loads it back', async () => {
    const path = join(dir, 'model.safetensors');
    const params = {
      fc: {
        weight: tensor([
          [1, 2],
          [3, 4],
        ]),
        bias: tensor([0.5, -0.5]),
      },
      layers: [{ scale: new HostTensor('float64', [1], Float64Array.of(2.5)) }],
    };
    await saveSafetensors(path, params, { step: '10' });
    const { tensors, metadata } = await loadSafetensors(path);
    expect(metadata).toEqual({ step: '10' });
    expect(Object.keys(tensors).sort()).toEqual(['fc.bias', 'fc.weight', 'layers.0.scale']);
    expect(hostValues(tensors['fc.weight'])).toEqual([1, 2, 3, 4]);
    expect(tensors['layers.0.scale'].dtype).toBe('float64');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a write that fails midway leaves the previous file intact and no temp file', async () => {
    const path = join(dir, 'crash.safetensors');
    await saveSafetensors(path, { w: tensor([1, 2, 3]) });
    const before = readFileSync(path);
    const failing = {
      write: async (fh: import('node:fs/promises').FileHandle, data: Uint8Array) => {
        await fh.write(data, 0, data.length >> 1); // half the new file reaches the disk…
        throw new Error('simulated crash'); // …then the writer dies
      },
    };
    await expect(saveSafetensors(path, { w: tensor([9, 9, 9, 9, 9]) }, undefined, failing)).rejects.toThrow('simulated crash');
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(hostValues((await loadSafetensors(path)).tensors.w)).toEqual([1, 2, 3]);
    expect(readdirSync(dir).filter((f) => f.includes('crash') && f.endsWith('.tmp'))).toEqual([]);
  });

  it('a process killed mid-write leaves the previous file intact', () => {
    const path = join(dir, 'killed.bin');
    writeFileSync(path, 'old contents');
    const files = fileURLToPath(new URL('../../src/io/files.ts', import.meta.url));
    const script = join(dir, 'child.mts');
    writeFileSync(
      script,
      `
      import { writeFileAtomic } from ${JSON.stringify(files)};
      await writeFileAtomic(${JSON.stringify(path)}, new Uint8Array(1 << 20).fill(65), {
        write: async (fh, data) => { await fh.write(data, 0, 4096); await fh.sync(); process.kill(process.pid, 'SIGKILL'); },
      });
    `,
    );
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', cwd: root });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.signal).toBe('SIGKILL');
    expect(readFileSync(path, 'utf8')).toBe('old contents');
    // the orphaned temp file is partial; the target was never touched
    const tmp = readdirSync(dir).filter((f) => f.startsWith('.killed.bin.') && f.endsWith('.tmp'));
    expect(tmp.length).toBe(1);
    expect(readFileSync(join(dir, tmp[0])).length).toBe(4096);
  });

  it("the next write removes a killed writer's temp file, never a live writer's", async () => {
    const path = join(dir, 'killed.bin');
    const orphan = readdirSync(dir).filter((f) => f.startsWith('.killed.bin.') && f.endsWith('.tmp'));
    expect(orphan.length).toBe(1); // left by the test above (its process is gone)
    const live = join(dir, `.killed.bin.${process.pid}.zzlive.tmp`); // this process: alive
    const liveOld = join(dir, `.killed.bin.${process.pid}.zzold.tmp`); // alive but a day old
    const other = join(dir, `.killed.binary.99999999.zz.tmp`); // another target
    for (const f of [live, liveOld, other]) writeFileSync(f, 'x');
    const dayAgo = (Date.now() - 25 * 3600 * 1000) / 1000;
    utimesSync(liveOld, dayAgo, dayAgo);
    await writeFileAtomic(path, new Uint8Array([9]));
    const left = readdirSync(dir)
      .filter((f) => f.endsWith('.tmp'))
      .sort();
    expect(left).toEqual([`.killed.bin.${process.pid}.zzlive.tmp`, '.killed.binary.99999999.zz.tmp']);
    expect([...readFileSync(path)]).toEqual([9]);
    rmSync(live);
    rmSync(other);
  });

  it('writeFileAtomic replaces the target', async () => {
    const path = join(dir, 'x.bin');
    await writeFileAtomic(path, new Uint8Array([1, 2]));
    await writeFileAtomic(path, new Uint8Array([3]));
    expect([...readFileSync(path)]).toEqual([3]);
    expect(existsSync(path)).toBe(true);
  });
});
