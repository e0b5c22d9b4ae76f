/**
 * Up-front checks of the CLIs' input and output paths, so that a bad path is one line (exit 2) before
 * any model is loaded or any image is processed, rather than a stack trace at the first write.
 */
import { accessSync, constants, mkdirSync, statSync, rmSync, writeFileSync } from 'node:fs';
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
  try { isDir = statSync(file).isDirectory(); } catch { /* absent: fine */ }
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
  try { st = statSync(file); } catch (e) { throw new UsageError(`${flag} '${file}': cannot read (${code(e)})`); }
  if (!st.isFile()) throw new UsageError(`${flag} '${file}' is not a file`);
  try { accessSync(file, constants.R_OK); } catch (e) { throw new UsageError(`${flag} '${file}': cannot read (${code(e)})`); }
  return file;
}

/** An input folder given by a flag must exist and be a folder. */
export function checkInputDir(flag: string, dir: string): string {
  let st;
  try { st = statSync(dir); } catch (e) { throw new UsageError(`${flag} '${dir}': cannot read (${code(e)})`); }
  if (!st.isDirectory()) throw new UsageError(`${flag} '${dir}' is not a folder`);
  return dir;
}
