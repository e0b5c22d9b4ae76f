/** Deno runner for the MLP smoke test: navigator.gpu is built into Deno 2. Prints JSON losses on the last line. */
import { init } from '../../src/index';
import { trainMLP } from '../../examples/mlp-core';

const device = await init();
const losses = await trainMLP();
console.log(JSON.stringify({ runtime: 'deno', adapter: device.adapterInfo?.description ?? '', losses }));
device.destroy();
