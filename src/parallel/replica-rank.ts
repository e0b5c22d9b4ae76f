/**
 * One rank of a data-parallel group: a replica's parameters, state and optimizer on one device, and its part of
 * each step (forward/backward on its slice, gradients reduced in buckets through the collective, the optimizer
 * update every rank applies identically). The same code runs in the trainer's thread (one rank per device, the
 * ranks' work interleaved at their awaits) and in worker threads (one rank per worker).
 */
import type { Device } from '../kernels/webgpu/device';
import { setDefaultDevice } from '../kernels/webgpu/devices';
import { Tensor } from '../tensor/tensor';
import { memory, tidy } from '../tensor/scope';
import * as tree from '../tensor/tree';
import { valueAndGrad } from '../tensor/autograd';
import { tensor } from '../tensor/ops/creation';
import { mul } from '../tensor/ops/elementwise';
import { reshape } from '../tensor/ops/shape-ops';
import { concat } from '../tensor/ops/layout';
import { key } from '../base/random';
import type { AbortableCollective } from './abortable';
import { syncBatchNorm } from '../tensor/ops/collective';
import { planBuckets, type Bucket } from './buckets';
import { fromHostLeaves, skeleton, toHostLeaves, type HostLeaves, type HostTrainingState } from './host-tree';
import type { ReplicaOptimizer as Optimizer, ReplicaOptimizerState as OptimizerState, ReplicaSpec } from './replica';
import type { HostBatch } from './split';

/** Timings of one rank's step, in milliseconds (see {@link DataParallelStats}). */
export interface RankStats {
  /** Encoding forward and backward (host time). */
  encodeMs: number;
  /** Time inside the collective's allReduce, all buckets. */
  allReduceMs: number;
  /** The part of allReduceMs spent while backward was still running on the GPU (before the last bucket's values arrived, i.e. before the GPU had finished backward). */
  hiddenMs: number;
  /** The whole step on this rank. */
  stepMs: number;
  /** Buckets reduced. */
  buckets: number;
  /** Gradient bytes reduced. */
  bytes: number;
  /** Live tensors on this rank's device after the step. */
  liveTensors: number;
  /** GPU bytes held by them. */
  liveBytes: number;
}

/** What a rank reports after a step. */
export interface RankStepResult {
  /** This rank's loss (mean over its slice). */
  loss: number;
  /** Timings. */
  stats: RankStats;
}

/** Options every rank of a group shares. */
export interface RankOptions {
  /** Bucket size for the gradient all-reduce. */
  bucketBytes: number;
  /**
   * BatchNorm statistics over all ranks (every rank's state is then the same; no averaging after the step), through
   * this collective: a group of its own, because the statistics are reduced while the GPU runs (device gates), in
   * an order that interleaves differently with the gradient buckets on each rank.
   */
  syncBatchNorm: AbortableCollective | null;
  /** Read buckets back as soon as they are final (default true); false: after backward. */
  overlap?: boolean;
}

const isFloat = (t: unknown): t is Tensor => t instanceof Tensor && t.dtype === 'float32';
const now = () => performance.now();

/** Replaces the float32 leaves of `t` (in flatten order) with values from `flat`, uploaded to `device`; disposes the old ones. */
function replaceFloats<T>(t: T, flat: Float32Array, device: Device): T {
  let off = 0;
  return tree.map(t, (leaf: unknown) => {
    if (!isFloat(leaf)) return leaf;
    const next = tensor(flat.subarray(off, off + leaf.size), { shape: leaf.shape, device });
    off += leaf.size;
    leaf.dispose();
    return next;
  });
}

/** The float32 leaves of `t`, read back into one array (in flatten order). */
async function readFloats(t: unknown): Promise<Float32Array> {
  const leaves = tree.leaves(t).filter(isFloat);
  const parts = leaves.map((l) => l.data());
  const out = new Float32Array(leaves.reduce((s, l) => s + l.size, 0));
  let off = 0;
  for (const p of parts) {
    const d = (await p) as Float32Array;
    out.set(d, off);
    off += d.length;
  }
  return out;
}

/** Disposes the tensors of `old` that `next` does not hold. */
function disposeReplaced(old: unknown, next: unknown): void {
  const keep = new Set(tree.tensors(next));
  for (const t of tree.tensors(old)) if (!keep.has(t)) t.dispose();
}

/** One replica on one device. */
export class ReplicaRank {
  private params: unknown = null;
  private state: unknown = null;
  private optState: OptimizerState | null = null;
  private readonly opt: Optimizer;
  private buckets: Bucket[] = [];
  private paramShapes: (readonly number[] | null)[] = [];
  private paramIndex = new Map<string, number>();
  private bucketOf: number[] = [];
  /** The step in progress: gradients final so far per bucket, and the buckets' read-backs once started. */
  private inFlight: { ready: (Tensor | null)[][]; missing: number[]; reads: (Promise<Float32Array> | null)[]; readAt: number[] } | null = null;
  private readonly step_: (p: unknown, s: unknown, b: Record<string, Tensor>, w: number) => [[Tensor, { state: unknown; loss: Tensor }], unknown];

