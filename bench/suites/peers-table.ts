/**
 * Issue 17's table in one run: each workload through webgrad's public API and through TF.js's
 * (WebGPU backend, same adapter), interleaved round by round (the side that goes first alternates),
 * median ms of the rounds; beside it the adapter's roof (bench/roofline.ts) and the fraction of it
 * each side reaches; for the U²-Net rows also dispatches and host ms per step.
 *
 *   npm run bench -- --suite peers-table [--quick]
 *   npx tsx bench/suites/peers-table.ts [--quick] [--rounds N] [--step-rounds N] [--only WORD[,WORD]]
 *
 * Defaults: 3 rounds for the single ops (each round as many calls as fill ~0.3 s, up to 10), 2 for
 * the U²-Net rows (one call per round; a TF.js training step takes minutes on lavapipe), one warm-up
 * call per side first. --quick: one round, one call, U²-NetP at 64² (a smoke run, not the figures).
 * --only: keep the rows whose name contains one of the words (e.g. --only matmul,depthwise).
 * Through `npm run bench` (which takes only --quick and --suite) set PEERS_TABLE_ROUNDS,
 * PEERS_TABLE_STEP_ROUNDS and PEERS_TABLE_ONLY instead.
 *
 * Columns: ms = median wall time per call (work queued, then the GPU drained; lower is better);
 * ratio = TF.js ms ÷ webgrad ms; work = FLOP (or bytes for pure data movement) per call;
 * roof % = (time the roof allows for that work) ÷ measured time, where the roof allows
 * max(FLOP ÷ FMA peak, bytes ÷ bandwidth) (equivalently FLOP ÷ min(peak, intensity × bandwidth));
 * dispatches = compute dispatches recorded per call (both libraries, counted at the WebGPU API);
 * host ms = time of the synchronous call that records and submits the step (no GPU wait).
 *
 * Hook for other ways of running a step (record-once/replay): push a {@link StepVariant} on
 * {@link stepVariants}; each one is timed in the same interleaved rounds as the eager webgrad step
 * and TF.js, and gets its own row.
 */
import { globals } from 'webgpu';
import {
  init,
  tidy,
  tensor,
  matmul,
  conv2d,
  convTranspose2d,
  maxPool2d,
  interpolate,
  concat,
  add,
  vjp,
  valueAndGrad,
  optim,
  tree,
  random,
  type Tensor,
  type Device,
} from '../../src/node';
import { u2net, u2netLoss, u2netPredictor, type U2NetModel } from '../../src/models';
import { u2netInferenceGraph, type U2NetInferenceGraph } from '../../src/sod/onnx-export';
import type { BenchRow, Suite } from '../lib';
import { initTfjsWebGPU, syncTfjs, type Tfjs } from '../peers/tfjs';
import { tfU2Net } from '../peers/tfjs-u2net';
import { tfU2NetTrainer } from '../peers/tfjs-u2net-train';
import { measureRoof, formatRoof, bestRoof, type RoofMeasurement } from '../roofline';
import { convFlops, formatSpeedup, median, roofFraction, si, sig3, speedup, textTable, boundBy, type Work } from '../roofline-math';

type TFTensor = import('@tensorflow/tfjs').Tensor;

/** One side of a row: `run` records (and submits) the work synchronously, `sync` waits for the GPU. */
export interface Side {
  run: () => void;
  sync: () => Promise<void>;
}

/** A step runner: `step` records one step synchronously; `dispose` frees what it holds. */
export interface StepRunner {
  step(): void;
  dispose(): void;
}

/** What a step variant is given: the device, the model and the size, and the eager runner to compare with. */
export interface StepContext {
  device: Device;
  model: U2NetModel;
  batch: number;
  size: number;
  /** Builds the eager SGD trainer this suite times (so a variant can wrap its pure step function). */
  makeTrainer: typeof makeSgdTrainer;
}

/** Another way to run a webgrad step (e.g. record once, replay), timed beside the eager one. */
export interface StepVariant {
  kind: 'train' | 'forward';
  name: string;
  make: (ctx: StepContext) => StepRunner | Promise<StepRunner>;
}

/** Extra webgrad step rows; the lead adds the replayed step here. */
export const stepVariants: StepVariant[] = [];

// ---------------------------------------------------------------- dispatch counting (both libraries)

