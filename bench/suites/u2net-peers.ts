/**
 * U²-NetP and U²-Net beside their peers on the same machine:
 * - forward images/s at 320², batch 1 (eval mode): webgrad; TF.js on its WebGPU backend (same adapter)
 *   running the same network with the same weights (bench/peers/tfjs-u2net.ts, BatchNorm folded, as
 *   a deployed TF.js model would have it; webgrad runs its eval-mode BatchNorm+ReLU kernel);
 *   onnxruntime-node on the CPU running webgrad's ONNX export of that network, and for U²-NetP also
 *   the official u2netp.onnx (pretrained weights; the same work). TF.js's logits are checked once
 *   against webgrad's (max |Δ| in the note);
 * - peak GPU memory of that forward (webgrad: its buffer pool's peak of live bytes; TF.js: bytes of
 *   live tensors at the end of the forward, inside tidy, by its engine's count);
 * - training images/s at 288² (batch 4 and 12): forward, 7-map BCE-with-logits, backward, Adam.
 *   TF.js cannot train U²-Net (no dilated-conv gradient): one gradient step is tried and its error is
 *   the peer's 'missing' text. A webgrad run that fails (e.g. a tensor past the adapter's largest
 *   storage buffer: 128 MiB on lavapipe) is reported as a failed row with the message.
 * Ratios: webgrad ÷ peer for images/s, peer ÷ webgrad for MB (above 1: webgrad does better).
 *
 * `npm run bench -- --suite u2net-peers [--quick]`; standalone `npx tsx bench/suites/u2net-peers.ts
 * [--quick]`. U2NET_BENCH_MODELS=u2netp,u2net and U2NET_BENCH_TRAIN_BATCHES=4,12 pick what runs;
 * --quick times one call of each with no warm-up beyond the accuracy check (a quick training rate
 * includes the first step's pipeline compilation; noted in the row).
 */
import { cpus } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { init, tidy, tensor, tree, memory, random, type Device } from '../../src/node';
import { u2net, type U2NetName } from '../../src/models/u2net/model';
import { u2netInferenceGraph, u2netOnnxModel } from '../../src/sod/onnx-export';
import { writeOnnx } from '../../src/formats/onnx-write';
import { defaultCacheDir } from '../../src/sod/node/pretrained';
import { timeIt, type BenchRow, type Suite } from '../lib';
import { makeTrainer } from './u2net';
import { initTfjsWebGPU, timeTfjs, type Tfjs } from '../peers/tfjs';
import { tfU2Net, trainStepError } from '../peers/tfjs-u2net';

const SUITE = 'u2net-peers';
const FWD = 320,
  TRAIN = 288;
const LABEL: Record<U2NetName, string> = { u2netp: 'U²-NetP', u2net: 'U²-Net' };
const MB = (b: number) => b / 2 ** 20;
const firstLine = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 300);
const wave = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) * 0.8);

type Ort = typeof import('onnxruntime-node');

/** Images/s of training steps at batch × size², or the error; peak MB of webgrad's pool. */
async function trainRate(
  device: Device,
  name: U2NetName,
  batch: number,
  size: number,
  quick: boolean,
): Promise<{ rate: number; peak: number } | { error: string }> {
  const trainer = makeTrainer(batch, size, u2net({ model: name }));
  const step = trainer.step;
  try {
    device.pool.resetPeak();
    const s = await timeIt(step, () => device.sync(), quick ? { warmup: 0, iters: 1, repeats: 1 } : { warmup: 1, iters: 2, repeats: 1 });
    return { rate: batch / s, peak: memory().peakBytes };
  } catch (e) {
    return { error: firstLine(e) };
  } finally {
    try {
      await device.sync();
    } catch {
      /* the error is already reported */
    }
    trainer.dispose();
  }
}

