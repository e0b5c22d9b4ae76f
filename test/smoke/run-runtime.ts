/** Runs a smoke-test runner script in a child process and parses the JSON on its last stdout line. */
import { spawnSync } from 'node:child_process';

export interface RunnerResult {
  losses?: number[];
  adapter?: string;
  error?: string;
}

export function runRunner(cmd: string, args: string[], timeoutMs = 170_000): RunnerResult {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', NO_COLOR: '1' },
  });
  const out = (r.stdout ?? '').trim().split('\n');
  const last = out[out.length - 1] ?? '';
  if (last.startsWith('{')) return JSON.parse(last);
  return {
    error: `${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
  };
}
