/** Web Worker of test/parallel/deno-shared-memory.ts: joins the group, all-reduces its input, posts the result. */
import { joinSharedGroup, type SharedGroupDescriptor } from '../../src/parallel/shared-memory-collective';
import { stepInput } from './shared-memory-data';

const scope = globalThis as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void };
scope.onmessage = async (e: MessageEvent) => {
  const { group, rank, length } = e.data as { group: SharedGroupDescriptor; rank: number; length: number };
  try {
    const c = joinSharedGroup(group, rank);
    const x = stepInput(5, 0, rank, length);
    await c.allReduce(x);
    await c.barrier();
    c.close();
    scope.postMessage(x);
  } catch (err) {
    scope.postMessage(String((err as Error)?.message ?? err));
  }
};
