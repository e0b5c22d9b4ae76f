/**
 * Ops whose operands pass the device's largest storage binding (Device.maxBindingSize) split their work
 * instead of failing: the engine (defineOp) runs the op's own forward once per chunk of rows along dim 0.
 *
 * - 'batch': the outputs' rows depend only on the same rows of the batched inputs (conv2d, pooling, resize,
 *   batch-norm apply); the other inputs (weights) are passed whole.
 * - 'batch-sum': each output is a sum over the rows (conv2d's weight gradient, sum over axes that include 0):
 *   every chunk's result is added into the output.
 * - 'flat': every tensor operand has the output's shape (elementwise ops): chunks of the flattened values.
 *
 * A chunk is a row view of the operand (no copy) when every batched operand's chunk starts at a multiple of
 * minStorageBufferOffsetAlignment; otherwise its rows are copied into (and out of) a fresh tensor.
 */
import type { Device } from '../../kernels/webgpu/device';
import { grid } from '../../kernels/webgpu/device';
import type { Binding } from '../../kernels/webgpu/queue';
import type { Shader } from '../../kernels/webgpu/pipelines';
import { Tensor, empty, rowView, view } from '../tensor';

/** How an op splits its work past the binding cap (see the module comment). */
export type SplitKind = 'batch' | 'batch-sum' | 'flat';

/** An op's answer to "how do you split?": the kind, the inputs cut into rows (by name) and per-chunk attributes. */
export interface SplitPlan<A = unknown> {
  /** 'batch', 'batch-sum' or 'flat'. */
  kind: SplitKind;
  /** Names of the inputs cut along dim 0 (or flattened, for 'flat'; a 'tensor[]' input: each of its tensors); the others are passed whole. */
  batched: readonly string[];
  /** The attributes for a chunk of `rows` rows, when they name the batch size (e.g. an output shape); default the op's own. */
  attrs?(rows: number): A;
}

/** How many ops split their work so far (tests check that a small cap really split). */
export const splitCount = { runs: 0 };

