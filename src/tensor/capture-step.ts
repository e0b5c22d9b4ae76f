/**
 * captureStep: a fixed-shape step (a training or inference step) recorded once and replayed, as
 * torch.cuda.make_graphed_callables and onnxruntime's graph capture do. Tensors in the arguments become the
 * graph's static inputs (copied in on every call), the result's tensors its static outputs.
 */
import { ArgumentError, fmtShape, sameShape } from '../base/shape';
import { byteSize, type DType } from '../base/dtype';
import type { Device } from '../kernels/webgpu/device';
import { getDefaultDevice } from '../kernels/webgpu/devices';
import { DispatchGraph, type Copy } from '../kernels/webgpu/replay';
import { Storage, Tensor } from './tensor';
import { startScope, endScope } from './scope';
import { dispose as disposeTree, flatten, unflatten } from './tree';

/** Options of {@link captureStep}. */
export interface CaptureOptions {
  /** The device the step runs on when no argument is a tensor (default: the first tensor argument's, else the default device). */
  device?: Device;
  /** Named in errors (default 'captureStep'). */
  name?: string;
  /**
   * Dispatches per command buffer a replay submits (default: all in one). Smaller batches let the GPU start
   * while the rest is still being encoded.
   */
  dispatchesPerSubmit?: number;
}

/** What {@link CapturedStep.stats} reports. */
export interface CaptureStats {
  /** Calls so far (the capture included). */
  calls: number;
  /** Kernel dispatches one replay submits. */
  dispatches: number;
  /** Buffer copies one replay makes: the recorded ones plus the input copies of the last call. */
  copies: number;
  /** Host milliseconds of the capturing call (the eager step plus recording and building the graph). */
  captureMs: number;
  /** Host milliseconds of the last replay (checking arguments, encoding and submitting; not the GPU's work). */
  replayMs: number;
  /** GPU bytes the graph holds (static inputs, intermediates, outputs and uniforms). */
  bytes: number;
}

/** A function with the step's signature that replays its capture; see {@link captureStep}. */
export interface CapturedStep<A extends unknown[], R> {
  /** Runs the step: captures on the first call, replays afterwards. */
  (...args: A): R;
  /** Dispatch counts and host times. */
  readonly stats: Readonly<CaptureStats>;
  /** Frees the graph's GPU memory; output tensors still alive stay valid (as ordinary tensors). */
  dispose(): void;
}

interface Leaf {
  path: string;
  /** Set for a tensor leaf. */
  meta?: { shape: readonly number[]; dtype: DType };
  /** A non-tensor leaf's value (a guard: later calls must pass the same). */
  value?: unknown;
}

interface Graph {
  graph: DispatchGraph;
  leaves: Leaf[];
  /** The static input storage of each tensor leaf (null for non-tensor leaves). */
  inputs: (Storage | null)[];
  inputBuffers: Set<GPUBuffer>;
  /** What each static input last received: the same storage again needs no copy (tensors are immutable). */
  copiedFrom: ({ storage: Storage; offset: number } | null)[];
  /** The result's structure, its tensor leaves' storages (null for other leaves) and its other leaves. */
  result: unknown;
  outputs: ({ storage: Storage; shape: readonly number[]; dtype: DType } | null)[];
  constants: unknown[];
}

const describeLeaf = (l: Leaf) => (l.meta ? `a tensor of shape ${fmtShape(l.meta.shape)} ${l.meta.dtype}` : `${JSON.stringify(l.value) ?? String(l.value)}`);

function leavesOf(args: readonly unknown[]): { leaves: Leaf[]; tensors: (Tensor | null)[] } {
  const flat = flatten(args);
  return {
    leaves: flat.map(({ path, value }) => (value instanceof Tensor ? { path, meta: { shape: value.shape, dtype: value.dtype } } : { path, value })),
    tensors: flat.map(({ value }) => (value instanceof Tensor ? value : null)),
  };
}

/** Bytes to copy for a tensor: its size rounded up to 4 (copies move whole words; pool buffers are larger). */
const copyBytes = (t: { size: number; dtype: DType }) => Math.ceil((t.size * byteSize(t.dtype)) / 4) * 4;

