/** scripts/ensure-chromium.mjs: where the Chromium smoke test finds its browser, and when `npm test` installs one. */
import { describe, it, expect } from 'vitest';
import { findChromium, whenMissing } from '../../scripts/ensure-chromium.mjs';

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n';
const UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n';
const has =
  (...paths: string[]) =>
  (p: string) =>
    paths.includes(p);

describe('ensure-chromium', () => {
  it('finds CHROMIUM_PATH, then /usr/bin/chromium, then a browser on PATH', () => {
    expect(findChromium({ CHROMIUM_PATH: '/opt/c/chrome', PATH: '/usr/bin' }, has('/opt/c/chrome', '/usr/bin/chromium'))).toBe('/opt/c/chrome');
    expect(findChromium({ CHROMIUM_PATH: '/nope', PATH: '/usr/bin' }, has('/usr/bin/chromium'))).toBeNull(); // a given path is the only candidate
    expect(findChromium({ PATH: '/usr/local/bin' }, has('/usr/bin/chromium'))).toBe('/usr/bin/chromium');
    expect(findChromium({ PATH: '/a:/usr/local/bin' }, has('/usr/local/bin/google-chrome'))).toBe('/usr/local/bin/google-chrome');
    expect(findChromium({ PATH: '/a' }, has())).toBeNull();
  });

  it("installs Debian's chromium only on Debian as root; elsewhere says what to install", () => {
    expect(whenMissing({ env: {}, platform: 'linux', osRelease: DEBIAN, uid: 0 })).toEqual({ install: ['apt-get', 'install', '-y', '-qq', 'chromium'] });
    for (const o of [
      { osRelease: DEBIAN, uid: 1000 },
      { osRelease: UBUNTU, uid: 0 },
      { osRelease: '', uid: 0 },
    ]) {
      const plan = whenMissing({ env: {}, platform: 'linux', ...o });
      expect(plan.install).toBeUndefined();
      expect(plan.help).toMatch(/apt-get install -y chromium/);
      expect(plan.help).toMatch(/CHROMIUM_PATH/);
    }
    expect(whenMissing({ env: {}, platform: 'darwin', osRelease: '', uid: 0 }).install).toBeUndefined();
    expect(whenMissing({ env: { CHROMIUM_PATH: '/x/chrome' }, platform: 'linux', osRelease: DEBIAN, uid: 0 }).help).toMatch(
      /CHROMIUM_PATH is \/x\/chrome, which does not exist/,
    );
  });
});
