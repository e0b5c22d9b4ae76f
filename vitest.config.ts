import { defineConfig } from 'vitest/config';
import { withoutLimitNotices } from './src/io/dawn-notices';

// Test workers write stderr to a socket, which src/io/dawn-notices.ts cannot reopen, so Dawn's two limit
// notices would arrive here once per test file: drop them where the workers' stderr is printed.
const writeStderr = process.stderr.write.bind(process.stderr) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return writeStderr(text.includes('artificially reduced') ? withoutLimitNotices(text) : chunk, ...rest);
}) as typeof process.stderr.write;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    // one WebGPU device per process; lavapipe already uses every core, so files run one at a time
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
