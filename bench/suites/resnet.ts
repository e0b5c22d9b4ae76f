/**
 * ResNet-18 (torchvision structure) at 224×224: inference (eval-mode BatchNorm) and training
 * (forward, backward, SGD momentum update, batch statistics) in images/s, at batch 1; batch 32 with
 * RESNET_BENCH_BATCHES=1,32 (on lavapipe one batch-1 training step takes ~5.6 s, TF.js's ~14 s, so batch 32
 * would take tens of minutes there; on a real GPU ask for it). TF.js (WebGPU backend, layers API,
 * the same shapes: 'same' padding gives torchvision's output sizes) runs beside it as the peer.
 * Standalone: `npx tsx bench/suites/resnet.ts [--quick]`; RESNET_BENCH_BATCHES=1,8 picks batches.
 */
import { init, tidy, tree, random, rand, tensor, valueAndGrad, crossEntropy, optim, type Tensor } from '../../src/node';
import { resnet } from '../../src/models/resnet';
import { timeIt, type BenchRow, type Suite } from '../lib';
import { initTfjsWebGPU, timeTfjs, type Tfjs } from '../peers/tfjs';

const SIZE = 224;

/** ResNet-18 in TF.js layers (NHWC), torchvision's shapes and parameter count. */
function tfResnet18(tf: Tfjs) {
  const L = tf.layers;
  const inp = tf.input({ shape: [SIZE, SIZE, 3] });
  const conv = (x: any, filters: number, k: number, s: number) => L.conv2d({ filters, kernelSize: k, strides: s, padding: 'same', useBias: false }).apply(x);
  const bn = (x: any) => L.batchNormalization({ axis: 3, epsilon: 1e-5, momentum: 0.9 }).apply(x);
  const relu = (x: any) => L.reLU().apply(x);
  let x: any = relu(bn(conv(inp, 64, 7, 2)));
  x = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x);
  let cin = 64;
  [64, 128, 256, 512].forEach((p, i) => {
    for (let j = 0; j < 2; j++) {
      const s = i > 0 && j === 0 ? 2 : 1;
      const h = bn(conv(relu(bn(conv(x, p, 3, s))), p, 3, 1));
      const idn = s !== 1 || cin !== p ? bn(conv(x, p, 1, s)) : x;
      x = relu(L.add().apply([h, idn]));
      cin = p;
    }
  });
  x = L.globalAveragePooling2d({}).apply(x);
  return tf.model({ inputs: inp, outputs: L.dense({ units: 1000 }).apply(x) as any });
}

export const resnetSuite: Suite = async ({ device, quick }) => {
  const rows: BenchRow[] = [];
  const batches = process.env.RESNET_BENCH_BATCHES ? process.env.RESNET_BENCH_BATCHES.split(',').map(Number) : [1];
  // whole-network steps take seconds on a CPU adapter: one warm-up, then a few timed calls
  const opts = (b: number) => (quick ? { warmup: 1, iters: 1, repeats: 1 } : b > 1 ? { warmup: 1, iters: 2, repeats: 1 } : { warmup: 1, iters: 3, repeats: 1 });
  const model = resnet({ model: 'resnet18' });
  let { params, state } = model.init(random.key(0));
  const opt = optim.sgd({ lr: 1e-3, momentum: 0.9 });
  let optState = opt.init(params);
  const step = valueAndGrad((p: any, st: any, x: Tensor, t: Tensor) => {
    const out = model.apply(p, st, x, { training: true });
    return [crossEntropy(out.y, t), out.state];
  }, { hasAux: true });
  const sync = () => device.sync();

  let tf: Tfjs | null = null, tfModel: any = null, tfMissing = '';
  try { tf = await initTfjsWebGPU(); tfModel = tfResnet18(tf); } catch (e) { tfMissing = (e as Error).message.split('\n')[0]; }

  for (const B of batches) {
    const x = rand(random.key(1), [B, 3, SIZE, SIZE]);
    const t = tensor(Int32Array.from({ length: B }, (_, i) => (i * 37) % 1000), { shape: [B] });
    const fwd = await timeIt(() => { tidy(() => { model.apply(params, state, x, { training: false }); }); }, sync, opts(B));
    const train = await timeIt(() => {
      const oldState = state;
      const r = tidy(() => {
        const [[loss, st], g] = step(params, state, x, t);
        const u = opt.update(g, optState, params, { donate: true });
        return { loss, st, p: u.params, os: u.state };
      });
      tree.dispose(oldState);
      r.loss.dispose();
      params = r.p; state = r.st; optState = r.os;
    }, sync, opts(B));
    x.dispose(); t.dispose();

    let peerF: BenchRow['peer'] = { name: 'tfjs-webgpu', missing: tfMissing }, peerT: BenchRow['peer'] = peerF;
    if (tf && tfModel) {
      const tfx = tf.randomNormal([B, SIZE, SIZE, 3]);
      const tfy = tf.oneHot(tf.tensor1d(Array.from({ length: B }, (_, i) => (i * 37) % 1000), 'int32'), 1000);
      const tfOpt = tf.train.momentum(1e-3, 0.9);
      const sF = await timeTfjs(tf, () => tfModel.apply(tfx, { training: false }) as any, opts(B));
      const sT = await timeTfjs(tf, () => {
        tfOpt.minimize(() => tf!.losses.softmaxCrossEntropy(tfy, tfModel.apply(tfx, { training: true }) as any) as any);
        return [];
      }, opts(B));
      peerF = { name: 'tfjs-webgpu', value: B / sF };
      peerT = { name: 'tfjs-webgpu', value: B / sT };
      tfx.dispose(); tfy.dispose(); tfOpt.dispose();
    }
    rows.push({ suite: 'resnet', name: `ResNet-18 224² inference, batch ${B}`, metric: 'images/s', value: B / fwd, peer: peerF, note: `${(fwd * 1e3).toFixed(0)} ms/batch` });
    rows.push({ suite: 'resnet', name: `ResNet-18 224² training step (SGD), batch ${B}`, metric: 'images/s', value: B / train, peer: peerT, note: `${(train * 1e3).toFixed(0)} ms/step` });
  }
  tree.dispose([params, state, optState.slots]);
  tfModel?.dispose?.();
  return rows;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  const rows = await resnetSuite({ device, quick: process.argv.includes('--quick') });
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  for (const r of rows) {
    const peer = r.peer && 'value' in r.peer ? `  ${r.peer.name} ${r.peer.value.toFixed(2)}` : r.peer ? `  ${r.peer.name}: ${r.peer.missing}` : '';
    console.log(`${r.name.padEnd(48)} ${r.value.toFixed(2).padStart(8)} ${r.metric}  [${r.note}]${peer}`);
  }
  process.exit(0);
}
