/**
 * Collectives as ops: `allReduce(x, collective)` sums a tensor over every rank of a data-parallel group from
 * inside an ordinary (synchronous) forward or backward. Its forward copies x into a staging buffer and gates
 * the device (src/kernels/webgpu/queue.ts): once the copy is submitted the host maps it, the collective sums
 * it, and the sum is written into y; the work recorded after the op waits, held, until then. The caller never
 * awaits. Also the context that turns the public batchNorm's training mode into synchronised BatchNorm.
 */
import type { Collective } from '../../base/collective';
import { ArgumentError, fmtShape } from '../../base/shape';
import { BufferUsage, MapMode } from '../../kernels/webgpu/usage';
import { Tensor } from '../tensor';
import { defineOp, type Op } from './define';

interface AllReduceAttrs {
  collective: Collective;
}

const describe = (c: Collective) => `allReduce (${c.kind} collective, rank ${c.rank} of ${c.size})`;

const allReduceOp: Op<AllReduceAttrs> = defineOp({
  name: 'allReduce',
  inputs: { x: 'tensor' },
  dtypes: ['float32'],
  shape: ({ x }, _: AllReduceAttrs) => ({ shape: x.shape, dtype: 'float32' }),
  forward({ x }, { collective }, [y]) {
    const device = x.device;
    const bytes = 4 * x.size;
    const staging = device.gpu.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'allReduce-staging' });
    device.queue.copy(x.storage.buffer, x.byteOffset, staging, 0, bytes);
    const target = y.storage.buffer;
    const targetOffset = y.byteOffset;
    // runs once the copy is submitted; everything recorded after this op is held until it resolves
    device.gate(
      async () => {
        try {
          await staging.mapAsync(MapMode.READ);
          const host = new Float32Array(staging.getMappedRange().slice(0));
          staging.unmap();
          await collective.allReduce(host);
          device.gpu.queue.writeBuffer(target, targetOffset, host);
        } finally {
          staging.destroy();
        }
      },
      describe(collective),
      () => staging.destroy(),
    );
  },
  // the other ranks' values are not here: the reference is the sum over a one-rank group, x itself
  reference: ({ x }, { collective }) => {
    if (collective.size !== 1) throw new Error(`allReduce reference: only a one-rank group has a local reference (got ${collective.size} ranks)`);
    return { shape: [...x.shape], dtype: 'float32', data: Float64Array.from(x.data) };
  },
  // y_k = Σ_j x_j on every rank k, so ∂(Σ_k L_k)/∂x_j = Σ_k dy_k: the cotangents are all-reduced too
  vjp: ({ dy, attrs }) => [allReduceOp.call1([dy], attrs)],
});

function checkCollective(fn: string, c: unknown): asserts c is Collective {
  const ok = typeof c === 'object' && c !== null && typeof (c as Collective).allReduce === 'function' && Number.isInteger((c as Collective).size);
  if (!ok) throw new ArgumentError(fn, 'collective', `is ${c === null ? 'null' : typeof c}`, 'a Collective (e.g. one of inProcessGroup(K))');
}

/**
 * Sums `x` element-wise over every rank of `collective` (each rank passes its own tensor of the same shape) and
 * returns the sum, as torch.distributed.all_reduce with SUM (but out of place). It is an ordinary op: call it
 * inside a forward, differentiate through it (the gradient all-reduces the cotangent), nothing is awaited. The
 * device holds the work recorded after it until the host-side reduction is done; a read-back waits for that.
 * If the collective rejects, the next op or read-back on the device throws its error.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { allReduce, inProcessGroup } from '@webgrad/core/parallel';
 * await init();
 * const [c] = inProcessGroup(1);
 * console.log(await allReduce(tensor([1, 2, 3]), c).data()); // Float32Array [1, 2, 3] (one rank)
 * ```
 */
export function allReduce(x: Tensor, collective: Collective): Tensor {
  const fn = 'allReduce';
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'x', `is ${typeof x}`, 'a Tensor');
  if (x.dtype !== 'float32') throw new ArgumentError(fn, 'x', `has dtype ${x.dtype} (shape ${fmtShape(x.shape)})`, 'a float32 tensor');
  checkCollective(fn, collective);
  return allReduceOp.call1([x], { collective });
}

// ---- synchronised BatchNorm -------------------------------------------------------------------

let syncGroup: Collective | null = null;

/**
 * Runs `fn` with synchronised BatchNorm (torch.nn.SyncBatchNorm): inside it, every `batchNorm` / `batchNormAct`
 * in training mode (so `nn.batchNorm2d`, ResNet and U²-Net too) normalises with statistics over the whole
 * global batch, all ranks of `collective` together (per-channel sum, sum of squares and count, all-reduced), and
 * updates the running variance with the unbiased global variance. Gradients follow through {@link allReduce}.
 * Every rank must run the same layers in the same order. `fn` must be synchronous (the context ends when it
 * returns); backward passes need no context (the collective is recorded with each op). With several replicas in
 * one thread, record every replica's step before awaiting any result: a read-back on one device waits for the
 * all-reduces, which wait for the other ranks.
 *
 * @example
 * ```ts
 * import { createDevice, randn, random, batchNorm } from '@webgrad/core/node';
 * import { inProcessGroup, syncBatchNorm } from '@webgrad/core/parallel';
 * const devices = [await createDevice(), await createDevice()];
 * const group = inProcessGroup(2);
 * // each device normalises its 4 images with the mean and variance of all 8 (nothing awaited in between)
 * const ys = devices.map((device, r) =>
 *   syncBatchNorm(group[r], () => batchNorm(randn(random.key(r), [4, 3, 8, 8], { device }), null, null, null, null, { training: true }).y),
 * );
 * console.log((await ys[0].data()).length, (await ys[1].data()).length); // 768 768
 * for (const d of devices) d.destroy();
 * ```
 */
export function syncBatchNorm<T>(collective: Collective, fn: () => T): T {
  checkCollective('syncBatchNorm', collective);
  if (typeof fn !== 'function') throw new ArgumentError('syncBatchNorm', 'fn', `is ${typeof fn}`, 'a function');
  const prev = syncGroup;
  syncGroup = collective;
  try {
    const out = fn();
    if (out instanceof Promise) {
      out.catch(() => {});
      throw new ArgumentError('syncBatchNorm', 'fn', 'returned a Promise', 'a synchronous function (the context ends when it returns)');
    }
    return out;
  } finally {
    syncGroup = prev;
  }
}

/** The collective of the innermost {@link syncBatchNorm} context, or null outside one. */
export function syncBatchNormGroup(): Collective | null {
  return syncGroup;
}