let dispatchTotal = 0;
let counting = false;
/** Counts every compute dispatch recorded in this process (webgrad's and TF.js's) at the WebGPU API. */
function countDispatches(): void {
  if (counting) return;
  const proto = (globals as unknown as { GPUComputePassEncoder: { prototype: { dispatchWorkgroups: (...a: unknown[]) => void } } }).GPUComputePassEncoder
    .prototype;
  const orig = proto.dispatchWorkgroups;
  proto.dispatchWorkgroups = function (this: unknown, ...a: unknown[]) {
    dispatchTotal++;
    return orig.apply(this, a);
  };
  counting = true;
}

// ---------------------------------------------------------------- interleaved timing

export interface SideTiming {
  /** ms per call, one per round. */
  ms: number[];
  /** ms of the synchronous call (recording + submission), one per round (first call of the round). */
  hostMs: number[];
  /** Dispatches per call (last round). */
  dispatches: number;
}

/**
 * Times `sides` in `rounds` rounds; in each round every side runs `iters` calls then drains its queue.
 * The order rotates each round so no side always runs first (on a shared machine, load drifts).
 * Each side runs `warmup` untimed calls first (pipeline compilation).
 */
export async function interleave(sides: Side[], { rounds = 3, iters = 1, warmup = 1, targetMs = 0 } = {}): Promise<SideTiming[]> {
  const out: SideTiming[] = sides.map(() => ({ ms: [], hostMs: [], dispatches: 0 }));
  // targetMs > 0: as many calls per round (up to 10) as fill targetMs on the slowest side after a second warm-up call
  let slowest = 0;
  for (const s of sides) {
    for (let i = 0; i < warmup; i++) s.run();
    await s.sync();
    if (targetMs > 0) {
      const t0 = performance.now();
      s.run();
      await s.sync();
      slowest = Math.max(slowest, performance.now() - t0);
    }
  }
  if (targetMs > 0) iters = Math.max(1, Math.min(10, Math.round(targetMs / slowest)));
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < sides.length; j++) {
      const k = (j + r) % sides.length;
      const s = sides[k];
      const d0 = dispatchTotal;
      const t0 = performance.now();
      s.run();
      const host = performance.now() - t0;
      for (let i = 1; i < iters; i++) s.run();
      await s.sync();
      out[k].ms.push((performance.now() - t0) / iters);
      out[k].hostMs.push(host);
      out[k].dispatches = (dispatchTotal - d0) / iters;
    }
  }
  return out;
}

// ---------------------------------------------------------------- rows

/** One line per measured row as soon as it is measured (a long run that is stopped still leaves its figures). */
function progress(r: Measured): Measured {
  const f = (s: SideTiming | { missing: string }) =>
    'ms' in s
      ? `${sig3(median(s.ms))} ms [${s.ms.map(sig3).join(', ')}]${r.step ? `, ${s.dispatches} dispatches, host ${sig3(median(s.hostMs))} ms` : ''}`
      : `n/a (${s.missing})`;
  console.log(`  ${r.name}: webgrad ${f(r.ours)} | TF.js ${f(r.theirs)}`);
  return r;
}

interface Measured {
  name: string;
  work: Work;
  /** 'flop' when the row's work is counted in FLOP, 'bytes' for pure data movement. */
  unit: 'flop' | 'bytes';
  ours: SideTiming | { missing: string };
  theirs: SideTiming | { missing: string };
  step: boolean;
  note?: string;
}

const wave = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) * 0.5);
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const firstLine = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 200);

/** NCHW shape → NHWC. */
const nhwc = (s: readonly number[]) => [s[0], s[2], s[3], s[1]];

interface Ctx {
  device: Device;
  tf: Tfjs | null;
  tfMissing: string;
  rounds: number;
  /** Rounds of the U²-Net step rows (each TF.js training step takes minutes here). */
  stepRounds: number;
  quick: boolean;
  /** Whether the row of this name is wanted (--only). */
  want: (name: string) => boolean;
}

/** A side for webgrad: run inside tidy, drain with device.sync. */
const oursSide = (device: Device, f: () => unknown): Side => ({
  run: () => {
    tidy(() => {
      f();
    });
  },
  sync: () => device.sync(),
});

/** A side for TF.js: the tensors it returns are disposed, drain with its queue. */
const theirsSide = (tf: Tfjs, f: () => TFTensor | TFTensor[]): Side => ({
  run: () => {
    tf.tidy(() => {
      f();
    });
  },
  sync: () => syncTfjs(tf),
});

