/** The CLIs' option parser: types from defaults, choices and ranges refused up front with one line. */
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError, HelpShown, helpText } from '../../src/cli/args';

const SPEC = {
  model: { default: 'a', help: 'model', choices: ['a', 'b'] },
  lr: { default: 0.1, help: 'rate', min: 0, minExclusive: true },
  batch: { default: 2, help: 'batch', int: true, min: 1, max: 64 },
  panel: { default: false, help: 'flag' },
  out: { default: 'x', help: 'folder' },
} as const;
const parse = (...argv: string[]) => parseArgs(argv, SPEC, 'usage: t');
const refuse = (argv: string[], msg: string) => expect(() => parse(...argv)).toThrow(new UsageError(msg));

describe('parseArgs', () => {
  it('reads defaults, --name value, --name=value, flags and positionals', () => {
    expect(parse()).toEqual({ _: [], model: 'a', lr: 0.1, batch: 2, panel: false, out: 'x' });
    expect(parse('--model', 'b', '--lr=1e-3', '--batch', '8', '--panel', 'in.png', '--out=a=b')).toEqual({
      _: ['in.png'],
      model: 'b',
      lr: 1e-3,
      batch: 8,
      panel: true,
      out: 'a=b',
    });
    expect(parse('--panel=false', '--', '--not-an-option')).toMatchObject({ panel: false, _: ['--not-an-option'] });
  });
  it('refuses bad values with the option, what it got and what it expects', () => {
    refuse(['--lr', 'abc'], "--lr must be a number > 0; got 'abc'");
    refuse(['--lr', '0'], '--lr must be a number > 0; got 0');
    refuse(['--lr', ''], "--lr must be a number > 0; got ''");
    refuse(['--batch', '0'], '--batch must be an integer in [1, 64]; got 0');
    refuse(['--batch', '2.5'], '--batch must be an integer in [1, 64]; got 2.5');
    refuse(['--batch', '65'], '--batch must be an integer in [1, 64]; got 65');
    refuse(['--model', 'c'], "--model must be a or b; got 'c'");
    refuse(['--panel=yes'], "--panel is a flag (true or false); got 'yes'");
    refuse(['--out'], '--out needs a value');
    refuse(['--frob', '1'], 'unknown option --frob; known: --model --lr --batch --panel --out');
    refuse(['--constructor', '1'], 'unknown option --constructor; known: --model --lr --batch --panel --out');
  });
  it('--help prints the options with choices and defaults, then stops the command', () => {
    expect(() => parse('--help')).toThrow(HelpShown);
    const text = helpText(SPEC, 'usage: t');
    expect(text).toContain('--model          model [a|b] (default: "a")');
    expect(text).toContain('--panel          flag\n');
  });
});