  constructor(
    private readonly spec: ReplicaSpec,
    /** The device this rank runs on. */
    readonly device: Device,
    private readonly collective: AbortableCollective,
    private readonly options: RankOptions,
  ) {
    this.opt = spec.optimizer();
    const early = options.overlap !== false && options.syncBatchNorm !== collective;
    const vg = valueAndGrad(
      (p: unknown, s: unknown, b: Record<string, Tensor>, w: number) => {
        const out = spec.loss(p, s, b);
        if (!Array.isArray(out) || !(out[0] instanceof Tensor) || typeof out[1] !== 'object' || out[1] === null)
          throw new TypeError('dataParallel: the replica loss must return [loss, { state }]');
        const [l, aux] = out;
        // the loss is a mean over this slice; weighted by the slice's share, the summed gradients are the full batch's
        return [w === 1 ? l : mul(l, w), { state: aux.state, loss: l }];
      },
      {
        hasAux: true,
        // read buckets back as soon as they are final, unless BatchNorm's all-reduces share the collective: then
        // they must all come first on every rank (a bucket read after backward waits for them)
        onLeafGrad: (argnum, path, g) => argnum === 0 && early && this.gradReady(path, g),
      },
    );
    const bn = this.options.syncBatchNorm;
    this.step_ = (p, s, b, w) => (bn ? syncBatchNorm(bn, () => vg(p, s, b, w)) : vg(p, s, b, w));
  }

  /** A parameter's gradient is complete (backward still running): once its bucket is whole, start reading it back. */
  private gradReady(path: string, g: Tensor): void {
    const i = this.paramIndex.get(path);
    if (i !== undefined) this.gradReadyAt(i, g);
  }

  private gradReadyAt(i: number, g: Tensor): void {
    const f = this.inFlight;
    if (!f || this.bucketOf[i] < 0) return;
    const j = this.bucketOf[i];
    const b = this.buckets[j];
    const q = b.indices.indexOf(i);
    if (f.ready[j][q]) return;
    f.ready[j][q] = g;
    if (--f.missing[j] > 0) return;
    const parts = f.ready[j] as Tensor[];
    const flat = parts.map((t) => reshape(t, [-1]));
    const bucket = flat.length === 1 ? flat[0] : concat(flat, 0);
    // the read-back's copy is encoded (and everything before it submitted) now, so the bucket tensor can go
    // when the values arrive, the GPU has run backward up to this bucket
    f.reads[j] = (bucket.data() as Promise<Float32Array>).then((d) => {
      f.readAt[j] = now();
      return d;
    });
    f.reads[j]!.catch(() => {}); // awaited in step(); keep a lost device from surfacing as an unhandled rejection
    for (const t of flat) if (!parts.includes(t)) t.dispose();
    if (!parts.includes(bucket)) bucket.dispose();
  }

  private enter(): void {
    setDefaultDevice(this.device);
  }

  private adopt(params: unknown, state: unknown, optState: OptimizerState): void {
    this.params = params;
    this.state = state;
    this.optState = optState;
    const leaves = tree.leaves(params);
    this.paramShapes = leaves.map((l) => (l instanceof Tensor ? l.shape : null));
    for (const l of leaves)
      if (l instanceof Tensor && l.dtype !== 'float32') throw new TypeError(`dataParallel: parameters must be float32; got a ${l.dtype} parameter`);
    this.buckets = planBuckets(
      leaves.map((l) => (l instanceof Tensor ? l.size : 0)),
      this.options.bucketBytes,
    ).filter((b) => b.size > 0);
    this.paramIndex = new Map(tree.flatten(params).map((l, i) => [l.path, i]));
    this.bucketOf = leaves.map(() => -1);
    this.buckets.forEach((b, j) => {
      for (const i of b.indices) this.bucketOf[i] = j;
    });
  }

  /** Initialises from `replica.init(key(seed))`, then takes rank 0's float values (broadcast), or loads `host`. */
  async setup(seed: number, host?: HostTrainingState): Promise<void> {
    this.enter();
    const { params, state } = tidy(() => this.spec.init(key(seed)));
    if (host) {
      this.adopt(params, state, this.opt.init(params));
      this.load(host);
      return;
    }
    let p = params,
      s = state;
    if (this.collective.size > 1) {
      const values = await readFloats([p, s]);
      await this.collective.broadcast(values, 0);
      if (this.collective.rank !== 0) [p, s] = replaceFloats([p, s], values, this.device);
    }
    this.adopt(p, s, this.opt.init(p));
  }

  /** Replaces parameters, state and (when given) optimizer state with host values. */
  load(host: HostTrainingState): void {
    this.enter();
    const params = fromHostLeaves(this.params, host.params, this.device, 'params');
    const state = fromHostLeaves(this.state, host.state, this.device, 'state');
    let optState: OptimizerState;
    if (host.optState) {
      const template = tidy(() => this.opt.init(params));
      optState = { step: host.optState.step, slots: fromHostLeaves(template.slots, host.optState.slots, this.device, 'optState.slots') };
      tree.dispose(template.slots);
    } else optState = this.opt.init(params);
    tree.dispose([this.params, this.state, this.optState?.slots]);
    this.adopt(params, state, optState);
  }

