#!/usr/bin/env node
/** The `webgrad` bin (dist/cli.js): `webgrad <command> [options]`; in a checkout, `npx tsx src/cli/bin.ts …`. */
import { main } from './main';

const code = await main(process.argv.slice(2));
// Dawn keeps the event loop alive: leave once stdout and stderr have drained
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
