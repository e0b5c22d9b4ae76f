/**
 * SAM's image encoder forward (vit_b by default) at its full input size (1024²) with random weights: time per
 * forward (the first call, which builds the pipelines, separately from the median of the rest) and peak memory:
 * the process's peak RSS (`process.resourceUsage().maxRSS`; under lavapipe the device's buffers are host memory
 * too) and the device pool's high-water mark (`memory().peakBytes`) over the weights and during the forward.
 * Inference only (no gradient trace); each forward's intermediates freed by `tidy`.
 *
 * `--img-size` overrides the input size (a multiple of 16; e.g. 256 for a quick check of the script).
 *
 *   npx tsx bench/sam-encoder.ts [--model vit_b] [--runs 3] [--batch 1] [--img-size 1024]
 */
import { init, memory, noGrad, random, randn, tidy } from '../src/node';
import { sam, samConfig, type SamName } from '../src/sam';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const model = arg('model', 'vit_b') as SamName;
const runs = Math.max(1, Number(arg('runs', '3')));
const batch = Math.max(1, Number(arg('batch', '1')));
const MiB = (b: number) => (b / 2 ** 20).toFixed(0);

const device = await init();
const rssStart = process.memoryUsage().rss;
const imgSize = process.argv.includes('--img-size') ? Number(arg('img-size', '1024')) : undefined;
const net = sam(imgSize ? samConfig(model, { encoder: { imgSize } }) : model);
const S = net.config.encoder.imgSize;
const t0 = performance.now();
const { params, state } = net.init(random.key(0), { device });
const x = randn(random.key(1), [batch, 3, S, S], { device });
await x.data();
const initMs = performance.now() - t0;
const weights = memory(device).liveBytes;
device.pool.resetPeak();

const times: number[] = [];
let outShape: number[] = [];
for (let r = 0; r < runs + 1; r++) {
  const t = performance.now();
  const y = noGrad(() => tidy(() => net.imageEncoder(params.image_encoder, x)));
  await y.data();
  times.push(performance.now() - t);
  outShape = y.shape.slice();
  y.dispose();
}
const m = memory(device);
const rest = times.slice(1).sort((a, b) => a - b);
const median = rest[Math.floor(rest.length / 2)];
const info = device.adapterInfo ? `${device.adapterInfo.vendor} ${device.adapterInfo.architecture} ${device.adapterInfo.description}`.trim() : 'WebGPU';

console.log(`SAM ${model} image encoder, input [${batch}, 3, ${S}, ${S}] → [${outShape.join(', ')}], random weights (${info}, node ${process.version})\n`);
console.log('| figure | value |');
console.log('|---|---:|');
console.log(`| init (weights on device + input) ms | ${initMs.toFixed(0)} |`);
console.log(`| first forward ms (builds pipelines) | ${times[0].toFixed(0)} |`);
console.log(`| median forward ms (${rest.length} runs) | ${median.toFixed(0)} |`);
console.log(`| weights + input on device MiB | ${MiB(weights)} |`);
console.log(`| device pool high-water during forwards MiB | ${MiB(m.peakBytes)} |`);
console.log(`| … of which activations MiB | ${MiB(m.peakBytes - weights)} |`);
console.log(`| peak RSS MiB | ${MiB(process.resourceUsage().maxRSS * 1024)} |`);
console.log(`| RSS after init() MiB | ${MiB(rssStart)} |`);
console.log(`| live tensors after the runs (weights, state, input) | ${m.liveTensors} |`);
void state;
