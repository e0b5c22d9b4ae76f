/** `webgrad train-u2net --replay` trains bit for bit like the eager run (same checkpoint bytes), and refuses several devices. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ownLines, runCli } from '../cli/run-cli';

const dir = mkdtempSync(join(tmpdir(), 'webgrad-replay-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RUN = ['train-u2net', '--size', '32', '--crop', '32', '--batch', '2', '--eval-count', '2', '--iters', '3', '--eval-every', '0', '--ckpt-every', '0'];

it('--replay writes the same last checkpoint as the eager run', () => {
  const eager = runCli([...RUN, '--out', join(dir, 'eager')], 200_000);
  expect(eager.status, eager.stderr).toBe(0);
  const replay = runCli([...RUN, '--replay', '--out', join(dir, 'replay')], 200_000);
  expect(replay.status, replay.stderr).toBe(0);
  expect(readFileSync(join(dir, 'replay', 'last.safetensors')).equals(readFileSync(join(dir, 'eager', 'last.safetensors')))).toBe(true);
}, 400_000);

it('--replay with several devices: one line, exit 2', () => {
  const r = runCli(['train-u2net', '--replay', '--devices', '2', '--out', join(dir, 'x')]);
  expect(r.status, r.stderr).toBe(2);
  expect(ownLines(r.stderr)).toEqual([expect.stringMatching(/^webgrad train-u2net: --replay runs on one device; --devices asks for 2/)]);
});
