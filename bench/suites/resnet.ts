/**
 * ResNet-18 (torchvision structure) at 224×224: inference (eval-mode BatchNorm) and training
 * (forward, backward, SGD momentum update, batch statistics) in images/s, and the peak memory of each,
 * at batch 1 and 32. TF.js (WebGPU backend, layers API, the same shapes: 'same' padding gives
 * torchvision's output sizes) runs beside it as the peer. Peak memory: webgrad's pool bytes in use
 * (weights, optimizer state, activations), TF.js's engine tensor bytes (`tf.profile().peakBytes`).
 * A configuration that fails (e.g. a buffer over the adapter's maxStorageBufferBindingSize) gives a
 * row whose note carries the error instead of stopping the suite.
 * On lavapipe one batch-32 training step takes minutes (webgrad's and TF.js's), so `--quick` runs
 * batch 1 only; RESNET_BENCH_BATCHES=1,32 (or any list) picks the batches in either mode.
 * Standalone: `npx tsx bench/suites/resnet.ts [--quick]`.
 */
import { init, tidy, tree, random, rand, tensor, valueAndGrad, crossEntropy, optim, memory, type Tensor } from '../../src/node';
import { resnet } from '../../src/models/resnet';
import { timeIt, type BenchRow, type Suite } from '../lib';
import { initTfjsWebGPU, syncTfjs, timeTfjs, type Tfjs } from '../peers/tfjs';

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

const errText = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 160);
const mb = (bytes: number) => bytes / 2 ** 20;

