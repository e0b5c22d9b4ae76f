/**
 * Fetching published files from npm packages into a local cache (Node only): `npm pack` downloads the
 * tarball (npm's own cache and registry settings apply), the tar is read in memory and the caller checks
 * each file's sha256 before using it. Shared by the pretrained U²-NetP and ResNet-50 weights.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readTar } from '../formats/tar';

/** The download cache: `$WEBGRAD_CACHE`, or `.cache/webgrad` in the working directory. */
export const defaultCacheDir = (): string => resolve(process.env.WEBGRAD_CACHE || join('.cache', 'webgrad'));

/** Hex sha256 of some bytes. */
export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Runs `npm pack spec` into `dest`; the error says the registry may be unreachable. */
export function npmPack(spec: string, dest: string): Promise<void> {
  return new Promise((res, rej) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    execFile(
      npm,
      ['pack', spec, '--pack-destination', dest, '--silent'],
      { shell: process.platform === 'win32', timeout: 300_000, maxBuffer: 16 << 20 },
      (err, _stdout, stderr) => {
        if (err)
          rej(new Error(`npm pack ${spec} failed (is the npm registry reachable?): ${(stderr || err.message).trim().split('\n').slice(-3).join(' | ')}`));
        else res();
      },
    );
  });
}

/**
 * The files of an npm package's tarball by path (`package/…`), fetched with `npm pack` into a temporary folder
 * under `cacheDir` that is removed afterwards.
 */
export async function npmPackageFiles(spec: string, cacheDir: string): Promise<Map<string, Uint8Array>> {
  await mkdir(cacheDir, { recursive: true });
  const tmp = await mkdtemp(join(cacheDir, '.pack-'));
  try {
    await npmPack(spec, tmp);
    const tgz = (await readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${spec} produced no tarball in ${tmp}`);
    return readTar(gunzipSync(await readFile(join(tmp, tgz))));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
