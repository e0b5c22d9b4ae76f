/** A minimal Node run for test/unit/dawn-notices.test.ts: open the device, run one op, then write to stderr. */
import { init, tensor, add } from '../../src/node';

await init();
const y = add(tensor([1, 2]), 1);
console.log(JSON.stringify([...(await y.data())]));
console.error('stderr still reaches the caller');
process.exit(0);
