/**
 * NMS: webgrad's GPU `nms` vs TF.js's `tf.image.nonMaxSuppressionAsync` (WebGPU backend, which reads
 * the boxes back and suppresses on the CPU), same adapter, same random boxes (corners in [0, 1],
 * sides 0.01–0.11), IoU threshold 0.5, max detections 100 and "all". Median ms per call, each call
 * awaited to its kept indices (webgrad: an int32 tensor on the GPU, only its length read back;
 * TF.js: its result tensor). Then webgrad's breakdown (each phase awaited on the GPU): sort, IoU
 * mask + sweep, read-back of the counts (the single-dispatch path for small inputs counts its sort
 * under the sweep). A note is printed if TF.js keeps a different index list. 100k boxes with max detections "all" run once each, without
 * a warm-up (TF.js takes minutes there).
 * `--multibox 1:2,8:4` times `multiboxDetection` instead, at TinySSD's size (A = 5444 anchors from d2l's
 * five levels 32², 16², 8², 4², 1² with its sizes and ratios), for each batch:classes pair (random
 * softmax probabilities, offsets in [−1, 1]), median ms per call awaited to its (B, A, 6) rows.
 *   npx tsx bench/nms.ts [--sizes 100,1000,10000,100000] [--runs 5] [--multibox 1:2,8:4]
 */
import { init, tensor, type Tensor } from '../src/node';
import { nms, nmsProfiled, type NmsProfile } from '../src/detection/nms';
import { tinySsdAnchors } from '../src/detection/ssd';
import { tinySsd } from '../src/models/tiny-ssd';
import { multiboxDetection } from '../src/detection/multibox-detection';
import { initTfjsWebGPU, type Tfjs } from './peers/tfjs';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const sizes = arg('sizes', '100,1000,10000,100000').split(',').map(Number);
const runs = Number(arg('runs', '5'));

const device = await init();
let tf: Tfjs | null = null;
let tfMissing = '';
try {
  tf = await initTfjsWebGPU();
} catch (e) {
  tfMissing = (e as Error).message;
}

function randomBoxes(n: number, seed: number): { boxes: Float32Array; scores: Float32Array } {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const boxes = new Float32Array(4 * n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = rnd() * 0.9;
    const y = rnd() * 0.9;
    boxes.set([x, y, x + 0.01 + rnd() * 0.1, y + 0.01 + rnd() * 0.1], 4 * i);
    scores[i] = rnd();
  }
  return { boxes, scores };
}

async function median(fn: () => Promise<void>, n: number, warm = true): Promise<number> {
  if (warm) await fn(); // warm-up (pipelines compiled, buffers pooled)
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const multibox = arg('multibox', '');
if (multibox) {
  const anchors = tinySsdAnchors(tinySsd({ numClasses: 1 }), 256, 256);
  const A = anchors.shape[1];
  console.log(`multiboxDetection, A = ${A} anchors, runs: ${runs} (median, after one warm-up)`);
  console.log('| batch | classes | ms |');
  console.log('| ---: | ---: | ---: |');
  for (const pair of multibox.split(',')) {
    const [B, C] = pair.split(':').map(Number);
    let s = B * 1000 + C;
    const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const probs = new Float32Array(B * (C + 1) * A);
    for (let b = 0; b < B; b++) {
      for (let a = 0; a < A; a++) {
        const e = Array.from({ length: C + 1 }, () => Math.exp(4 * rnd()));
        const z = e.reduce((x, y) => x + y, 0);
        for (let c = 0; c <= C; c++) probs[(b * (C + 1) + c) * A + a] = e[c] / z;
      }
    }
    const offsets = Float32Array.from({ length: B * 4 * A }, () => 2 * rnd() - 1);
    const pt = tensor(probs, { shape: [B, C + 1, A] });
    const ot = tensor(offsets, { shape: [B, 4 * A] });
    const ms = await median(async () => {
      const out = await multiboxDetection(pt, ot, anchors, { nmsThreshold: 0.5 });
      await out.data();
      out.dispose();
    }, runs);
    console.log(`| ${B} | ${C} | ${fmt(ms)} |`);
    pt.dispose();
    ot.dispose();
  }
  process.exit(0);
}

console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}; runs: ${runs} (median, after one warm-up)`);
console.log('| boxes | max det | kept | webgrad ms | TF.js ms | TF.js ÷ webgrad | sort ms | IoU mask + sweep ms | read-back ms |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of sizes) {
  const { boxes, scores } = randomBoxes(n, n);
  const bt = tensor(boxes, { shape: [n, 4] });
  const st = tensor(scores, { shape: [n] });
  for (const maxDet of [...new Set([Math.min(100, n), n])]) {
    // 100k boxes with every box kept takes minutes in TF.js on this CPU adapter: one call each, no warm-up
    // (the pipelines were compiled by the smaller sizes)
    const big = n >= 100_000 && maxDet === n;
    const opts = maxDet === n ? {} : { maxDetections: maxDet };
    const reps = big ? 1 : n >= 100_000 ? Math.min(runs, 3) : runs;
    let last: Tensor | null = null;
    const ours = await median(
      async () => {
        const k: Tensor = await nms(bt, st, 0.5, opts);
        last?.dispose();
        last = k;
      },
      reps,
      !big,
    );
    const oursKept = Array.from(await (last as unknown as Tensor).data());
    (last as unknown as Tensor).dispose();
    const kept = oursKept.length;
    const profile: NmsProfile = { sort: 0, suppress: 0, readback: 0 };
    for (let i = 0; i < reps; i++) (await nmsProfiled(bt, st, 0.5, opts, profile)).dispose();
    let peer = Number.NaN;
    if (tf) {
      const tfl = tf;
      // TF.js wants [y1, x1, y2, x2]; IoU is symmetric in x and y, so the same corners serve
      const tb = tfl.tensor2d(boxes, [n, 4]);
      const ts = tfl.tensor1d(scores);
      let tfKept: number[] = [];
      peer = await median(
        async () => {
          const k = await tfl.image.nonMaxSuppressionAsync(tb, ts, maxDet, 0.5);
          tfKept = Array.from(k.dataSync());
          k.dispose();
        },
        reps,
        !big,
      );
      tb.dispose();
      ts.dispose();
      const same = tfKept.length === kept && tfKept.every((v, i) => v === oursKept[i]);
      if (!same) console.log(`note: ${n} boxes, max ${maxDet}: TF.js kept ${tfKept.length} indices, webgrad ${kept}, not the same list`);
    }
    const ratio = Number.isNaN(peer) ? `n/a (${tfMissing})` : `${(peer / ours).toFixed(2)}×`;
    const per = (v: number) => fmt(v / reps);
    console.log(
      `| ${n} | ${maxDet === n ? 'all' : maxDet} | ${kept} | ${fmt(ours)} | ${Number.isNaN(peer) ? '—' : fmt(peer)} | ${ratio} | ${per(profile.sort)} | ${per(profile.suppress)} | ${per(profile.readback)} |`,
    );
  }
  bt.dispose();
  st.dispose();
}
process.exit(0);
