/**
 * U²-NetP forward at --size (default 320), batch 1, through the library's own paths: the folded fp32
 * predictor (`u2netPredictor`, BatchNorm folded, fused epilogues) and eval-mode `model.apply`.
 * Times are best-of --rounds, the paths interleaved round by round (the machine is shared); each run
 * reads the mask back. `--profile` replays one folded forward dispatch by dispatch and prints GPU ms
 * per op kind (`--detail`: per conv shape).
 * `unfused` is the folded forward as it was before conv2dFused (conv+bias+ReLU kernels, concat and add apart).
 *   npx tsx bench/u2net-forward.ts [--rounds 3] [--size 320] [--profile [--detail]] [--only folded|unfused|apply]
 */
import { init, random, sigmoid, tensor, tidy, tree, type Tensor } from '../src/node';
import { u2net } from '../src/models/u2net/model';
import { u2netPredictor, u2netFoldedApply } from '../src/models/u2net/inference';
import { recordDispatches, profileDispatches, formatProfile } from '../src/kernels/webgpu/profile';
import type { Dispatch } from '../src/kernels/webgpu/queue';

const argv = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const rounds = arg('rounds', 3),
  size = arg('size', 320);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const device = await init();
console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
const model = u2net({ model: 'u2netp' });
const { params, state } = model.init(random.key(0));
const p32 = await u2netPredictor(model, params, state, { precision: 'fp32' });
const x = tensor(
  Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.37)),
  { shape: [1, 3, size, size] },
);
const runs: Record<string, () => Tensor> = {
  folded: () => p32.predict(x),
  // the folded forward before conv2dFused: conv + bias + ReLU kernels, concat and add as separate ops
  unfused: () => tidy(() => sigmoid(u2netFoldedApply(p32.folded, x, { fusedPath: false })[0])),
  apply: () => tidy(() => sigmoid(model.apply(params, state, x, { training: false }).logits[0])),
};
const names = Object.keys(runs).filter((n) => !only || n === only);

if (argv.includes('--profile')) {
  // each path profiled in turn in the same process (the fused one and the unfused one it replaced)
  for (const name of only ? [only] : ['folded', 'unfused']) {
    runs[name]().dispose();
    await device.sync();
    const { dispatches } = recordDispatches(device, () => runs[name]().dispose());
    await device.sync();
    const keyOf = (d: Dispatch) => {
      if (!argv.includes('--detail') || !d.uniforms) return d.name;
      const v = d.uniforms.values as Record<string, unknown>;
      return `${d.name} ${['C', 'H', 'O', 'OH', 'kH', 'dH', 'G']
        .filter((k) => k in v)
        .map((k) => `${k}${v[k]}`)
        .join(' ')}`;
    };
    const p = await profileDispatches(device, dispatches, 2, keyOf);
    console.log(
      `per-op GPU time, one U²-NetP ${name} forward ${size}² batch 1 (${dispatches.length} dispatches; empty submit ${p.overheadMs.toFixed(3)} ms subtracted)`,
    );
    console.log(formatProfile(p));
  }
} else {
  // wall ms, and CPU ms of every thread of the process (lavapipe's workers included): the CPU figure
  // hardly moves with other load on a shared machine, the wall one does
  const once = async (name: string) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const m = runs[name]();
    await m.data();
    m.dispose();
    const c = process.cpuUsage(c0);
    return [performance.now() - t0, (c.user + c.system) / 1000];
  };
  for (const name of names) await once(name);
  const times: Record<string, number[][]> = {};
  for (let r = 0; r < rounds; r++) for (const name of names) (times[name] ??= []).push(await once(name));
  for (const [name, v] of Object.entries(times))
    console.log(
      `${name.padEnd(8)} wall best ${Math.min(...v.map((t) => t[0])).toFixed(0)} ms, CPU best ${Math.min(...v.map((t) => t[1])).toFixed(0)} ms  (wall runs: ${v.map((t) => t[0].toFixed(0)).join(', ')})`,
    );
}
p32.dispose();
x.dispose();
tree.dispose([params, state]);
process.exit(0);
