/** Runs the `webgrad` command from the sources (tsx), as a user would run the built bin. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export function runCli(args: string[], timeout = 110_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'src/cli/bin.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr without Dawn's adapter warnings (not ours to print) */
export const ownLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l && !/^Warning: /.test(l) && !/^device: /.test(l));
