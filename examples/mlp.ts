/** `npm run example`: trains the small MLP of mlp-core.ts on Node and prints the loss per step. */
import { init } from '../src/node';
import { trainMLP } from './mlp-core';

const device = await init();
console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || device.label}`);
const losses = await trainMLP({ log: (i, l) => console.log(`step ${String(i + 1).padStart(2)}  loss ${l.toFixed(5)}`) });
console.log(`loss ${losses[0].toFixed(5)} → ${losses[losses.length - 1].toFixed(5)}`);
device.destroy();
