/**
 * Dawn's two "maxDynamic{Uniform,Storage}BuffersPerPipelineLayout artificially reduced" notices.
 *
 * Dawn clamps the limits a Vulkan driver reports (lavapipe and most GPUs report far more dynamic buffers than
 * Dawn can address) and says so with a warning written from native code straight to file descriptor 2, during
 * the first `requestAdapter` of an instance. No option, toggle or requested limit turns it off (the clamp
 * happens before any device is requested). So, on Linux, that one synchronous native call runs with fd 2
 * pointing at a temporary file; afterwards fd 2 is put back and whatever else Dawn wrote there (real driver
 * errors) is passed on to stderr. Elsewhere, or if stderr cannot be reopened, the call runs untouched.
 */
import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NOTICE =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;

/** Drops Dawn's limit-clamping notices from text written to stderr; keeps every other line. */
export function withoutLimitNotices(text: string): string {
  return text
    .split('\n')
    .filter((line) => !NOTICE.test(line))
    .join('\n');
}

/** Runs `fn` (synchronous native code) with fd 2 captured, then writes what it printed, minus Dawn's notices, to stderr. */
export function filterDawnNotices<T>(fn: () => T): T {
  if (process.platform !== 'linux') return fn();
  let saved = -1,
    capture = -1;
  const path = join(tmpdir(), `webgrad-dawn-${process.pid}-${Date.now().toString(36)}.log`);
  try {
    saved = openSync('/proc/self/fd/2', 'a'); // a second handle on the real stderr (pipe, tty or file)
    capture = openSync(path, 'w+');
  } catch {
    if (saved >= 0) closeSync(saved);
    return fn();
  }
  let redirected = false;
  try {
    closeSync(2);
    const fd = openSync(path, 'a'); // lowest free descriptor: 2
    redirected = fd === 2;
    // another thread took descriptor 2 in between: it is theirs now, leave it (Dawn's lines go there)
    if (!redirected) closeSync(fd);
    return fn();
  } finally {
    if (redirected) restore(saved);
    closeSync(saved);
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      /* nothing written */
    }
    closeSync(capture);
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
    const rest = withoutLimitNotices(text);
    if (rest.trim()) process.stderr.write(rest.endsWith('\n') ? rest : `${rest}\n`);
  }
}

/** Points fd 2 back at the real stderr (`saved` is a handle on it). */
function restore(saved: number): void {
  try {
    closeSync(2);
  } catch {
    /* already closed */
  }
  openSync(`/proc/self/fd/${saved}`, 'a'); // lowest free descriptor: 2 again
}
