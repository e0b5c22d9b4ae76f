/**
 * Gradient buckets, as PyTorch DDP forms them: parameters in reverse order (backward produces the last layers'
 * gradients first), packed into buckets of about `bucketBytes` (25 MB by default); a parameter larger than that
 * gets a bucket of its own.
 */

/** One bucket: which parameters (indices in flatten order) and where each sits in the bucket's flat array. */
export interface Bucket {
  /** Parameter indices, in the order they are packed. */
  indices: number[];
  /** Offset of each packed parameter, in elements. */
  offsets: number[];
  /** Total elements. */
  size: number;
}

/** PyTorch DDP's default bucket_cap_mb (25 MiB). */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

/** Packs parameters of the given sizes (elements, float32) into buckets, last parameter first. */
export function planBuckets(sizes: readonly number[], bucketBytes = DEFAULT_BUCKET_BYTES): Bucket[] {
  const cap = Math.max(1, Math.floor(bucketBytes / 4));
  const buckets: Bucket[] = [];
  let cur: Bucket = { indices: [], offsets: [], size: 0 };
  for (let i = sizes.length - 1; i >= 0; i--) {
    if (cur.indices.length > 0 && cur.size + sizes[i] > cap) {
      buckets.push(cur);
      cur = { indices: [], offsets: [], size: 0 };
    }
    cur.indices.push(i);
    cur.offsets.push(cur.size);
    cur.size += sizes[i];
  }
  if (cur.indices.length > 0) buckets.push(cur);
  return buckets;
}