  /** One step on this rank's slice; `weight` is the slice's share of the batch (n_k / N). */
  async step(slice: HostBatch, weight: number): Promise<RankStepResult> {
    const t0 = now();
    this.enter();
    this.inFlight = {
      ready: this.buckets.map((b) => b.indices.map(() => null)),
      missing: this.buckets.map((b) => b.indices.length),
      reads: this.buckets.map(() => null),
      readAt: this.buckets.map(() => 0),
    };
    const inFlight = this.inFlight;
    let fwd: { loss: Tensor; state: unknown };
    try {
      fwd = tidy(() => {
        const batch = Object.fromEntries(Object.entries(slice).map(([name, b]) => [name, tensor(b.data, { shape: b.shape, device: this.device })]));
        const [[, aux], grads] = this.step_(this.params, this.state, batch, weight);
        // buckets not yet read back (all of them when reads wait for the end of backward) are read now
        const g = tree.leaves(grads);
        for (const b of this.buckets) for (const i of b.indices) this.gradReadyAt(i, g[i] as Tensor);
        return { loss: aux.loss as Tensor, state: aux.state };
      });
    } finally {
      this.inFlight = null;
    }
    const encodeMs = now() - t0;
    const reads = inFlight.reads as Promise<Float32Array>[];
    if (reads.some((r) => r === null)) throw new Error('dataParallel: internal error: a gradient bucket was not read back');
    const lossRead = fwd.loss.item();
    lossRead.catch(() => {}); // awaited below; a failure is reported by the bucket reads first
    fwd.loss.dispose();
    const reduced: Float32Array[] = [];
    const spans: [number, number][] = [];
    try {
      for (const r of reads) {
        const host = await r;
        const s = now();
        if (this.collective.size > 1) await this.collective.allReduce(host);
        spans.push([s, now()]);
        reduced.push(host);
      }
    } catch (e) {
      tree.dispose(fwd.state);
      await Promise.allSettled(reads);
      throw e;
    }
    let state = fwd.state;
    if (this.collective.size > 1 && !this.options.syncBatchNorm && tree.leaves(state).some(isFloat)) {
      // BatchNorm running statistics: the n_k/N-weighted average over ranks (for the running mean that is exactly
      // the full batch's update; DDP instead broadcasts rank 0's buffers)
      const values = await readFloats(state);
      for (let i = 0; i < values.length; i++) values[i] *= weight;
      await this.collective.allReduce(values);
      state = replaceFloats(state, values, this.device);
    }
    this.enter();
    const next = tidy(() => {
      const leaves: (Tensor | null)[] = this.paramShapes.map(() => null);
      this.buckets.forEach((b, j) => {
        b.indices.forEach((i, q) => {
          const shape = this.paramShapes[i]!;
          const n = shape.reduce((a, d) => a * d, 1);
          leaves[i] = tensor(reduced[j].subarray(b.offsets[q], b.offsets[q] + n), { shape, device: this.device });
        });
      });
      const grads = tree.unflatten(this.params, leaves);
      const u = this.opt.update(grads, this.optState!, this.params, { donate: true });
      return { params: u.params, optState: u.state };
    });
    disposeReplaced(this.state, state);
    this.params = next.params;
    this.optState = next.optState;
    this.state = state;
    const loss = await lossRead;
    // all-reduce time spent before backward had finished on the GPU (the last bucket's values arrived) was hidden behind it
    const allReduceMs = spans.reduce((a, [s, e]) => a + e - s, 0);
    const backwardDone = Math.max(...inFlight.readAt);
    const hiddenMs = spans.reduce((a, [s, e]) => a + Math.max(0, Math.min(e, backwardDone) - s), 0);
    const bytes = this.buckets.reduce((a, b) => a + 4 * b.size, 0);
    const mem = memory(this.device);
    return {
      loss,
      stats: {
        encodeMs,
        allReduceMs,
        hiddenMs,
        stepMs: now() - t0,
        buckets: this.buckets.length,
        bytes,
        liveTensors: mem.liveTensors,
        liveBytes: mem.liveBytes,
      },
    };
  }

  /** Parameters, state and optimizer state as host leaves. */
  async snapshot(): Promise<HostTrainingState> {
    return {
      params: await toHostLeaves(this.params, 'params'),
      state: await toHostLeaves(this.state, 'state'),
      optState: { step: this.optState!.step, slots: await toHostLeaves(this.optState!.slots, 'optState.slots') },
      skeleton: { params: skeleton(this.params), state: skeleton(this.state), slots: skeleton(this.optState!.slots) },
    };
  }

  /** Frees the replica's tensors. */
  dispose(): void {
    tree.dispose([this.params, this.state, this.optState?.slots]);
    this.params = this.state = this.optState = null;
  }
}

export type { HostLeaves };
