/**
 * One U²-Net training step (forward, 7-map BCE, backward, Adam; training-mode BatchNorm) at a batch whose
 * activations pass the adapter's largest storage binding, so ops split their work (issue 17): seconds per step
 * and peak memory (the buffer pool's peak live bytes, and the process's peak resident set, which on a CPU
 * adapter such as lavapipe holds the GPU memory too).
 *
 * `npx tsx bench/u2net-split-step.ts [u2netp|u2net] [batch=12] [crop=288] [steps=2]`; SPLIT_CAP=<bytes> lowers
 * the binding cap (Device.maxBindingSize) to try a smaller machine's limit.
 */
import { init, memory } from '../src/node';
import { u2net, type U2NetName } from '../src/models/u2net/model';
import { makeTrainer } from './suites/u2net';
import { splitCount } from '../src/tensor/ops/split';

const [name = 'u2netp', batchArg = '12', cropArg = '288', stepsArg = '2'] = process.argv.slice(2);
const batch = Number(batchArg),
  crop = Number(cropArg),
  steps = Number(stepsArg);
const device = await init();
if (process.env.SPLIT_CAP) device.maxBindingSize = Number(process.env.SPLIT_CAP);
const GiB = (b: number) => (b / 2 ** 30).toFixed(2);
console.log(`${name} batch ${batch} ${crop}²; binding cap ${device.maxBindingSize} bytes; largest 64-channel map ${batch * 64 * crop * crop * 4} bytes`);
const t = makeTrainer(batch, crop, u2net({ model: name as U2NetName }));
for (let i = 1; i <= steps; i++) {
  const before = splitCount.runs;
  const t0 = performance.now();
  t.step();
  await device.sync();
  const s = (performance.now() - t0) / 1000;
  console.log(
    `step ${i}: ${s.toFixed(1)} s; ops split ${splitCount.runs - before}; pool peak ${GiB(device.pool.snapshot.peakBytes)} GiB; live ${GiB(memory().liveBytes)} GiB; peak RSS ${GiB(process.resourceUsage().maxRSS * 1024)} GiB`,
  );
}
t.dispose();
device.destroy();