export const resnetSuite: Suite = async ({ device, quick }) => {
  const rows: BenchRow[] = [];
  const batches = process.env.RESNET_BENCH_BATCHES ? process.env.RESNET_BENCH_BATCHES.split(',').map(Number) : quick ? [1] : [1, 32];
  // whole-network steps take seconds (batch 1) to minutes (batch 32) on a CPU adapter: one warm-up, then few timed calls
  const opts = (b: number, train: boolean) => (quick ? { warmup: 0, iters: 1, repeats: 1 } : { warmup: 0, iters: b > 1 ? (train ? 1 : 2) : 3, repeats: 1 });
  const model = resnet({ model: 'resnet18' });
  let { params, state } = model.init(random.key(0));
  const opt = optim.sgd({ lr: 1e-3, momentum: 0.9 });
  // created per batch size after the inference rows, so the inference peak holds no optimizer slots
  let optState: ReturnType<typeof opt.init> | null = null;
  const step = valueAndGrad(
    (p: any, st: any, x: Tensor, t: Tensor) => {
      const out = model.apply(p, st, x, { training: true });
      return [crossEntropy(out.y, t), out.state];
    },
    { hasAux: true },
  );
  const sync = () => device.sync();

  let tf: Tfjs | null = null,
    tfModel: any = null,
    tfMissing = '';
  try {
    tf = await initTfjsWebGPU();
    tfModel = tfResnet18(tf);
  } catch (e) {
    tfMissing = errText(e);
  }

  /** Progress on stderr: a batch-32 pass on a CPU adapter runs for many minutes without a row. */
  const progress = (what: string, m: { s: number; peak: number } | { error: string }) =>
    console.error(`  [resnet] ${what}: ${'error' in m ? `error: ${m.error}` : `${(m.s * 1e3).toFixed(0)} ms, peak ${mb(m.peak).toFixed(0)} MB`}`);

  /** Seconds per call after one warm-up call, and the peak pool bytes over the warm-up. */
  const measure = async (fn: () => void, B: number, train: boolean): Promise<{ s: number; peak: number } | { error: string }> => {
    try {
      await sync();
      device.pool.resetPeak();
      fn();
      await sync();
      const peak = memory().peakBytes;
      return { s: await timeIt(fn, sync, opts(B, train)), peak };
    } catch (e) {
      await sync().catch(() => {});
      return { error: errText(e) };
    }
  };
  const measureTf = async (fn: () => void, B: number, train: boolean): Promise<{ s: number; peak: number } | { error: string }> => {
    try {
      const prof = await tf!.profile(() => {
        fn();
      });
      await syncTfjs(tf!);
      return {
        s: await timeTfjs(
          tf!,
          () => {
            fn();
            return [];
          },
          opts(B, train),
        ),
        peak: prof.peakBytes,
      };
    } catch (e) {
      return { error: errText(e) };
    }
  };

  for (const B of batches) {
    const x = rand(random.key(1), [B, 3, SIZE, SIZE]);
    const t = tensor(
      Int32Array.from({ length: B }, (_, i) => (i * 37) % 1000),
      { shape: [B] },
    );
    const fwd = await measure(
      () => {
        tidy(() => {
          model.apply(params, state, x, { training: false });
        });
      },
      B,
      false,
    );
    progress(`webgrad batch ${B} inference`, fwd);
    optState = opt.init(params);
    const train = await measure(
      () => {
        const oldState = state;
        const r = tidy(() => {
          const [[loss, st], g] = step(params, state, x, t);
          const u = opt.update(g, optState!, params, { donate: true });
          return { loss, st, p: u.params, os: u.state };
        });
        tree.dispose(oldState);
        r.loss.dispose();
        params = r.p;
        state = r.st;
        optState = r.os;
      },
      B,
      true,
    );
    progress(`webgrad batch ${B} training`, train);
    x.dispose();
    t.dispose();
    tree.dispose(optState.slots);
    optState = null;

    type M = { s: number; peak: number } | { error: string };
    let tfF: M = { error: tfMissing },
      tfT: M = tfF;
    if (tf && tfModel) {
      const tfx = tf.randomNormal([B, SIZE, SIZE, 3]);
      const tfy = tf.oneHot(
        tf.tensor1d(
          Array.from({ length: B }, (_, i) => (i * 37) % 1000),
          'int32',
        ),
        1000,
      );
      const tfOpt = tf.train.momentum(1e-3, 0.9);
      tfF = await measureTf(
        () => {
          (tfModel.apply(tfx, { training: false }) as any).dispose();
        },
        B,
        false,
      );
      progress(`tfjs batch ${B} inference`, tfF);
      tfT = await measureTf(
        () => {
          tfOpt.minimize(() => tf!.losses.softmaxCrossEntropy(tfy, tfModel.apply(tfx, { training: true }) as any) as any);
        },
        B,
        true,
      );
      progress(`tfjs batch ${B} training`, tfT);
      tfx.dispose();
      tfy.dispose();
      tfOpt.dispose();
    }
    const peer = (m: M, rate: boolean): BenchRow['peer'] =>
      'error' in m ? { name: 'tfjs-webgpu', missing: m.error } : { name: 'tfjs-webgpu', value: rate ? B / m.s : mb(m.peak) };
    const add = (what: string, m: M, pm: M, unit: string) => {
      if ('error' in m) {
        rows.push({
          suite: 'resnet',
          name: `ResNet-18 224² ${what}, batch ${B}`,
          metric: 'images/s',
          value: NaN,
          peer: peer(pm, true),
          note: `error: ${m.error}`,
        });
        return;
      }
      rows.push({
        suite: 'resnet',
        name: `ResNet-18 224² ${what}, batch ${B}`,
        metric: 'images/s',
        value: B / m.s,
        peer: peer(pm, true),
        note: `${(m.s * 1e3).toFixed(0)} ms/${unit}`,
      });
      rows.push({ suite: 'resnet', name: `ResNet-18 224² ${what} peak memory, batch ${B}`, metric: 'MB', value: mb(m.peak), peer: peer(pm, false) });
    };
    add('inference', fwd, tfF, 'batch');
    add('training step (SGD)', train, tfT, 'step');
  }
  tree.dispose([params, state]);
  tfModel?.dispose?.();
  return rows;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  const rows = await resnetSuite({ device, quick: process.argv.includes('--quick') });
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  for (const r of rows) {
    const peer = r.peer && 'value' in r.peer ? `  ${r.peer.name} ${r.peer.value.toFixed(2)}` : r.peer ? `  ${r.peer.name}: ${r.peer.missing}` : '';
    console.log(`${r.name.padEnd(52)} ${r.value.toFixed(2).padStart(8)} ${r.metric}${r.note ? `  [${r.note}]` : ''}${peer}`);
  }
  process.exit(0);
}