/** A single-op row: webgrad and TF.js inputs made from the same values (TF.js NHWC). */
async function opRow(
  c: Ctx,
  name: string,
  work: Work,
  unit: Measured['unit'],
  shapes: number[][],
  ours: (xs: Tensor[]) => unknown,
  theirs: ((xs: TFTensor[]) => TFTensor | TFTensor[]) | null,
  tfShapes: (s: number[][]) => number[][],
  tfPerm: (s: number[], i: number) => number[] | null,
  note?: string,
): Promise<Measured | null> {
  if (!c.want(name)) return null;
  const data = shapes.map((s, i) => wave(prod(s), 0.013 * (i + 1)));
  const xs = shapes.map((s, i) => tensor(data[i], { shape: s }));
  let txs: TFTensor[] = [];
  const sides: Side[] = [oursSide(c.device, () => ours(xs))];
  let theirsMissing = c.tfMissing;
  if (c.tf && theirs) {
    const tf = c.tf;
    const ts = tfShapes(shapes);
    txs = shapes.map((s, i) => {
      const t = tf.tensor(data[i], s);
      const p = tfPerm(s, i);
      if (!p) return t;
      const r = tf.transpose(t, p);
      t.dispose();
      return r.reshape(ts[i]);
    });
    try {
      // one call first, so a TF.js failure is reported as TF.js's
      tf.tidy(() => {
        theirs(txs);
      });
      await syncTfjs(tf);
      sides.push(theirsSide(tf, () => theirs(txs)));
    } catch (e) {
      theirsMissing = `failed: ${firstLine(e)}`;
    }
  } else if (!theirs) theirsMissing = 'no TF.js counterpart';
  try {
    const t = await interleave(sides, { rounds: c.rounds, warmup: 1, targetMs: c.quick ? 0 : 300 });
    return progress({ name, work, unit, ours: t[0], theirs: t[1] ?? { missing: theirsMissing }, step: false, note });
  } catch (e) {
    return { name, work, unit, ours: { missing: `failed: ${firstLine(e)}` }, theirs: { missing: theirsMissing }, step: false, note };
  } finally {
    xs.forEach((t) => t.dispose());
    c.tf?.dispose(txs);
  }
}

const toNhwc = (s: number[]) => (s.length === 4 ? [0, 2, 3, 1] : null);

