/** Splitting a batch on dim 0 across K replicas (torch.tensor_split's sizes: the first N mod K slices get one more). */

/** One input of a data-parallel batch, in host memory: row-major values and shape (dim 0 is the batch). */
export interface HostBatchInput {
  /** Row-major values (Float32Array for float32; Int32Array / Uint32Array for integer inputs such as labels). */
  data: Float32Array | Int32Array | Uint32Array;
  /** Size of each dimension; dim 0 is split across the replicas. */
  shape: readonly number[];
}

/** A batch: named inputs that share their first dimension. */
export type HostBatch = Record<string, HostBatchInput>;

/** Sizes of K slices of n rows: as equal as possible, larger ones first. */
export function splitSizes(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, r) => Math.floor(n / k) + (r < n % k ? 1 : 0));
}

/** Checks the batch and returns its row count. */
export function batchRows(batch: HostBatch, k: number): number {
  const names = Object.keys(batch ?? {});
  if (names.length === 0) throw new TypeError('dataParallel.step: batch has no inputs; expected { name: { data, shape } }');
  let rows = -1;
  for (const name of names) {
    const b = batch[name];
    if (!b || !ArrayBuffer.isView(b.data) || !Array.isArray(b.shape) || b.shape.length === 0)
      throw new TypeError(`dataParallel.step: batch.${name} is not { data: typed array, shape: [n, ...] }`);
    const size = b.shape.reduce((a, d) => a * d, 1);
    if (size !== b.data.length)
      throw new TypeError(`dataParallel.step: batch.${name} has ${b.data.length} values; its shape [${b.shape.join(', ')}] needs ${size}`);
    if (rows >= 0 && b.shape[0] !== rows) throw new TypeError(`dataParallel.step: batch.${name} has ${b.shape[0]} rows; other inputs have ${rows}`);
    rows = b.shape[0];
  }
  if (rows < k) throw new TypeError(`dataParallel.step: the batch has ${rows} rows; expected at least one per device (${k})`);
  return rows;
}

/** The rows [start, start + n) of every input (views, no copy). */
export function sliceBatch(batch: HostBatch, start: number, n: number): HostBatch {
  const out: HostBatch = {};
  for (const [name, b] of Object.entries(batch)) {
    const row = b.shape.slice(1).reduce((a, d) => a * d, 1);
    out[name] = { data: b.data.subarray(start * row, (start + n) * row), shape: [n, ...b.shape.slice(1)] };
  }
  return out;
}

/** Checks an explicit split: k positive integers summing to n. */
export function checkSplit(split: readonly number[], n: number, k: number): number[] {
  if (!Array.isArray(split) || split.length !== k || split.some((m) => !Number.isInteger(m) || m < 1) || split.reduce((a, b) => a + b, 0) !== n)
    throw new TypeError(`dataParallel.step: split is [${String(split)}]; expected ${k} positive integers summing to the batch's ${n} rows`);
  return split.slice();
}
