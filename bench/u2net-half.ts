/**
 * U²-NetP inference at 320², one image: `apply` (fp32, conv then BatchNorm+ReLU) vs the folded fp32
 * forward vs fp16 (src/models/u2net/inference.ts), pretrained weights. Median of --rounds alternating runs
 * after one warm-up each; each run includes reading the mask back. Also the pool's peak bytes
 * allocated during a forward (activations: the forward's tensors are freed as tidy ends).
 *   WEBGRAD_CACHE=… npx tsx bench/u2net-half.ts [--rounds 3] [--size 320]
 */
import { init, random, sigmoid, tensor, tidy, tree, type Tensor } from '../src/node';
import { u2net } from '../src/models/u2net/model';
import { u2netPredictor } from '../src/models/u2net/inference';
import { pretrainedU2netp } from '../src/sod/node/pretrained';
import { loadInitialWeights } from '../src/io/load-weights';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const rounds = arg('rounds', 3),
  size = arg('size', 320);
const device = await init();
console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}; shader-f16: ${device.features.has('shader-f16')}`);
const model = u2net({ model: 'u2netp' });
const fresh = model.init(random.key(0));
const { params, state } = await loadInitialWeights(await pretrainedU2netp(), fresh.params, fresh.state);
tree.dispose(fresh);
const p32 = await u2netPredictor(model, params, state, { precision: 'fp32' });
const p16 = device.features.has('shader-f16') ? await u2netPredictor(model, params, state, { precision: 'fp16' }) : null;
const x = tensor(
  Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.37)),
  { shape: [1, 3, size, size] },
);
const runs: Record<string, () => Tensor> = {
  'apply fp32': () => tidy(() => sigmoid(model.apply(params, state, x, { training: false }).logits[0])),
  'folded fp32': () => p32.predict(x),
  ...(p16 ? { 'folded fp16': () => p16.predict(x) } : {}),
};
const times: Record<string, number[]> = {};
const peak: Record<string, number> = {};
const once = async (name: string) => {
  device.pool.resetPeak();
  const base = device.pool.snapshot.liveBytes;
  const t0 = performance.now();
  const m = runs[name]();
  await m.data();
  m.dispose();
  peak[name] = device.pool.snapshot.peakBytes - base;
  return performance.now() - t0;
};
for (const name of Object.keys(runs)) await once(name);
for (let r = 0; r < rounds; r++) for (const name of Object.keys(runs)) (times[name] ??= []).push(await once(name));
const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const [name, v] of Object.entries(times))
  console.log(
    `${name.padEnd(12)} median ${median(v).toFixed(0)} ms  (runs: ${v.map((t) => t.toFixed(0)).join(', ')}); peak activation memory ${(peak[name] / 1e6).toFixed(1)} MB`,
  );
const bytes = (t: unknown) => (tree.leaves(t) as Tensor[]).reduce((s, l) => s + l.storage.byteSize, 0);
console.log(
  `folded weights: fp32 ${(bytes(p32.folded.params) / 1e6).toFixed(2)} MB${p16 ? `, fp16 ${(bytes(p16.folded.params) / 1e6).toFixed(2)} MB (${p16.folded.float32Convs.length} convs kept fp32)` : ''}`,
);
p32.dispose();
p16?.dispose();
x.dispose();
tree.dispose([params, state]);
