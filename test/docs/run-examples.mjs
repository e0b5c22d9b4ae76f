// Imports the example modules listed in DIR/manifest.json ([{ where, file }]) one after another in this
// process (run with `node --import tsx`), and prints one line per failure and a summary line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2];
const examples = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const failed = [];
for (const { where, file } of examples) {
  try {
    await import(pathToFileURL(join(dir, file)).href);
  } catch (e) {
    failed.push(`${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
console.log(`doc-examples: ${examples.length - failed.length}/${examples.length} ran`);
for (const f of failed) console.log(`doc-examples FAILED ${f}`);
process.exit(failed.length ? 1 : 0);