async function ortRate(ort: Ort, model: Uint8Array | string, x: Float32Array, quick: boolean): Promise<{ rate: number; out: Float32Array }> {
  const session = await ort.InferenceSession.create(model as Uint8Array, { executionProviders: ['cpu'] });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, FWD, FWD]) };
  let out: Float32Array = new Float32Array();
  const s = await timeIt(
    async () => {
      const r = await session.run(feeds);
      out = r[session.outputNames[0]].data as Float32Array;
    },
    async () => {},
    quick ? { warmup: 1, iters: 1, repeats: 1 } : { warmup: 1, iters: 3, repeats: 3 },
  );
  await session.release();
  return { rate: 1 / s, out };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
};

export const u2netPeersSuite: Suite = async ({ device, quick }) => {
  const rows: BenchRow[] = [];
  const names = (process.env.U2NET_BENCH_MODELS ?? 'u2netp,u2net').split(',').filter(Boolean) as U2NetName[];
  for (const n of names) if (!(n in LABEL)) throw new Error(`U2NET_BENCH_MODELS: unknown model '${n}' (u2netp, u2net)`);
  const batches = (process.env.U2NET_BENCH_TRAIN_BATCHES ?? '4,12').split(',').filter(Boolean).map(Number);
  // the accuracy check above the timing already ran each network once (pipelines compiled)
  const fwdOpts = quick ? { warmup: 0, iters: 1, repeats: 1 } : { warmup: 1, iters: 3, repeats: 1 };
  const threads = `${cpus().length} CPU threads`;

  let tf: Tfjs | null = null,
    tfMissing = '';
  try {
    tf = await initTfjsWebGPU();
  } catch (e) {
    tfMissing = firstLine(e);
  }
  let ort: Ort | null = null,
    ortMissing = '';
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    ortMissing = firstLine(e);
  }

  for (const name of names) {
    const L = LABEL[name];
    const model = u2net({ model: name });
    const { params, state } = model.init(random.key(0));
    const xData = wave(3 * FWD * FWD, 0.11);
    const x = tensor(xData, { shape: [1, 3, FWD, FWD] });

    // webgrad forward (+ its d0 logits for the TF.js check)
    let ours = new Float32Array();
    const first = tidy(() => model.apply(params, state, x, { training: false }).logits[0]);
    ours = Float32Array.from((await first.data()) as Float32Array);
    first.dispose();
    device.pool.resetPeak();
    const sW = await timeIt(
      () => {
        tidy(() => {
          model.apply(params, state, x, { training: false });
        });
      },
      () => device.sync(),
      fwdOpts,
    );
    const peakW = memory().peakBytes;
    const wRate = 1 / sW;

    const g = await u2netInferenceGraph(model, params, state);
    tree.dispose([params, state, x]);
    const name0 = `${L} forward ${FWD}², batch 1`;

    // TF.js WebGPU
    let peerTf: BenchRow['peer'] = { name: 'tfjs-webgpu', missing: tfMissing };
    let peerTfMem: BenchRow['peer'] = peerTf;
    let tfNote = '',
      trainMissing = tfMissing || 'TF.js did not load';
    if (tf) {
      const tfl = tf;
      const net = tfU2Net(tfl, g);
      try {
        const tx = tfl.tidy(() => tfl.transpose(tfl.tensor(xData, [1, 3, FWD, FWD]), [0, 2, 3, 1])) as import('@tensorflow/tfjs').Tensor4D;
        let peakTf = 0;
        const d0 = tfl.tidy(() => {
          const outs = net.forward(tx);
          peakTf = tfl.memory().numBytes;
          return tfl.transpose(outs[0], [0, 3, 1, 2]);
        });
        const diff = maxDiff((await d0.data()) as Float32Array, ours);
        d0.dispose();
        const sT = await timeTfjs(tfl, () => tfl.tidy(() => net.forward(tx)[0].clone()), fwdOpts);
        tx.dispose();
        peerTf = { name: 'tfjs-webgpu', value: 1 / sT };
        peerTfMem = { name: 'tfjs-webgpu', value: MB(peakTf) };
        tfNote = `, TF.js d0 logits vs webgrad max |Δ| ${diff.toExponential(1)}`;
      } catch (e) {
        peerTf = peerTfMem = { name: 'tfjs-webgpu', missing: firstLine(e) };
      }
      trainMissing = trainStepError(tfl, net) ?? 'ran (no error)';
      net.dispose();
    }
    rows.push({
      suite: SUITE,
      name: `${name0} vs TF.js WebGPU`,
      metric: 'images/s',
      value: wRate,
      peer: peerTf,
      note: `peak ${MB(peakW).toFixed(0)} MB${tfNote}`,
    });
    rows.push({ suite: SUITE, name: `${name0}, peak GPU memory`, metric: 'MB', value: MB(peakW), peer: peerTfMem });

    // onnxruntime-node CPU on webgrad's export (and the official file for U²-NetP)
    if (ort) {
      const bytes = writeOnnx(u2netOnnxModel(g, { height: FWD, width: FWD, outputs: 'logits' }));
      const r = await ortRate(ort, bytes, xData, quick);
      rows.push({
        suite: SUITE,
        name: `${name0} vs onnxruntime-node CPU (webgrad's ONNX export)`,
        metric: 'images/s',
        value: wRate,
        peer: { name: 'onnxruntime-cpu', value: r.rate },
        note: `${threads}; export d0 vs webgrad max |Δ| ${maxDiff(r.out, ours).toExponential(1)}`,
      });
      const official = join(defaultCacheDir(), 'u2netp.onnx');
      if (name === 'u2netp') {
        if (existsSync(official)) {
          const o = await ortRate(ort, new Uint8Array(readFileSync(official)), xData, quick);
          rows.push({
            suite: SUITE,
            name: `${name0} vs onnxruntime-node CPU (official u2netp.onnx)`,
            metric: 'images/s',
            value: wRate,
            peer: { name: 'onnxruntime-cpu', value: o.rate },
            note: `${threads}; pretrained weights, same work`,
          });
        } else {
          rows.push({
            suite: SUITE,
            name: `${name0} vs onnxruntime-node CPU (official u2netp.onnx)`,
            metric: 'images/s',
            value: wRate,
            peer: { name: 'onnxruntime-cpu', missing: `${official} not cached (npm run fetch-u2netp)` },
          });
        }
      }
    } else {
      rows.push({
        suite: SUITE,
        name: `${name0} vs onnxruntime-node CPU`,
        metric: 'images/s',
        value: wRate,
        peer: { name: 'onnxruntime-cpu', missing: ortMissing },
      });
    }

    // training
    for (const B of batches) {
      const t = await trainRate(device, name, B, TRAIN, quick);
      const peer: BenchRow['peer'] = { name: 'tfjs-webgpu', missing: trainMissing };
      const rowName = `${L} train step ${TRAIN}², batch ${B}`;
      if ('error' in t) rows.push({ suite: SUITE, name: rowName, metric: 'images/s', value: NaN, peer, error: t.error });
      else {
        rows.push({
          suite: SUITE,
          name: rowName,
          metric: 'images/s',
          value: t.rate,
          peer,
          note: `peak ${MB(t.peak).toFixed(0)} MB${quick ? ', quick: one step including pipeline compilation' : ''}`,
        });
        rows.push({ suite: SUITE, name: `${rowName}, peak GPU memory`, metric: 'MB', value: MB(t.peak) });
      }
    }
  }
  return rows;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  for (const r of await u2netPeersSuite({ device, quick: process.argv.includes('--quick') })) {
    const peer = !r.peer ? '' : 'value' in r.peer ? `${r.peer.name} ${r.peer.value.toFixed(2)}` : `${r.peer.name} n/a: ${r.peer.missing}`;
    console.log(`${r.name.padEnd(72)} ${r.error ? `FAILED: ${r.error}` : `${r.value.toFixed(2)} ${r.metric}`} | ${peer} ${r.note ? `[${r.note}]` : ''}`);
  }
  process.exit(0);
}