async function smallRows(c: Ctx): Promise<Measured[]> {
  const rows: (Measured | null)[] = [];
  const tf = c.tf;
  // matmul 1024³
  {
    const n = 1024;
    rows.push(
      await opRow(
        c,
        'matmul 1024³',
        { flops: 2 * n ** 3, bytes: 3 * n * n * 4 },
        'flop',
        [
          [n, n],
          [n, n],
        ],
        ([a, b]) => matmul(a, b),
        tf ? ([a, b]) => tf.matMul(a, b) : null,
        (s) => s,
        () => null,
      ),
    );
  }
  // conv 3×3 64→64 @80², dilation 1 and 2; depthwise 3×3 64 ch @80²
  const conv = (d: number, groups: number) => {
    const Cg = 64 / groups;
    const x = [1, 64, 80, 80],
      w = [64, Cg, 3, 3];
    const flops = convFlops({ N: 1, C: 64, O: 64, OH: 80, OW: 80, kH: 3, kW: 3, groups });
    const bytes = (prod(x) + prod(w) + prod(x)) * 4;
    const name = groups > 1 ? 'depthwise 3×3, 64 ch @80²' : d === 1 ? 'conv 3×3 64→64 @80²' : 'conv 3×3 64→64 @80², dilation 2';
    return opRow(
      c,
      name,
      { flops, bytes },
      'flop',
      [x, w],
      ([a, b]) => conv2d(a, b, { padding: d, dilation: d, groups }),
      tf
        ? ([a, b]) =>
            groups > 1
              ? tf.depthwiseConv2d(a as import('@tensorflow/tfjs').Tensor4D, b as import('@tensorflow/tfjs').Tensor4D, 1, 'same')
              : tf.conv2d(a as import('@tensorflow/tfjs').Tensor4D, b as import('@tensorflow/tfjs').Tensor4D, 1, 'same', 'NHWC', d)
        : null,
      // weights OIHW → HWIO (depthwise [C,1,3,3] → [3,3,C,1]: TF.js's [kH, kW, C, multiplier])
      (s) => [nhwc(s[0]), groups > 1 ? [3, 3, 64, 1] : [s[1][2], s[1][3], s[1][1], s[1][0]]],
      (s, i) => (i === 0 ? [0, 2, 3, 1] : [2, 3, 1, 0]),
    );
  };
  rows.push(await conv(1, 1));
  rows.push(await conv(2, 1));
  rows.push(await conv(1, 64));
  // transposed conv 4×4 stride 2 padding 1: [1,64,40,40] → [1,64,80,80]
  {
    const x = [1, 64, 40, 40],
      w = [64, 64, 4, 4];
    const flops = 2 * 64 * 64 * 40 * 40 * 16;
    rows.push(
      await opRow(
        c,
        'transposed conv 4×4/2, [1,64,40,40]→[1,64,80,80], padding 1',
        { flops, bytes: (prod(x) + prod(w) + 4 * prod(x)) * 4 },
        'flop',
        [x, w],
        ([a, b]) => convTranspose2d(a, b, { stride: 2, padding: 1 }),
        tf
          ? ([a, b]) => tf.conv2dTranspose(a as import('@tensorflow/tfjs').Tensor4D, b as import('@tensorflow/tfjs').Tensor4D, [1, 80, 80, 64], 2, 'same')
          : null,
        // weight [Cin, Cout, kH, kW] → TF.js [kH, kW, Cout, Cin]
        (s) => [nhwc(s[0]), [4, 4, 64, 64]],
        (s, i) => (i === 0 ? [0, 2, 3, 1] : [2, 3, 1, 0]),
      ),
    );
  }
  // max-pool 2×2 (ceil mode) of [1,64,320,320] (bench/suites/vision.ts's shape) and of [1,64,80,80];
  // bilinear ×2 of [1,64,80,80] (vision.ts's)
  for (const x of [
    [1, 64, 320, 320],
    [1, 64, 80, 80],
  ]) {
    rows.push(
      await opRow(
        c,
        `max-pool 2×2 /2, [${x.join(',')}]`,
        { flops: 0, bytes: prod(x) * 4 * 1.25 },
        'bytes',
        [x],
        ([a]) => maxPool2d(a, { kernelSize: 2, stride: 2, ceilMode: true }),
        tf ? ([a]) => tf.maxPool(a as import('@tensorflow/tfjs').Tensor4D, 2, 2, 'same') : null,
        (s) => [nhwc(s[0])],
        toNhwc,
      ),
    );
  }
  {
    const y = [1, 64, 80, 80];
    rows.push(
      await opRow(
        c,
        'bilinear resize ×2, [1,64,80,80]→160²',
        { flops: 0, bytes: prod(y) * 4 * 5 },
        'bytes',
        [y],
        ([a]) => interpolate(a, { scaleFactor: 2, mode: 'bilinear' }),
        tf ? ([a]) => tf.image.resizeBilinear(a as import('@tensorflow/tfjs').Tensor4D, [160, 160], false, true) : null,
        (s) => [nhwc(s[0])],
        toNhwc,
      ),
    );
  }
  // conv 3×3 64→64 @80²: forward + input and weight gradients (vjp in both libraries)
  {
    const x = [1, 64, 80, 80],
      w = [64, 64, 3, 3];
    const f = convFlops({ N: 1, C: 64, O: 64, OH: 80, OW: 80, kH: 3, kW: 3 });
    rows.push(
      await opRow(
        c,
        'conv 3×3 64→64 @80², forward + input & weight gradients',
        { flops: 3 * f, bytes: 3 * (2 * prod(x) + prod(w)) * 4 + prod(x) * 4 },
        'flop',
        [x, w, x],
        ([a, b, dy]) => {
          const [, pull] = vjp((xx: Tensor, ww: Tensor) => conv2d(xx, ww, { padding: 1 }), a, b);
          return pull(dy);
        },
        tf
          ? ([a, b, dy]) =>
              tf.grads((xx: TFTensor, ww: TFTensor) =>
                tf.conv2d(xx as import('@tensorflow/tfjs').Tensor4D, ww as import('@tensorflow/tfjs').Tensor4D, 1, 'same'),
              )([a, b], dy)
          : null,
        (s) => [nhwc(s[0]), [3, 3, 64, 64], nhwc(s[2])],
        (s, i) => (i === 1 ? [2, 3, 1, 0] : [0, 2, 3, 1]),
        'vjp / tf.grads: the forward runs too (3 convs of work)',
      ),
    );
  }
  return rows.filter((r): r is Measured => r !== null);
}

