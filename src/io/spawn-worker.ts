/** Starting a worker thread whose entry sits beside the caller, from the built package or from TypeScript sources. */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * A worker running `builtEntry` (resolved against `callerUrl`, the caller's import.meta.url) in the built package,
 * or `sourceEntry` through tsx's ESM hooks when the caller itself runs from TypeScript (tsx, vitest).
 */
export function spawnWorker(callerUrl: string, builtEntry: string, sourceEntry: string, who: string): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(builtEntry, callerUrl));
  const entry = new URL(sourceEntry, callerUrl).href;
  let api: string;
  try {
    api = pathToFileURL(
      createRequire(fileURLToPath(callerUrl))
        .resolve('tsx/esm/api')
        .replace(/\.cjs$/, '.mjs'),
    ).href;
  } catch {
    throw new Error(`${who}: running from TypeScript sources needs the tsx package to load the worker (or use the built package)`);
  }
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
}
