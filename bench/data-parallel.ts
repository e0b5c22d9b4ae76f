/**
 * Data-parallel training throughput: images/s and scaling efficiency of U²-NetP (320², global batch 4) and
 * ResNet-18 (global batch 8) at K = 1, 2, 4 devices, the batch split across them (strong scaling: the global batch
 * stays fixed, so K = 4 gives U²-NetP one image per device), one worker thread per device. The first row of each
 * model is the plain single-device step (no trainer) for the trainer's own overhead. Prints a markdown table.
 *   npx tsx bench/data-parallel.ts [--k 1,2,4] [--models u2netp,resnet18] [--steps 3] [--warmup 1]
 *                                  [--u2net-size 320] [--u2net-batch 4] [--resnet-size 224] [--resnet-batch 8] [--threads=false]
 * The MPI row: `mpirun -np 2 --allow-run-as-root node --import tsx bench/data-parallel.ts --mpi [--models …]`: each
 * process is one rank driving one device through the MPI collective (src/parallel/node/mpi-collective.ts); rank 0 prints.
 * Every device here sits on the one adapter `webgrad devices` lists; on a CPU adapter (lavapipe) they share the
 * same cores, so K devices cannot beat one: the table then measures the trainer's overhead, not a speed-up.
 */
import { init, random, tensor, tidy, tree, valueAndGrad, type Tensor } from '../src/node';
import { dataParallel, type Collective, type HostBatch } from '../src/parallel';
import { parseArgsOrExit } from '../src/cli/args';
import { syntheticSample } from '../src/sod/synthetic';
import { assembleBatch } from '../src/sod/batches';
import { U2NET_REPLICA_DEFAULTS, u2netReplica, u2netReplicaUrl } from '../src/cli/replicas/u2net';
import { RESNET_REPLICA_DEFAULTS, resnetReplica, resnetReplicaUrl } from '../src/cli/replicas/resnet';
import { listAdapters } from '../src/cli/adapters';

const args = parseArgsOrExit(
  process.argv.slice(2),
  {
    k: { default: '1,2,4', help: 'device counts to measure' },
    models: { default: 'u2netp,resnet18', help: 'u2netp and/or resnet18' },
    steps: { default: 3, help: 'timed steps per row', int: true, min: 1 },
    warmup: { default: 1, help: 'untimed steps first (pipeline compiles, pool warm-up)', int: true, min: 0 },
    'u2net-size': { default: 320, help: 'U²-NetP input size', int: true, min: 32 },
    'u2net-batch': { default: 4, help: 'U²-NetP global batch', int: true, min: 1 },
    'resnet-size': { default: 224, help: 'ResNet-18 input size', int: true, min: 32 },
    'resnet-batch': { default: 8, help: 'ResNet-18 global batch', int: true, min: 1 },
    'resnet-classes': { default: 10, help: 'ResNet-18 head classes', int: true, min: 2 },
    threads: { default: true, help: 'one worker thread per device (false: all replicas in this thread)' },
    mpi: { default: false, help: 'this process is one rank of an MPI job (mpirun -np N): one device per rank, the MPI collective; rank 0 prints' },
    json: { default: '', help: 'also write the rows as JSON to this file' },
  },
  'usage: npx tsx bench/data-parallel.ts [options]',
  'bench/data-parallel',
);
const ks = args.k.split(',').map(Number);
if (ks.some((k) => !Number.isInteger(k) || k < 1)) throw new Error(`--k: expected a comma list of positive integers; got '${args.k}'`);

const device = await init({ sleepWhileWaiting: true });
const [adapter] = await listAdapters();

/** One model's workload: its replica (module URL for threads, spec for this thread), a batch, the plain step. */
interface Workload {
  name: string;
  input: string;
  batch: number;
  replicaUrl: URL;
  replicaSpec: ReturnType<typeof u2netReplica> | ReturnType<typeof resnetReplica>;
  makeBatch(step: number): HostBatch;
}

