/**
 * Up-front checks of the CLIs' input and output paths, so that a bad path is one line (exit 2) before
 * any model is loaded or any image is processed, rather than a stack trace at the first write.
 */
import { accessSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './args';

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** The closest existing ancestor of `path` (itself included), with its stat. */
function existingAncestor(path: string): { path: string; isDirectory: boolean } {
  let p = resolve(path);
  for (;;) {
    try {
      return { path: p, isDirectory: statSync(p).isDirectory() };
    } catch (e) {
      const c = (e as NodeJS.ErrnoException).code;
      if (c !== 'ENOENT' && c !== 'ENOTDIR') throw new UsageError(`cannot use '${path}' (${code(e)})`);
      const up = dirname(p);
      if (up === p) throw new UsageError(`cannot use '${path}' (no existing parent)`);
      p = up;
    }
  }
}

/**
 * `--out` as a folder: it must be a folder or creatable as one, and writable. Creates it (a write
 * probe is the only reliable writability test: access() ignores read-only mounts and ACLs on some systems).
 */
export function prepareOutDir(flag: string, dir: string): string {
  const anc = existingAncestor(dir);
  if (anc.path === resolve(dir) && !anc.isDirectory) throw new UsageError(`${flag} '${dir}' is a file, not a folder`);
  if (!anc.isDirectory) throw new UsageError(`${flag} '${dir}' is under a file ('${anc.path}'), not a folder`);
  try {
    // one level at a time from the existing ancestor: a recursive mkdir can spin on special filesystems (/proc)
    const missing: string[] = [];
    for (let p = resolve(dir); p !== anc.path; p = dirname(p)) missing.unshift(p);
    for (const p of missing) mkdirSync(p);
    const probe = join(dir, `.webgrad-write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (e) {
    throw new UsageError(`${flag} '${dir}' is not writable (${code(e)})`);
  }
  return dir;
}

/** `--out` as a file: not a folder, its folder creatable and writable. Creates the folder only. */
export function prepareOutFile(flag: string, file: string): string {
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch {
    /* absent: fine */
  }
  if (isDir) throw new UsageError(`${flag} '${file}' is a folder; give a file name`);
  const anc = existingAncestor(dirname(resolve(file)));
  if (!anc.isDirectory) throw new UsageError(`${flag} '${file}' is under a file ('${anc.path}'), not a folder`);
  prepareOutDir(flag, dirname(resolve(file)));
  try {
    accessSync(dirname(resolve(file)), constants.W_OK);
  } catch (e) {
    throw new UsageError(`${flag} '${file}': its folder is not writable (${code(e)})`);
  }
  return file;
}

/** An input file given by a flag must exist and be a file. */
export function checkInputFile(flag: string, file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new UsageError(`${flag} '${file}': cannot read (${code(e)})`);
  }
  if (!st.isFile()) throw new UsageError(`${flag} '${file}' is not a file`);
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw new UsageError(`${flag} '${file}': cannot read (${code(e)})`);
  }
  return file;
}

/** An input folder given by a flag must exist and be a folder. */
export function checkInputDir(flag: string, dir: string): string {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new UsageError(`${flag} '${dir}': cannot read (${code(e)})`);
  }
  if (!st.isDirectory()) throw new UsageError(`${flag} '${dir}' is not a folder`);
  return dir;
}

/**
 * The metadata of a safetensors file from its header alone (no tensor data read), so a wrong or
 * corrupt checkpoint is refused before the device opens. Throws a UsageError naming the flag.
 */
export function safetensorsMetadata(flag: string, file: string): Record<string, string> {
  const bad = (why: string): never => {
    throw new UsageError(`${flag} '${file}' is not a safetensors file (${why})`);
  };
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) bad(`${size} bytes`);
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    if (n < 2 || n > Math.min(size - 8, 100 * 2 ** 20)) bad(`header length ${n} in a file of ${size} bytes`);
    const head = Buffer.alloc(n);
    readSync(fd, head, 0, n, 8);
    let json: unknown;
    try {
      json = JSON.parse(head.toString('utf8'));
    } catch {
      bad('its header is not JSON');
    }
    if (!json || typeof json !== 'object') bad('its header is not a JSON object');
    return ((json as Record<string, unknown>).__metadata__ ?? {}) as Record<string, string>;
  } finally {
    closeSync(fd);
  }
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/** Inputs in order: files as given, folders' PNG/JPEG files sorted by name (not recursive). */
export function listInputs(paths: string[]): { files: string[]; errors: string[] } {
  const files: string[] = [],
    errors: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      errors.push(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    if (!st.isDirectory()) {
      files.push(p);
      continue;
    }
    const names = readdirSync(p)
      .filter((n) => !n.startsWith('.') && IMAGE_EXT.test(n))
      .sort();
    if (names.length === 0) errors.push(`${p}: no PNG or JPEG files in this folder`);
    for (const n of names) files.push(join(p, n));
  }
  return { files, errors };
}
