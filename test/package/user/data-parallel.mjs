// Data parallelism from the installed package: 2 devices in worker threads (the built dp-worker entry) must give
// the parameters that 2 devices in this thread give, bit for bit.
import { init } from '@webgrad/core/node';
import { dataParallel } from '@webgrad/core/parallel';

await init();
const x = Float32Array.from({ length: 8 * 6 }, (_, i) => Math.sin(i));
const y = Float32Array.from({ length: 8 * 2 }, (_, i) => Math.cos(i));
const result = {};
for (const threads of [false, true]) {
  const dp = await dataParallel({ replica: new URL('./dp-replica.mjs', import.meta.url), devices: 2, threads, seed: 1 });
  let loss = 0;
  for (let s = 0; s < 3; s++) loss = (await dp.step({ x: { data: x, shape: [8, 6] }, y: { data: y, shape: [8, 2] } })).loss;
  const snap = await dp.snapshot();
  result[threads] = { loss, w: Array.from(await snap.params.w.data()) };
  await dp.close();
}
const same = JSON.stringify(result.true) === JSON.stringify(result.false);
console.log(`data parallel: loss ${result.true.loss.toFixed(4)}; worker threads ${same ? 'equal' : 'differ from'} one thread`);
process.exit(same ? 0 : 1);