function u2netWorkload(): Workload {
  const size = args['u2net-size'],
    b = args['u2net-batch'];
  const settings = { ...U2NET_REPLICA_DEFAULTS, model: 'u2netp' };
  return {
    name: 'U²-NetP',
    input: `${size}²`,
    batch: b,
    replicaUrl: u2netReplicaUrl(settings),
    replicaSpec: u2netReplica(settings),
    makeBatch(step) {
      const pairs = Array.from({ length: b }, (_, i) => syntheticSample(0, step * b + i, size));
      const { images, masks } = assembleBatch(pairs, { crop: size, flip: 'horizontal', key: random.foldIn(random.key(1), step) });
      return { image: { data: images, shape: [b, 3, size, size] }, mask: { data: masks, shape: [b, 1, size, size] } };
    },
  };
}

function resnetWorkload(): Workload {
  const size = args['resnet-size'],
    b = args['resnet-batch'],
    classes = args['resnet-classes'];
  const settings = { ...RESNET_REPLICA_DEFAULTS, model: 'resnet18', numClasses: classes, lr: 0.01 };
  return {
    name: 'ResNet-18',
    input: `${size}²`,
    batch: b,
    replicaUrl: resnetReplicaUrl(settings),
    replicaSpec: resnetReplica(settings),
    makeBatch(step) {
      const n = b * 3 * size * size;
      const image = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.0137 + step));
      const label = Int32Array.from({ length: b }, (_, i) => (i * 7 + step) % classes);
      return { image: { data: image, shape: [b, 3, size, size] }, label: { data: label, shape: [b] } };
    },
  };
}