/** True when some tensor of `ts` takes more bytes than one binding may. */
export function exceedsBinding(device: Device, ts: readonly unknown[]): boolean {
  return ts.some((t) => t instanceof Tensor && t.byteLength > device.maxBindingSize);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Rows per chunk for tensors cut along dim 0 (all with `n` rows) so that each chunk fits the binding cap, and
 * whether chunks can be row views (every chunk start aligned) or must be copies.
 */
export function rowChunks(name: string, batched: readonly Tensor[], device: Device): { rows: number; views: boolean } {
  const cap = device.maxBindingSize;
  const align = device.limits.minStorageBufferOffsetAlignment;
  const n = batched[0].shape[0];
  let maxRow = 0;
  let step = 1;
  for (const t of batched) {
    const row = t.byteLength / n;
    maxRow = Math.max(maxRow, row);
    if (t.byteOffset % align !== 0) step = Number.POSITIVE_INFINITY;
    else if (row > 0) {
      const need = align / gcd(align, row);
      step = Number.isFinite(step) ? (step * need) / gcd(step, need) : step;
    }
  }
  if (maxRow > cap) {
    throw new Error(
      `${name}: one row (dim 0) of an operand takes ${maxRow} bytes, more than this device's largest storage binding (${cap} bytes); the op cannot split it further`,
    );
  }
  const rows = Math.max(1, Math.floor(cap / Math.max(maxRow, 1)));
  if (step <= rows) return { rows: rows - (rows % step), views: true };
  for (const t of batched) {
    if ((t.byteLength / n) % 4 !== 0) {
      throw new Error(`${name}: rows of ${t.byteLength / n} bytes cannot be split past the binding limit (neither aligned views nor 4-byte copies)`);
    }
  }
  return { rows, views: false };
}

/** Rows [start, start + count) of `t`: a view when `views`, else a copy in a new tensor. */
export function takeRows(t: Tensor, start: number, count: number, views: boolean): Tensor {
  if (views) return rowView(t, start, count);
  const out = empty([count, ...t.shape.slice(1)], t.dtype, t.device);
  const row = t.byteLength / t.shape[0];
  if (out.byteLength > 0) t.device.queue.copy(t.storage.buffer, t.byteOffset + start * row, out.storage.buffer, 0, out.byteLength);
  return out;
}

/** Writes `rows` (a copy made by takeRows without views) back into `t` from row `start`. */
export function putRows(t: Tensor, start: number, rows: Tensor): void {
  const row = t.byteLength / t.shape[0];
  if (rows.byteLength > 0) t.device.queue.copy(rows.storage.buffer, 0, t.storage.buffer, t.byteOffset + start * row, rows.byteLength);
}

const WGSL_TYPE: Record<string, string> = { float32: 'f32', int32: 'i32', uint32: 'u32' };

/** The binding of a tensor's exact byte range (so arrayLength counts its elements, not the pooled buffer's). */
const exact = (t: Tensor): Binding => ({ buffer: t.storage.buffer, offset: t.byteOffset, size: t.byteLength });

/** acc += src, elementwise (same shape and 4-byte dtype): the combine step of a 'batch-sum' split. */
export function accumulate(acc: Tensor, src: Tensor): void {
  const type = WGSL_TYPE[acc.dtype];
  if (!type) throw new Error(`accumulate: dtype ${acc.dtype} has no sum (expected float32, int32 or uint32)`);
  const source = (): Shader => ({
    code: `@group(0) @binding(0) var<storage, read> src: array<${type}>;
@group(0) @binding(1) var<storage, read_write> acc: array<${type}>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= arrayLength(&acc)) { return; }
  acc[i] = acc[i] + src[i];
}`,
    bindings: ['read-only-storage', 'storage'],
  });
  if (acc.size > 0) acc.device.run('splitAccumulate', `splitAccumulate:${type}`, source, [exact(src), exact(acc)], grid(acc.size, 256));
}

/**
 * Runs `forward` once per chunk of rows, as `plan` says. `inputs` are the op's named inputs, `outs` its
 * allocated outputs; chunk tensors are freed as soon as their forward is recorded.
 */
export function runSplit<A>(
  name: string,
  plan: SplitPlan<A>,
  inputs: Readonly<Record<string, unknown>>,
  attrs: A,
  outs: readonly Tensor[],
  forward: (inputs: Record<string, unknown>, attrs: A, outs: Tensor[]) => void,
): void {
  const device = outs[0].device;
  splitCount.runs++;
  const temps: Tensor[] = [];
  try {
    const flat = plan.kind === 'flat';
    const flatten = (t: Tensor) => {
      const v = view(t, [t.size]);
      temps.push(v);
      return v;
    };
    const ins: Record<string, unknown> = { ...inputs };
    const tensorsOf = (v: unknown): Tensor[] => (v instanceof Tensor ? [v] : Array.isArray(v) ? v.filter((t) => t instanceof Tensor) : []);
    for (const k of plan.batched) {
      const t = ins[k];
      if (tensorsOf(t).length === 0) throw new Error(`${name}: split plan names '${k}', which is not a tensor input`);
      if (flat) ins[k] = Array.isArray(t) ? t.map(flatten) : flatten(t as Tensor);
    }
    const outRows = flat ? outs.map(flatten) : [...outs];
    const batched = [...plan.batched.flatMap((k) => tensorsOf(ins[k])), ...(plan.kind === 'batch-sum' ? [] : outRows)];
    const n = batched[0].shape[0];
    const bad = batched.find((t) => t.shape[0] !== n);
    if (bad) throw new Error(`${name}: cannot split: operands have ${n} and ${bad.shape[0]} rows along dim 0`);
    // what is passed whole must fit one binding
    const whole = [
      ...Object.entries(ins).flatMap(([k, t]) => (plan.batched.includes(k) ? [] : tensorsOf(t).map((x) => [k, x] as const))),
      ...(plan.kind === 'batch-sum' ? outRows.map((t, i) => [`output ${i}`, t] as const) : []),
    ];
    for (const [k, t] of whole) {
      const bytes = (t as Tensor).byteLength;
      if (bytes > device.maxBindingSize) {
        throw new Error(
          `${name}: operand '${k}' of ${bytes} bytes exceeds this device's largest storage binding (${device.maxBindingSize} bytes) and this op splits only ${plan.batched.join(', ')}`,
        );
      }
    }
    const { rows, views } = rowChunks(name, batched, device);
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start);
      const chunk: Tensor[] = [];
      const take = (t: Tensor) => {
        const c = takeRows(t, start, count, views);
        chunk.push(c);
        return c;
      };
      try {
        const cin: Record<string, unknown> = { ...ins };
        for (const k of plan.batched) {
          const v = ins[k];
          cin[k] = Array.isArray(v) ? v.map(take) : take(v as Tensor);
        }
        let couts: Tensor[];
        if (plan.kind === 'batch-sum') {
          // the first chunk writes the outputs; later ones write scratch that is added in
          couts = start === 0 ? [...outRows] : outRows.map((o) => empty(o.shape, o.dtype, device));
          if (start > 0) chunk.push(...couts);
        } else couts = outRows.map(take);
        forward(cin, plan.attrs ? plan.attrs(count) : attrs, couts);
        if (plan.kind === 'batch-sum' && start > 0) outRows.forEach((o, i) => accumulate(o, couts[i]));
        else if (plan.kind !== 'batch-sum' && !views) outRows.forEach((o, i) => putRows(o, start, couts[i]));
      } finally {
        for (const c of chunk) c.dispose();
      }
    }
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * The split plan of an elementwise op: 'flat' when every tensor operand has the output's shape, else 'batch'
 * over the operands that have the output's rows (broadcast ones are passed whole); null when nothing splits.
 */
export function elementwiseSplit<A>(names: readonly string[], inputs: Readonly<Record<string, unknown>>, outShape: readonly number[]): SplitPlan<A> | null {
  const tensors = names.filter((k) => inputs[k] instanceof Tensor);
  const same = (s: readonly number[]) => s.length === outShape.length && s.every((d, i) => d === outShape[i]);
  if (tensors.every((k) => same((inputs[k] as Tensor).shape))) return { kind: 'flat', batched: tensors };
  const n = outShape[0];
  if (outShape.length === 0 || n <= 1) return null;
  const rows = tensors.filter((k) => {
    const t = inputs[k] as Tensor;
    return t.ndim === outShape.length && t.shape[0] === n;
  });
  return { kind: 'batch', batched: rows };
}

/** A 'batch' plan over the named inputs (pass it as an op's `split` when every output has their rows). */
export const byBatch =
  <A>(...batched: string[]) =>
  (): SplitPlan<A> => ({ kind: 'batch', batched });
