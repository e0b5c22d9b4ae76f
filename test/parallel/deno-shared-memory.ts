/**
 * Deno runner for the shared-memory collective: 3 Web Workers join one group and all-reduce; prints JSON
 * ({ runtime, equal, waitAsync }) on the last line. Run by test/parallel/shared-memory-deno.test.ts.
 */
import { createSharedGroup } from '../../src/parallel/shared-memory-collective';
import { rankOrderedSum, stepInput } from './shared-memory-data';

const size = 3;
const length = 1000;
const group = createSharedGroup({ size, maxFloats: 128, timeoutMs: 30_000 });
const outs = await Promise.all(
  Array.from(
    { length: size },
    (_, rank) =>
      new Promise<Float32Array>((resolve, reject) => {
        const w = new Worker(new URL('./deno-shared-memory-worker.ts', import.meta.url), { type: 'module' });
        w.onmessage = (e: MessageEvent) => {
          w.terminate();
          if (typeof e.data === 'string') reject(new Error(e.data));
          else resolve(e.data as Float32Array);
        };
        w.onerror = (e) => reject(new Error(e.message));
        w.postMessage({ group, rank, length });
      }),
  ),
);
const want = rankOrderedSum(Array.from({ length: size }, (_, r) => stepInput(5, 0, r, length)));
const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length)).join(',');
console.log(
  JSON.stringify({ runtime: 'deno', equal: outs.every((o) => bits(o) === bits(want)), waitAsync: typeof (Atomics as { waitAsync?: unknown }).waitAsync }),
);