// ---------------------------------------------------------------- U²-Net

/** FLOPs and compulsory bytes of the lowered inference graph at N × S² (shape propagation). */
export function graphWork(g: U2NetInferenceGraph, N: number, S: number): Work {
  const shapes = new Map<string, number[]>([[g.input, [N, g.inChannels, S, S]]]);
  let flops = 0,
    bytes = 0;
  for (const o of g.ops) {
    let y: number[];
    if (o.op === 'conv') {
      const x = shapes.get(o.x)!;
      const [O, I, kH, kW] = o.weight.shape;
      y = [x[0], O, x[2], x[3]];
      flops += 2 * y[0] * O * y[2] * y[3] * I * kH * kW;
      bytes += (prod(x) + prod(y) + prod(o.weight.shape) + O) * 4;
    } else if (o.op === 'maxpool') {
      const x = shapes.get(o.x)!;
      y = [x[0], x[1], Math.ceil(x[2] / 2), Math.ceil(x[3] / 2)];
      bytes += (prod(x) + prod(y)) * 4;
    } else if (o.op === 'upsample') {
      const x = shapes.get(o.x)!,
        l = shapes.get(o.like)!;
      y = [x[0], x[1], l[2], l[3]];
      bytes += (prod(x) + prod(y)) * 4;
    } else if (o.op === 'concat') {
      const xs = o.xs.map((n) => shapes.get(n)!);
      y = [xs[0][0], xs.reduce((a, s) => a + s[1], 0), xs[0][2], xs[0][3]];
      bytes += 2 * prod(y) * 4;
    } else {
      const a = shapes.get(o.a)!;
      y = a;
      bytes += 3 * prod(a) * 4;
    }
    shapes.set(o.y, y);
  }
  return { flops, bytes };
}

/** webgrad's U²-Net forward from public ops on the lowered graph (conv2d with bias and fused ReLU, maxPool2d, interpolate, concat, add). */
function oursGraphForward(g: U2NetInferenceGraph): { forward: (x: Tensor) => Tensor[]; dispose: () => void } {
  const w = new Map<string, { weight: Tensor; bias: Tensor }>();
  for (const o of g.ops) {
    if (o.op !== 'conv') continue;
    w.set(o.y, {
      weight: tensor(o.weight.data as Float32Array, { shape: [...o.weight.shape] }),
      bias: tensor(o.bias.data as Float32Array, { shape: [...o.bias.shape] }),
    });
  }
  return {
    forward(x) {
      const vals = new Map<string, Tensor>([[g.input, x]]);
      for (const o of g.ops) {
        if (o.op === 'conv') {
          const p = w.get(o.y)!;
          vals.set(
            o.y,
            conv2d(vals.get(o.x)!, p.weight, {
              bias: p.bias,
              padding: o.padding,
              dilation: o.dilation,
              groups: o.groups,
              activation: o.relu ? 'relu' : 'none',
            }),
          );
        } else if (o.op === 'maxpool') vals.set(o.y, maxPool2d(vals.get(o.x)!, { kernelSize: 2, stride: 2, ceilMode: true }));
        else if (o.op === 'upsample') {
          const l = vals.get(o.like)!;
          vals.set(o.y, interpolate(vals.get(o.x)!, { size: [l.shape[2], l.shape[3]], mode: 'bilinear' }));
        } else if (o.op === 'concat')
          vals.set(
            o.y,
            concat(
              o.xs.map((n) => vals.get(n)!),
              1,
            ),
          );
        else vals.set(o.y, add(vals.get(o.a)!, vals.get(o.b)!));
      }
      return g.outputs.map((n) => vals.get(n)!);
    },
    dispose() {
      for (const p of w.values()) tree.dispose([p.weight, p.bias]);
    },
  };
}

/**
 * webgrad's U²-Net training step through the model's own path: model.apply (training mode), u2netLoss
 * (7-map BCE-with-logits), valueAndGrad, optim.sgd, on fixed synthetic data. `wrap` receives the pure step
 * function (params, state, x, y) → { params, state } and may return another with the same signature
 * (e.g. a captured/replayed one).
 */
