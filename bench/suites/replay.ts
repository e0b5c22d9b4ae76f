/**
 * Per-step overhead before and after captureStep (record once, replay): dispatches and submits per step, host
 * milliseconds per step (the call alone: building and submitting the work, the GPU idle before it starts and
 * not awaited) and wall milliseconds per step (call plus GPU, awaited), eager vs replayed, interleaved in
 * rounds in one process (best of the rounds). Rows: the MLP SGD step (examples/mlp-core.ts, whole step
 * captured) and a U²-NetP training step (forward, 7-map BCE and backward captured, Adam eager outside, as
 * make_graphed_callables does).
 * Standalone: `npx tsx bench/suites/replay.ts [--quick] [--crop N] [--batch N] [--rounds N]`.
 */
import { captureStep, init, optim, random, tensor, tree, valueAndGrad, type Device, type Tensor } from '../../src/node';
import { makeData, initParams, sgdStep, type Params } from '../../examples/mlp-core';
import { u2net, u2netLoss } from '../../src/models/u2net/model';
import type { BenchRow, Suite } from '../lib';

/** A step to time: `run` does one step (returns nothing alive), `dispose` frees its state. */
interface Stepper {
  run(): void;
  dispose(): void;
}

interface Figures {
  dispatches: number;
  submits: number;
  hostMs: number;
  wallMs: number;
}

/** Best-of-rounds host ms (each step timed alone after a sync) and wall ms (steps back to back, then synced). */
async function measure(device: Device, s: Stepper, steps: number): Promise<Figures> {
  await device.sync();
  const d0 = device.queue.dispatchCount;
  const s0 = device.queue.submitCount;
  let hostMs = Infinity;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    s.run();
    hostMs = Math.min(hostMs, performance.now() - t0);
    await device.sync();
  }
  const dispatches = (device.queue.dispatchCount - d0) / steps;
  const submits = (device.queue.submitCount - s0) / steps;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) s.run();
  await device.sync();
  return { dispatches, submits, hostMs, wallMs: (performance.now() - t0) / steps };
}

function mlpSteppers(): { eager: Stepper; replay: Stepper & { stats: () => ReturnType<typeof statsOf> } } {
  const { x, y } = makeData(256);
  let pe: Params = initParams();
  let pr: Params = initParams();
  const captured = captureStep((p: Params, xx: Tensor, yy: Tensor) => sgdStep(p, xx, yy, 0.05));
  return {
    eager: {
      run() {
        const r = sgdStep(pe, x, y, 0.05);
        pe = r.params;
        r.loss.dispose();
      },
      dispose: () => tree.dispose(pe),
    },
    replay: {
      run() {
        const r = captured(pr, x, y);
        tree.dispose(pr);
        pr = r.params;
        r.loss.dispose();
      },
      dispose() {
        tree.dispose([pr, x, y]);
        captured.dispose();
      },
      stats: () => statsOf(captured),
    },
  };
}

const statsOf = (c: { stats: { dispatches: number; copies: number; captureMs: number; replayMs: number } }) => ({ ...c.stats });

function u2netSteppers(batch: number, crop: number): { eager: Stepper; replay: Stepper & { stats: () => ReturnType<typeof statsOf> } } {
  const model = u2net({ model: 'u2netp' });
  const img = Float32Array.from({ length: batch * 3 * crop * crop }, (_, i) => Math.sin(i * 0.37) * 0.5);
  const mask = Float32Array.from({ length: batch * crop * crop }, (_, i) => (i % crop > crop / 3 && Math.floor(i / crop) % crop > crop / 3 ? 1 : 0));
  const x = tensor(img, { shape: [batch, 3, crop, crop] });
  const y = tensor(mask, { shape: [batch, 1, crop, crop] });
  const lossFn = valueAndGrad(
    (p: any, st: any, xx: Tensor, yy: Tensor) => {
      const out = model.apply(p, st, xx, { training: true });
      return [u2netLoss(out.logits, yy), out.state];
    },
    { hasAux: true },
  );
  const gradStep = (p: any, st: any, xx: Tensor, yy: Tensor) => {
    const [[loss, state], grads] = lossFn(p, st, xx, yy);
    return { loss, state, grads };
  };
  const opt = optim.adam({ lr: 1e-3 });
  const make = (step: typeof gradStep): Stepper => {
    let { params, state } = model.init(random.key(0));
    let optState = opt.init(params);
    return {
      run() {
        const r = step(params, state, x, y);
        const u = opt.update(r.grads, optState, params, { donate: true });
        tree.dispose([r.grads, r.loss, state]);
        params = u.params;
        optState = u.state;
        state = r.state;
      },
      dispose: () => tree.dispose([params, state, optState]),
    };
  };
  // eager: the whole step inside tidy, as bench/suites/u2net.ts's trainer does
  const eager = make((p, st, xx, yy) => gradStep(p, st, xx, yy));
  const captured = captureStep(gradStep);
  const replay = make(captured);
  return {
    eager,
    replay: {
      ...replay,
      dispose() {
        replay.dispose();
        tree.dispose([x, y]);
        captured.dispose();
      },
      stats: () => statsOf(captured),
    },
  };
}

