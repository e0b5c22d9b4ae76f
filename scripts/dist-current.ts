/** Whether dist/ is current: every named build output exists and is newer than src/, package.json and tsup.config.ts. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

export function distIsCurrent(root: string, outputs: readonly string[]): boolean {
  try {
    const built = Math.min(...outputs.map((f) => statSync(join(root, 'dist', f)).mtimeMs));
    const inputs = Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'package.json')).mtimeMs, statSync(join(root, 'tsup.config.ts')).mtimeMs);
    return built >= inputs;
  } catch {
    return false; // an output is missing
  }
}