/**
 * Records a fixed-shape step once and replays it (torch.cuda.make_graphed_callables, CUDA graphs): the first
 * call runs `fn` eagerly while recording every kernel dispatch; later calls copy their tensor arguments into
 * the recorded inputs and submit the recorded dispatches again (uniforms packed once, bind groups built
 * once, one submit), skipping the per-op host work. The name says what it does to a step: it captures it.
 *
 * Rules (as for CUDA graphs):
 * - Static shapes: later calls must pass tensors of the captured shapes and dtypes, in the same pytree
 *   structure, and the same non-tensor leaves (numbers baked into kernels, such as a learning rate or a
 *   random key); anything else throws. Capture a new step for new shapes.
 * - Static outputs: the result's tensors live in the graph's memory and are overwritten by the next call; a
 *   result kept across calls must be copied (`add(t, 0)`). Dispose them as usual (that frees handles, not the
 *   graph's memory); results fed back as the next call's arguments (parameters, optimizer state) are copied
 *   into the inputs on the GPU.
 * - `fn` must be synchronous and do only GPU work: no read-backs, no collectives, no tensors made from host
 *   data (pass per-call data, including randomness, in as tensor arguments); those make the capture throw.
 *   Host numbers `fn` reads from its closure (a learning-rate schedule, an optimizer's step count) are frozen
 *   at capture: keep such updates outside (as make_graphed_callables leaves the optimizer outside) or pass
 *   them as tensors.
 * - Tensors `fn` closes over are read in place: keep them alive (a replay after their disposal throws). An
 *   argument that is the same tensor as in the previous call (and not one of the step's own results) is not
 *   copied again: tensors are immutable.
 * - Like `tidy`, tensors `fn` creates and does not return are freed.
 *
 * @example
 * ```ts
 * import { init, tensor, captureStep, valueAndGrad, sub, mul, sum, square, matmul, type Tensor } from '@webgrad/core/node';
 * await init();
 * const x = tensor([[1, 2], [3, 4]]), y = tensor([[1], [2]]);
 * const step = captureStep((w: Tensor) => {
 *   const [loss, g] = valueAndGrad((v: Tensor) => sum(square(sub(matmul(x, v), y))))(w);
 *   return { loss, w: sub(w, mul(g, 0.01)) };
 * });
 * let w = tensor([[0], [0]]);
 * for (let i = 0; i < 10; i++) {
 *   const out = step(w); // the first call captures, the others replay
 *   w.dispose();
 *   w = out.w;
 *   out.loss.dispose();
 * }
 * console.log(step.stats.dispatches, await w.data()); // 13 dispatches per step, Float32Array [0.229…, 0.338…]
 * step.dispose();
 * ```
 */