/** Eager and replayed figures, interleaved over `rounds` (the best of each). */
async function compare(device: Device, pair: ReturnType<typeof mlpSteppers>, rounds: number, steps: number) {
  pair.eager.run();
  pair.replay.run(); // captures
  pair.replay.run(); // first replay
  await device.sync();
  let e: Figures | null = null;
  let r: Figures | null = null;
  const best = (a: Figures | null, b: Figures) => (a ? { ...b, hostMs: Math.min(a.hostMs, b.hostMs), wallMs: Math.min(a.wallMs, b.wallMs) } : b);
  for (let i = 0; i < rounds; i++) {
    e = best(e, await measure(device, pair.eager, steps));
    r = best(r, await measure(device, pair.replay, steps));
  }
  const stats = pair.replay.stats();
  pair.eager.dispose();
  pair.replay.dispose();
  return { eager: e!, replay: r!, stats };
}

function rows(name: string, c: Awaited<ReturnType<typeof compare>>): BenchRow[] {
  const { eager: e, replay: r, stats } = c;
  const note = (f: Figures) => `${f.dispatches.toFixed(0)} dispatches, ${f.submits.toFixed(0)} submits, wall ${f.wallMs.toFixed(1)} ms/step`;
  return [
    { suite: 'replay', name: `${name}, eager: host ms/step`, metric: 'ms', value: e.hostMs, note: note(e) },
    {
      suite: 'replay',
      name: `${name}, replayed: host ms/step`,
      metric: 'ms',
      value: r.hostMs,
      note: `${note(r)}; ${(e.hostMs / r.hostMs).toFixed(1)}× less host time, wall ${(e.wallMs / r.wallMs).toFixed(2)}×; capture ${stats.captureMs.toFixed(0)} ms; the captured call: ${stats.dispatches} dispatches + ${stats.copies} copies, host ${stats.replayMs.toFixed(2)} ms`,
    },
  ];
}

export const replaySuite: Suite = async ({ device, quick }) => {
  const out: BenchRow[] = [];
  out.push(...rows('MLP 2-16-1 SGD step, batch 256', await compare(device, mlpSteppers(), quick ? 2 : 5, quick ? 5 : 20)));
  out.push(...rows('U²-NetP train step (Adam) crop 64, batch 1', await compare(device, u2netSteppers(1, 64), quick ? 1 : 3, quick ? 2 : 3)));
  return out;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const opt = (n: string, d: number) => {
    const i = argv.indexOf(n);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  const device = await init();
  console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}`);
  const quick = argv.includes('--quick');
  const rounds = opt('--rounds', quick ? 2 : 3);
  const print = (rs: BenchRow[]) => {
    for (const r of rs) console.log(`${r.name.padEnd(58)} ${r.value.toFixed(2).padStart(9)} ${r.metric}  ${r.note ?? ''}`);
  };
  print(rows('MLP 2-16-1 SGD step, batch 256', await compare(device, mlpSteppers(), rounds * 2, quick ? 5 : 20)));
  const crop = opt('--crop', 64);
  const batch = opt('--batch', 1);
  print(rows(`U²-NetP train step (Adam) crop ${crop}, batch ${batch}`, await compare(device, u2netSteppers(batch, crop), rounds, quick ? 2 : 3)));
  process.exit(0);
}
