// Writes the CLI page of the API reference (docs/.generated/cli.md) from the commands' own --help text,
// so the page cannot drift from the code. Run by `npm run docs` before TypeDoc.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

const help = (...args) => execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args, '--help'], { encoding: 'utf8' }).trimEnd();

const top = help();
const commands = [...top.matchAll(/^ {2}([a-z][a-z0-9-]*) {2,}/gm)].map((m) => m[1]);
if (commands.length === 0) throw new Error('cli-reference: found no commands in `webgrad --help`');

const block = (text) => ['```text', text, '```', ''];
const lines = [
  '---',
  'title: CLI',
  '---',
  '# The `webgrad` command',
  '',
  'Installed as `webgrad` with the package (`npx webgrad <command>`); in a checkout, `npm run webgrad -- <command>`.',
  "Each section below is the command's own `--help` output. A bad command line prints one line and exits with code 2.",
  '',
  ...block(top),
];
for (const c of commands) lines.push(`## webgrad ${c}`, '', ...block(help(c)));
mkdirSync('docs/.generated', { recursive: true });
writeFileSync('docs/.generated/cli.md', lines.join('\n'));
console.log(`cli-reference: wrote docs/.generated/cli.md (${commands.length} commands)`);
