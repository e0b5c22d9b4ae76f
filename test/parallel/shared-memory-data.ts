/** Deterministic inputs for the shared-memory collective tests, made the same way in the workers and the test. */

export type Step = { op: 'allReduce'; length: number } | { op: 'broadcast'; length: number; root: number } | { op: 'barrier' };

/** Rank `rank`'s input for step `step`: magnitudes from 1e-3 to 1e4, some -0, so the summation order shows in the bits. */
export function stepInput(seed: number, step: number, rank: number, length: number): Float32Array {
  let s = (seed * 2654435761 + step * 40503 + rank * 9973 + 1) >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Float32Array.from({ length }, () => {
    const u = rnd();
    if (u < 0.03) return -0;
    return (rnd() - 0.5) * 10 ** Math.floor(rnd() * 8 - 3);
  });
}

/** The float32 sum in rank order from +0, as inProcessGroup computes it. */
export function rankOrderedSum(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts[0]?.length ?? 0);
  for (const p of parts) for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i] + p[i]);
  return out;
}