export function makeSgdTrainer(
  model: U2NetModel,
  batch: number,
  size: number,
  { lr = 1e-3, wrap }: { lr?: number; wrap?: (f: SgdStepFn) => SgdStepFn } = {},
): StepRunner & { pure: SgdStepFn } {
  let { params, state } = model.init(random.key(0));
  const opt = optim.sgd({ lr });
  let optState = opt.init(params);
  const x = tensor(wave(batch * 3 * size * size, 0.37), { shape: [batch, 3, size, size] });
  const m = Float32Array.from({ length: batch * size * size }, (_, i) => (i % size > size / 3 && Math.floor(i / size) % size > size / 3 ? 1 : 0));
  const y = tensor(m, { shape: [batch, 1, size, size] });
  const lossFn = valueAndGrad(
    (p: any, st: any, xx: Tensor, yy: Tensor) => {
      const out = model.apply(p, st, xx, { training: true });
      return [u2netLoss(out.logits, yy), out.state];
    },
    { hasAux: true },
  );
  const pure: SgdStepFn = (p, st, os, xx, yy) =>
    tidy(() => {
      const [[loss, newState], grads] = lossFn(p, st, xx, yy);
      const u = opt.update(grads, os, p, { donate: true });
      loss.dispose();
      return { params: u.params, state: newState, optState: u.state };
    }) as ReturnType<SgdStepFn>;
  const run = wrap ? wrap(pure) : pure;
  return {
    pure,
    step() {
      const old = state;
      const r = run(params, state, optState, x, y);
      tree.dispose(old);
      ({ params, state, optState } = r);
    },
    dispose() {
      tree.dispose([params, state, optState, x, y]);
    },
  };
}

/** The pure SGD step of {@link makeSgdTrainer}: params are donated, so the old ones are invalid afterwards. */
export type SgdStepFn = (params: any, state: any, optState: any, x: Tensor, y: Tensor) => { params: any; state: any; optState: any };

