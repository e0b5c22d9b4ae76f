/**
 * The tape's state, kept apart from autograd.ts so op definitions can record entries without
 * importing the engine (which itself calls ops).
 */
import { Tensor } from './tensor';
import type { Op, Operand } from './ops/define';

export interface Entry {
  op: Op;
  inputs: readonly Operand[];
  outputs: readonly Tensor[];
  attrs: unknown;
}

export class Trace {
  private static next = 1;
  readonly id = Trace.next++;
  readonly entries: Entry[] = [];
}

export const active: Trace[] = [];
let paused = 0;

/** Runs `fn` with no tape recording (used for op forwards and `noGrad`). */
export function withoutTape<T>(fn: () => T): T {
  paused++;
  try {
    return fn();
  } finally {
    paused--;
  }
}

/** Whether ops are being recorded onto some trace right now. */
export const isRecording = () => paused === 0 && active.length > 0;

/** Called by every differentiable op after its forward. */
export function record(op: Op, inputs: readonly Operand[], outputs: readonly Tensor[], attrs: unknown): void {
  if (paused || active.length === 0) return;
  const ids: number[] = [];
  for (const x of inputs) {
    if (x instanceof Tensor) for (const id of x.traces) if (!ids.includes(id) && active.some((t) => t.id === id)) ids.push(id);
  }
  if (ids.length === 0) return;
  const entry: Entry = { op, inputs, outputs, attrs };
  for (const t of active) if (ids.includes(t.id)) t.entries.push(entry);
  for (const y of outputs) if (y.dtype === 'float32') y.traces = ids;
}