interface Row {
  model: string;
  input: string;
  batch: number;
  k: number;
  mode: string;
  imagesPerSecond: number;
  stepMs: number;
  allReduceMs?: number;
  hiddenFraction?: number;
  gradientMB?: number;
  error?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The plain single-device step (what `train-u2net` without --devices runs): forward, backward, update in one tidy. */
async function plainRow(w: Workload): Promise<Row> {
  const spec = w.replicaSpec;
  let { params, state } = spec.init(random.key(0));
  const opt = spec.optimizer();
  let optState = opt.init(params);
  const grad = valueAndGrad((p: any, s: any, b: Record<string, Tensor>) => spec.loss(p, s, b), { hasAux: true });
  const times: number[] = [];
  for (let i = 0; i < args.warmup + args.steps; i++) {
    const hb = w.makeBatch(i);
    const t0 = performance.now();
    const old = state;
    const r = tidy(() => {
      const batch = Object.fromEntries(Object.entries(hb).map(([k, v]) => [k, tensor(v.data, { shape: v.shape })]));
      const [[loss, aux], g] = grad(params, state, batch);
      const u = opt.update(g, optState, params, { donate: true });
      return { loss, state: (aux as { state: any }).state, params: u.params, optState: u.state };
    });
    tree.dispose(old);
    ({ params, state, optState } = r);
    await r.loss.item();
    r.loss.dispose();
    if (i >= args.warmup) times.push(performance.now() - t0);
  }
  tree.dispose([params, state, optState.slots]);
  const ms = median(times);
  return { model: w.name, input: w.input, batch: w.batch, k: 1, mode: 'single device (no trainer)', imagesPerSecond: (1000 * w.batch) / ms, stepMs: ms };
}

// with --mpi: this process is rank `mpi.rank` of `mpi.size`, driving one device
// (a specifier in a variable: the MPI collective is optional, and so is its module)
const MPI_MODULE = '../src/parallel/node/mpi-collective';
const mpi: (Collective & { library: string; finalize(): Promise<void> }) | null = args.mpi ? await (await import(MPI_MODULE)).mpiCollective() : null;
const modeName = mpi ? `MPI, ${mpi.size} ranks (${mpi.library.split(',')[0]})` : args.threads ? 'worker threads' : 'one thread';

async function parallelRow(w: Workload, k: number): Promise<Row> {
  const dp = mpi
    ? await dataParallel({ replica: w.replicaSpec, devices: 1, collective: mpi, seed: 0 })
    : await dataParallel({ replica: args.threads ? w.replicaUrl : w.replicaSpec, devices: k, threads: args.threads, seed: 0 });
  try {
    const times: number[] = [],
      reduce: number[] = [],
      hidden: number[] = [];
    let bytes = 0;
    for (let i = 0; i < args.warmup + args.steps; i++) {
      const batch = w.makeBatch(i);
      const t0 = performance.now();
      const r = await dp.step(batch);
      if (i < args.warmup) continue;
      times.push(performance.now() - t0);
      reduce.push(r.stats.allReduceMs);
      hidden.push(r.stats.hiddenFraction);
      bytes = r.stats.bytes;
    }
    const ms = median(times);
    return {
      model: w.name,
      input: w.input,
      batch: w.batch,
      k,
      mode: modeName,
      imagesPerSecond: (1000 * w.batch) / ms,
      stepMs: ms,
      allReduceMs: median(reduce),
      hiddenFraction: hidden.reduce((a, b) => a + b, 0) / hidden.length,
      gradientMB: bytes / 2 ** 20,
    };
  } finally {
    await dp.close();
  }
}

const workloads = args.models.split(',').map((m) => {
  if (m === 'u2netp') return u2netWorkload();
  if (m === 'resnet18') return resnetWorkload();
  throw new Error(`--models: unknown model '${m}'; expected u2netp, resnet18`);
});

const rows: Row[] = [];
const fail = (w: Workload, k: number, mode: string, e: unknown): Row => ({
  model: w.name,
  input: w.input,
  batch: w.batch,
  k,
  mode,
  imagesPerSecond: NaN,
  stepMs: NaN,
  error: String((e as Error)?.message ?? e).split('\n')[0],
});
for (const w of workloads) {
  if (mpi) {
    // one row: K = the job's ranks, one device each
    rows.push(await parallelRow(w, mpi.size).catch((e) => fail(w, mpi.size, modeName, e)));
    if (mpi.rank === 0) console.error(JSON.stringify(rows[rows.length - 1]));
    continue;
  }
  console.error(`${w.name}: plain single-device step`);
  rows.push(await plainRow(w).catch((e) => fail(w, 1, 'single device (no trainer)', e)));
  console.error(JSON.stringify(rows[rows.length - 1]));
  for (const k of ks) {
    if (k > w.batch) continue;
    console.error(`${w.name}: K = ${k}`);
    rows.push(await parallelRow(w, k).catch((e) => fail(w, k, modeName, e)));
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
}

const f = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
const table = [
  '| model | input | global batch | K | mode | images/s | speed-up | scaling efficiency | step ms | all-reduce ms | hidden behind backward | gradients MB |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const base = rows.find((b) => b.model === r.model && b.k === 1 && b.mode === r.mode && !b.error);
    const speedUp = base ? r.imagesPerSecond / base.imagesPerSecond : NaN;
    const eff = speedUp / r.k;
    return `| ${r.model} | ${r.input} | ${r.batch} | ${r.k} | ${r.mode}${r.error ? ` (failed: ${r.error})` : ''} | ${f(r.imagesPerSecond, 2)} | ${f(speedUp, 2)}× | ${f(100 * eff, 0)}% | ${f(r.stepMs, 0)} | ${f(r.allReduceMs, 0)} | ${r.hiddenFraction === undefined ? '—' : `${f(100 * r.hiddenFraction, 0)}%`} | ${f(r.gradientMB, 1)} |`;
  }),
].join('\n');
if (mpi) {
  await mpi.finalize();
  if (mpi.rank !== 0) process.exit(0);
}
console.log(`adapter: ${adapter?.name ?? device.adapterInfo?.description} (${adapter?.backend ?? '?'}); every device on it; ${new Date().toISOString()}\n`);
console.log(table);
if (args.json) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(args.json, `${JSON.stringify({ adapter, rows }, null, 2)}\n`);
}
process.exit(0);