async function u2netRows(c: Ctx): Promise<Measured[]> {
  const { device, tf } = c;
  const S = c.quick ? 64 : 320;
  const doForward = c.want(`U²-NetP forward ${S}²`);
  const doTrain = c.want(`U²-NetP training step ${S}²`);
  if (!doForward && !doTrain) return [];
  const model = u2net({ model: 'u2netp' });
  const { params, state } = model.init(random.key(0));
  const g = await u2netInferenceGraph(model, params, state);
  const fwdWork = graphWork(g, 1, S);
  const rows: Measured[] = [];
  const xData = wave(3 * S * S, 0.11);
  const x = tensor(xData, { shape: [1, 3, S, S] });

  if (doForward) {
    // forward: TF.js from public ops, webgrad from public ops, model.apply eval, folded predictor; one interleaving
    const pub = oursGraphForward(g);
    const pred = await u2netPredictor(model, params, state, { precision: 'fp32' });
    const fwdSides: { name: string; side: Side }[] = [
      { name: `U²-NetP forward ${S}², built from public ops`, side: oursSide(device, () => pub.forward(x)) },
      { name: `U²-NetP forward ${S}², model.apply (eval)`, side: oursSide(device, () => model.apply(params, state, x, { training: false })) },
      { name: `U²-NetP forward ${S}², folded (u2netPredictor fp32)`, side: oursSide(device, () => pred.predict(x)) },
    ];
    const extraFwd: StepRunner[] = [];
    for (const v of stepVariants.filter((s) => s.kind === 'forward')) {
      const r = await v.make({ device, model, batch: 1, size: S, makeTrainer: makeSgdTrainer });
      extraFwd.push(r);
      fwdSides.push({ name: `U²-NetP forward ${S}², ${v.name}`, side: { run: () => r.step(), sync: () => device.sync() } });
    }
    let tfx: TFTensor | null = null;
    let tfNet: ReturnType<typeof tfU2Net> | null = null;
    const sides = fwdSides.map((s) => s.side);
    if (tf) {
      tfNet = tfU2Net(tf, g);
      tfx = tf.tidy(() => tf.transpose(tf.tensor(xData, [1, 3, S, S]), [0, 2, 3, 1]));
      const net = tfNet,
        input = tfx as import('@tensorflow/tfjs').Tensor4D;
      sides.push(theirsSide(tf, () => net.forward(input)));
    }
    try {
      const t = await interleave(sides, { rounds: c.stepRounds, iters: 1, warmup: 1 });
      const theirs = tf ? t[t.length - 1] : { missing: c.tfMissing };
      fwdSides.forEach((s, i) =>
        rows.push(
          progress({
            name: s.name,
            work: fwdWork,
            unit: 'flop',
            ours: t[i],
            theirs,
            step: true,
            note: i === 0 ? 'TF.js: the same lowered graph (BN folded) from its public ops (bench/peers/tfjs-u2net.ts)' : undefined,
          }),
        ),
      );
    } catch (e) {
      rows.push({
        name: `U²-NetP forward ${S}²`,
        work: fwdWork,
        unit: 'flop',
        ours: { missing: `failed: ${firstLine(e)}` },
        theirs: { missing: '' },
        step: true,
      });
    }
    pub.dispose();
    pred.dispose();
    extraFwd.forEach((r) => r.dispose());
    tfNet?.dispose();
    if (tfx) tf?.dispose(tfx);
  }
  x.dispose();

  if (doTrain) {
    // training step, batch 1, SGD: webgrad's model path (+ variants) vs TF.js from public ops
    const trainWork: Work = { flops: 3 * fwdWork.flops, bytes: 3 * fwdWork.bytes };
    const trainers: { name: string; r: StepRunner }[] = [{ name: `U²-NetP training step ${S}², batch 1 (SGD)`, r: makeSgdTrainer(model, 1, S) }];
    for (const v of stepVariants.filter((s) => s.kind === 'train')) {
      trainers.push({
        name: `U²-NetP training step ${S}², batch 1 (SGD), ${v.name}`,
        r: await v.make({ device, model, batch: 1, size: S, makeTrainer: makeSgdTrainer }),
      });
    }
    const tSides: Side[] = trainers.map(({ r }) => ({ run: () => r.step(), sync: () => device.sync() }));
    let tfTrainer: ReturnType<typeof tfU2NetTrainer> | null = null;
    let tfTrainMissing = c.tfMissing;
    if (tf) {
      try {
        tfTrainer = tfU2NetTrainer(tf, g, 1, S);
        const tt = tfTrainer;
        tSides.push({ run: () => tt.step(), sync: () => syncTfjs(tf) });
      } catch (e) {
        tfTrainMissing = firstLine(e);
      }
    }
    try {
      const t = await interleave(tSides, { rounds: c.stepRounds, iters: 1, warmup: 1 });
      const theirs = tfTrainer ? t[t.length - 1] : { missing: tfTrainMissing };
      trainers.forEach(({ name }, i) =>
        rows.push(
          progress({
            name,
            work: trainWork,
            unit: 'flop',
            ours: t[i],
            theirs,
            step: true,
            note:
              i === 0
                ? 'webgrad: model.apply + u2netLoss + valueAndGrad + optim.sgd; TF.js: conv+BN(batch stats)+ReLU from public ops, dilated convs via spaceToBatchND, tf.train.sgd; work ≈ 3× the forward'
                : undefined,
          }),
        ),
      );
    } catch (e) {
      rows.push({
        name: trainers[0].name,
        work: trainWork,
        unit: 'flop',
        ours: { missing: `failed: ${firstLine(e)}` },
        theirs: { missing: tfTrainMissing },
        step: true,
      });
    }
    trainers.forEach(({ r }) => r.dispose());
    tfTrainer?.dispose();
  }
  tree.dispose([params, state]);
  return rows;
}

// ---------------------------------------------------------------- report

const ms = (t: SideTiming | { missing: string }) => ('ms' in t ? median(t.ms) : null);