export function captureStep<A extends unknown[], R>(fn: (...args: A) => R, options: CaptureOptions = {}): CapturedStep<A, R> {
  const label = options.name ?? 'captureStep';
  let g: Graph | null = null;
  let disposed = false;
  const stats: CaptureStats = { calls: 0, dispatches: 0, copies: 0, captureMs: 0, replayMs: 0, bytes: 0 };

  const capture = (args: A): R => {
    const t0 = performance.now();
    const { leaves, tensors } = leavesOf(args);
    const device = tensors.find((t) => t)?.device ?? options.device ?? getDefaultDevice();
    device.check(label);
    device.queue.flush();
    // static inputs: the graph's own copies of the tensor arguments
    const inputs = tensors.map((t) => (t ? new Storage(device, device.pool.acquire(t.size * byteSize(t.dtype)), t.size * byteSize(t.dtype)) : null));
    tensors.forEach((t, i) => {
      if (t) device.queue.copy(bufferOf(t), offsetOf(t), inputs[i]!.buffer, 0, copyBytes(t));
    });
    const handles = tensors.map((t, i) => (t ? new Tensor(t.shape, t.dtype, inputs[i]!.retain()) : null));
    const staticArgs = unflatten(
      args,
      leaves.map((l, i) => handles[i] ?? l.value),
    ) as A;
    let recorded: { graph: DispatchGraph; result: R };
    try {
      recorded = DispatchGraph.record(
        device,
        label,
        (graph) => {
          for (const s of inputs) if (s) graph.adopt(s.buffer);
          startScope();
          let result: R | undefined;
          try {
            result = fn(...staticArgs);
            if (result instanceof Promise) throw new Error(`${label}: the step returned a Promise; a captured step must be synchronous (no await)`);
            return result;
          } finally {
            endScope(result);
          }
        },
        disposeTree,
      );
    } catch (e) {
      for (const s of inputs) s?.release();
      for (const h of handles) h?.dispose();
      throw e;
    }
    const { graph, result } = recorded;
    if (options.dispatchesPerSubmit) graph.dispatchesPerSubmit = options.dispatchesPerSubmit;
    const flat = flatten(result);
    const outputs = flat.map(({ value }) => (value instanceof Tensor ? { storage: value.storage.retain(), shape: value.shape, dtype: value.dtype } : null));
    const kept = new Set(flat.map((l) => l.value));
    for (const h of handles) if (h && !kept.has(h)) h.dispose();
    g = {
      graph,
      leaves,
      inputs,
      inputBuffers: new Set(inputs.filter((s): s is Storage => s !== null).map((s) => s.buffer)),
      copiedFrom: tensors.map((t) => (t && !isOwned(graph, t) ? { storage: t.storage, offset: offsetOf(t) } : null)),
      result,
      outputs,
      constants: flat.map(({ value }) => (value instanceof Tensor ? undefined : value)),
    };
    stats.dispatches = graph.dispatches;
    stats.copies = graph.copies;
    stats.captureMs = performance.now() - t0;
    return result;
  };

  const replay = (graph: Graph, args: A): R => {
    const t0 = performance.now();
    const { leaves, tensors } = leavesOf(args);
    if (leaves.length !== graph.leaves.length)
      throw new ArgumentError(label, 'args', `has ${leaves.length} leaves`, `the ${graph.leaves.length} leaves of the captured call (same pytree structure)`);
    leaves.forEach((l, i) => {
      const c = graph.leaves[i];
      const ok =
        l.path === c.path &&
        (c.meta ? l.meta !== undefined && sameShape(l.meta.shape, c.meta.shape) && l.meta.dtype === c.meta.dtype : !l.meta && Object.is(l.value, c.value));
      if (!ok)
        throw new ArgumentError(
          label,
          `args.${l.path}`,
          `is ${describeLeaf(l)}`,
          `${describeLeaf(c)} as at capture (a captured step has static shapes and host values; capture another step for others)`,
        );
      const t = tensors[i];
      if (t?.isDisposed) throw new ArgumentError(label, `args.${l.path}`, 'is a disposed tensor', 'a live tensor');
      if (t && t.device !== graph.graph.device)
        throw new ArgumentError(label, `args.${l.path}`, `is on device ${t.device.label}`, `the captured step's device (${graph.graph.device.label})`);
    });
    graph.graph.check();
    const device = graph.graph.device;
    // copies into the static inputs; a source that is itself a static input (a passed-through result fed
    // to another slot) is staged first, so no copy reads an input another copy already overwrote
    const staged: GPUBuffer[] = [];
    const first: Copy[] = [];
    const copies: Copy[] = [];
    tensors.forEach((t, i) => {
      if (!t) return;
      const dst = graph.inputs[i]!.buffer;
      const src = bufferOf(t);
      if (src === dst) return;
      // the same (immutable) tensor storage as last time, not one the graph rewrites: already in place
      const last = graph.copiedFrom[i];
      if (last && last.storage === t.storage && last.offset === offsetOf(t)) return;
      graph.copiedFrom[i] = isOwned(graph.graph, t) ? null : { storage: t.storage, offset: offsetOf(t) };
      const size = copyBytes(t);
      if (graph.inputBuffers.has(src)) {
        const tmp = device.pool.acquire(size);
        staged.push(tmp);
        first.push({ src, srcOffset: offsetOf(t), dst: tmp, dstOffset: 0, size });
        copies.push({ src: tmp, srcOffset: 0, dst, dstOffset: 0, size });
      } else copies.push({ src, srcOffset: offsetOf(t), dst, dstOffset: 0, size });
    });
    graph.graph.replay([...first, ...copies]);
    for (const b of staged) device.pool.release(b);
    const values = graph.outputs.map((o, i) => (o ? new Tensor(o.shape, o.dtype, o.storage.retain()) : graph.constants[i]));
    stats.copies = graph.graph.copies + first.length + copies.length;
    stats.replayMs = performance.now() - t0;
    return unflatten(graph.result, values) as R;
  };

  const step = ((...args: A): R => {
    if (disposed) throw new Error(`${label}: the captured step was disposed`);
    stats.calls++;
    return g ? replay(g, args) : capture(args);
  }) as CapturedStep<A, R>;
  Object.defineProperty(step, 'stats', { get: () => ({ ...stats, bytes: g?.graph.bytes ?? 0 }) });
  step.dispose = () => {
    if (disposed) return;
    disposed = true;
    if (!g) return;
    for (const s of g.inputs) s?.release();
    for (const o of g.outputs) o?.storage.release();
    g.graph.dispose();
    g = null;
  };
  return step;
}

/** True when `t` lives in the graph's memory (an output or input of it: rewritten by every replay). */
function isOwned(graph: DispatchGraph, t: Tensor): boolean {
  return graph.owned.has(bufferOf(t));
}

function bufferOf(t: Tensor): GPUBuffer {
  const b = t.binding;
  return 'buffer' in b ? b.buffer : b;
}

function offsetOf(t: Tensor): number {
  const b = t.binding;
  return 'buffer' in b ? b.offset : 0;
}
