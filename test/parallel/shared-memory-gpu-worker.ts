/**
 * Worker for the GPU case of test/parallel/shared-memory-collective.test.ts: a WebGPU device in this thread, the
 * allReduce op over the shared-memory collective inside an ordinary forward (mul, allReduce, add), then a read-back.
 * The gate maps a buffer while the collective waits, so this only works if waiting leaves the event loop free.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { add, createDevice, mul, tensor } from '../../src/node';
import { allReduce as allReduceOp } from '../../src/parallel';
import { joinSharedGroup, type SharedGroupDescriptor } from '../../src/parallel/shared-memory-collective';
import { stepInput } from './shared-memory-data';

const { descriptor, rank, length } = workerData as { descriptor: SharedGroupDescriptor; rank: number; length: number };
try {
  const device = await createDevice({ label: `shm-worker-${rank}` });
  const c = joinSharedGroup(descriptor, rank);
  const x = tensor(stepInput(11, 0, rank, length), { device });
  const two = tensor([2], { device });
  const y = add(allReduceOp(mul(x, two), c), two); // Σ_r 2·x_r + 2
  const out = await y.data();
  c.close();
  device.destroy();
  parentPort?.postMessage({ ok: true, out });
} catch (e) {
  parentPort?.postMessage({ ok: false, error: String((e as Error)?.message ?? e) });
}
