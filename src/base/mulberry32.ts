/**
 * mulberry32: a tiny, fast 32-bit PRNG on the host (Tommy Ettinger's constants), for procedural data
 * (the synthetic sets) and seeded test inputs. Not for tensors: those use the Threefry keys of
 * ./random.ts, which give the same values on the GPU and the CPU.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