/** The printed table: ms, ratio, work, roof fractions, dispatches and host ms. */
export function formatPeersTable(rows: Measured[], roof: RoofMeasurement): string {
  const body = rows.map((r) => {
    const o = ms(r.ours),
      t = ms(r.theirs);
    const fo = o === null ? null : roofFraction(r.work, o / 1e3, roof),
      ft = t === null ? null : roofFraction(r.work, t / 1e3, roof);
    const pct = (f: number | null) => (f === null ? '—' : `${(100 * f).toPrecision(2)}%`);
    const step = (s: SideTiming | { missing: string }) => ('ms' in s && r.step ? `${s.dispatches} / ${sig3(median(s.hostMs))}` : '—');
    const miss = (s: SideTiming | { missing: string }) => ('missing' in s ? `n/a` : sig3(median(s.ms)));
    return [
      r.name,
      miss(r.theirs),
      miss(r.ours),
      formatSpeedup(speedup(o, t)),
      r.unit === 'flop' ? `${si(r.work.flops)}FLOP` : `${si(r.work.bytes)}B`,
      boundBy(r.work, roof),
      pct(ft),
      pct(fo),
      step(r.theirs),
      step(r.ours),
    ];
  });
  const table = textTable(
    ['workload', 'TF.js ms', 'webgrad ms', 'webgrad vs TF.js', 'work', 'bound', 'TF.js roof', 'webgrad roof', 'TF.js disp/host ms', 'webgrad disp/host ms'],
    body,
  );
  const missing = rows
    .flatMap((r) => [
      'missing' in r.ours ? `  ${r.name}: webgrad ${r.ours.missing}` : '',
      'missing' in r.theirs && r.theirs.missing ? `  ${r.name}: TF.js ${r.theirs.missing}` : '',
    ])
    .filter(Boolean);
  const notes = rows.filter((r) => r.note).map((r) => `  ${r.name}: ${r.note}`);
  return [table, ...(missing.length ? ['not measured:', ...missing] : []), ...(notes.length ? ['notes:', ...notes] : [])].join('\n');
}

/** Runs everything; returns the harness rows (metric ms, peer = TF.js) and prints the table. */
export const peersTableSuite: Suite = async ({ device, quick }) => {
  // flags (standalone) or environment variables (also through `npm run bench`)
  const arg = (flag: string, env: string): string | undefined => {
    const i = process.argv.indexOf(flag);
    return i >= 0 ? process.argv[i + 1] : process.env[env];
  };
  const count = (flag: string, env: string, d: number) => {
    const v = arg(flag, env);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`peers-table: ${flag} must be a whole number ≥ 1; got ${JSON.stringify(v)}`);
    return n;
  };
  const rounds = count('--rounds', 'PEERS_TABLE_ROUNDS', quick ? 1 : 3);
  const stepRounds = count('--step-rounds', 'PEERS_TABLE_STEP_ROUNDS', quick ? 1 : 2);
  const only = arg('--only', 'PEERS_TABLE_ONLY')?.split(',') ?? null;
  countDispatches();
  let tf: Tfjs | null = null,
    tfMissing = '';
  try {
    tf = await initTfjsWebGPU();
  } catch (e) {
    tfMissing = `TF.js WebGPU unavailable: ${firstLine(e)}`;
  }
  // 'u2net' also matches the U²-Net rows
  const want = (name: string) => !only || only.some((w) => name.toLowerCase().replace('u²-net', 'u2net').includes(w.toLowerCase()));
  const c: Ctx = { device, tf, tfMissing, rounds, stepRounds, quick, want };
  // the roof is the best a kernel reaches: measured before and after the table (the load on a shared machine drifts)
  const before = await measureRoof(device, { quick });
  console.log(formatRoof(before));
  // the forward rows share one interleaving with TF.js: a filter that keeps one keeps them all
  const rows: Measured[] = [...(await smallRows(c)), ...(await u2netRows(c))];
  const after = await measureRoof(device, { quick });
  console.log(`after the table: ${formatRoof(after)}`);
  const roof = bestRoof(before, after);
  const adapter = device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown adapter';
  console.log(
    `\nissue 17 table on ${adapter}: median of ${rounds} interleaved round(s), U²-Net rows ${stepRounds}${quick ? ' (quick: U²-NetP at 64²)' : ''}\n${formatPeersTable(rows, roof)}`,
  );
  return rows.map((r): BenchRow => {
    const o = ms(r.ours),
      t = ms(r.theirs);
    const fo = o === null ? null : roofFraction(r.work, o / 1e3, roof);
    const stepNote = 'ms' in r.ours && r.step ? `, ${r.ours.dispatches} dispatches, host ${sig3(median(r.ours.hostMs))} ms/step` : '';
    return {
      suite: 'peers-table',
      name: r.name,
      metric: 'ms',
      value: o ?? NaN,
      peer: t === null ? { name: 'tfjs-webgpu', missing: 'missing' in r.theirs ? r.theirs.missing : '' } : { name: 'tfjs-webgpu', value: t },
      note: `${fo === null ? '' : `${(100 * fo).toPrecision(2)}% of roof`}${stepNote}`,
      error: 'missing' in r.ours ? r.ours.missing : undefined,
    };
  });
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  await peersTableSuite({ device, quick: process.argv.includes('--quick') });
  process.exit(0);
}
