/** Random keys and tensors: Threefry known answers, determinism, statistics, sizes. */
import { describe, it, expect } from 'vitest';
import { key, split, foldIn, permutation, threefry2x32 } from '../../src/base/random';
import { rand, uniform, randn, normal, randint, bernoulli, randperm, tensor, tidy, ArgumentError } from '../../src/node';
import { refUniform, refRandint } from '../../src/tensor/ops/ref/random';
import { scaleBits64, randomBits } from '../../src/base/random';

const N = 100_000;
const meanVar = (xs: ArrayLike<number>) => {
  let s = 0,
    s2 = 0;
  for (let i = 0; i < xs.length; i++) {
    s += xs[i];
    s2 += xs[i] * xs[i];
  }
  const m = s / xs.length;
  return [m, s2 / xs.length - m * m];
};
const corr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  const [ma, va] = meanVar(a),
    [mb, vb] = meanVar(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i] - ma) * (b[i] - mb);
  return c / a.length / Math.sqrt(va * vb);
};
const hex = (v: readonly number[]) => v.map((x) => x.toString(16).padStart(8, '0'));

describe('random: Threefry-2x32-20 known answers (Random123 kat_vectors)', () => {
  it('matches the published vectors', () => {
    expect(hex(threefry2x32(0, 0, 0, 0))).toEqual(['6b200159', '99ba4efe']);
    expect(hex(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff))).toEqual(['1cb996fc', 'bb002be7']);
    // key (0x13198a2e, 0x03707344), counter (0x243f6a88, 0x85a308d3): digits of pi
    expect(hex(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3))).toEqual(['c4923a9c', '483df7a0']);
  });
  it('the GPU kernel computes the same blocks (randint over the full 32-bit range exposes the high word)', async () => {
    // with low = -2^31 and range 2^32 - 1, value + 2^31 = floor(x (2^32 - 1) / 2^64) ∈ {y0 - 1, y0}
    const k = key(1234);
    const got = await randint(k, [64], -2147483648, 2147483647).data();
    const want = refRandint(k, [64], -2147483648, 2147483647).data;
    expect([...got]).toEqual([...want]);
  });
});

describe('random: keys', () => {
  it("key(seed) is the seed's 64 bits, high word first; rejects non-integers", () => {
    expect(key(0)).toEqual([0, 0]);
    expect(key(42)).toEqual([0, 42]);
    expect(key(2 ** 32 + 5)).toEqual([1, 5]);
    expect(key(-1)).toEqual([0xffffffff, 0xffffffff]);
    expect(() => key(1.5)).toThrow(/key: argument 'seed' is 1.5/);
    expect(Object.isFrozen(key(3))).toBe(true);
  });
  it('split and foldIn are deterministic, distinct and differ from the parent', () => {
    const k = key(0);
    const kids = split(k, 4);
    expect(kids).toHaveLength(4);
    expect(split(k, 4)).toEqual(kids);
    expect(split(k)).toEqual(kids.slice(0, 2));
    const all = new Set([k, ...kids, foldIn(k, 0), foldIn(k, 1)].map((x) => x.join(',')));
    expect(all.size).toBe(7);
    expect(foldIn(k, 7)).toEqual(foldIn(k, 7));
    expect(split(k, 0)).toEqual([]);
  });
  it('random ops name the bad key', () => {
    expect(() => rand([1, 2, 3] as never, [2])).toThrow(ArgumentError);
    expect(() => rand([1, 2, 3] as never, [2])).toThrow(/rand: argument 'key'/);
    expect(() => split([-1, 0] as never)).toThrow(/split: argument 'key'/);
  });
});

describe('random: determinism and streams', () => {
  it('same key ⇒ same values; different keys ⇒ different values; layout independence', async () => {
    const k = key(5);
    const a = await rand(k, [1000]).data();
    const b = await rand(k, [10, 100]).data();
    expect([...b]).toEqual([...a]);
    const prefix = await rand(k, [37]).data();
    expect([...prefix]).toEqual([...a.slice(0, 37)]);
    const c = await rand(key(6), [1000]).data();
    let same = 0;
    for (let i = 0; i < 1000; i++) if (a[i] === c[i]) same++;
    expect(same).toBeLessThan(3);
  });
  it('split keys give uncorrelated streams', async () => {
    const [k1, k2] = split(key(11));
    const a = await randn(k1, [N]).data();
    const b = await randn(k2, [N]).data();
    // |r| < 4 standard errors (1/√N)
    expect(Math.abs(corr(a, b))).toBeLessThan(4 / Math.sqrt(N));
    // and neighbours within one stream are uncorrelated too
    expect(Math.abs(corr(a.subarray(1), a.subarray(0, N - 1)))).toBeLessThan(4 / Math.sqrt(N));
    const [k3] = split(foldIn(key(11), 1));
    const c = await rand(k3, [N]).data();
    expect(Math.abs(corr(a, c))).toBeLessThan(4 / Math.sqrt(N));
  });
  it('empty tensors and scalars', async () => {
    expect((await rand(key(1), [0, 3]).data()).length).toBe(0);
    expect((await randint(key(1), [2, 0], 0, 5).data()).length).toBe(0);
    expect(randn(key(1), []).shape).toEqual([]);
    const s = await rand(key(1), []).item();
    expect(s).toBe(refUniform(key(1), [], 0, 1).data[0]);
  });
  it('tensors past 65535 workgroups match the reference at every fold boundary', async () => {
    const n = 65535 * 256 + 1000; // the dispatch folds into y
    const k = key(77);
    const got = await rand(k, [n]).data();
    expect(got.length).toBe(n);
    const idx = [0, 1, 255, 256, 65535 * 256 - 1, 65535 * 256, 65535 * 256 + 1, n - 1];
    for (let j = 0; j < 200; j++) idx.push(Math.floor((j / 200) * n));
    // element i is the top 24 bits of word 0 of block i, over 2^24
    for (const i of idx) expect(got[i], `element ${i}`).toBe(Math.floor(randomBits(k, i)[0] / 256) / 2 ** 24);
  });
});

describe('random: distributions (100k samples, bounds of 4–5 standard errors)', () => {
  it('rand: mean 1/2, variance 1/12, range [0, 1)', async () => {
    const x = await rand(key(1), [N]).data();
    const [m, v] = meanVar(x);
    expect(Math.abs(m - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(v - 1 / 12)).toBeLessThan(4 * Math.sqrt((1 / 80 - 1 / 144) / N));
    expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...x)).toBeLessThan(1);
  });
  it('uniform(low, high)', async () => {
    const x = await uniform(key(2), [N], { low: -2, high: 3 }).data();
    const [m, v] = meanVar(x);
    expect(Math.abs(m - 0.5)).toBeLessThan(4 * Math.sqrt(25 / 12 / N));
    expect(Math.abs(v - 25 / 12) / (25 / 12)).toBeLessThan(4 * Math.sqrt((1 / 80 - 1 / 144) / N) * 12);
    expect(Math.min(...x)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...x)).toBeLessThan(3);
    expect(() => uniform(key(2), [2], { low: 1, high: 0 })).toThrow(/uniform: argument 'high'/);
  });
  it('randn: mean 0, variance 1, a normal tail; normal(mean, std)', async () => {
    const x = await randn(key(3), [N]).data();
    const [m, v] = meanVar(x);
    expect(Math.abs(m)).toBeLessThan(4 / Math.sqrt(N));
    expect(Math.abs(v - 1)).toBeLessThan(4 * Math.sqrt(2 / N));
    // P(|z| > 2) = 0.0455
    const tail = x.filter((z) => Math.abs(z) > 2).length / N;
    expect(Math.abs(tail - 0.0455)).toBeLessThan(4 * Math.sqrt((0.0455 * 0.9545) / N));
    expect(x.every(Number.isFinite)).toBe(true);
    const y = await normal(key(3), [N], { mean: 10, std: 0.5 }).data();
    const [my, vy] = meanVar(y);
    expect(Math.abs(my - 10)).toBeLessThan((4 * 0.5) / Math.sqrt(N));
    expect(Math.abs(vy / 0.25 - 1)).toBeLessThan(4 * Math.sqrt(2 / N));
    expect(() => normal(key(3), [2], { std: -1 })).toThrow(/normal: argument 'std' is -1/);
  });
  it('randint: range, every value hit evenly (chi-square), int32', async () => {
    const t = randint(key(4), [N], -3, 7);
    expect(t.dtype).toBe('int32');
    const x = await t.data();
    const counts = new Map<number, number>();
    for (const v of x) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6]);
    const e = N / 10;
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(27.9); // 9 degrees of freedom, p = 0.001
    const wide = await randint(key(4), [1000], -2147483648, 2147483647).data();
    expect(Math.min(...wide)).toBeLessThan(-2e9);
    expect(Math.max(...wide)).toBeGreaterThan(2e9);
    expect(() => randint(key(4), [2], 5, 5)).toThrow(/randint: argument 'high'/);
    expect(() => randint(key(4), [2], 0.5, 5)).toThrow(/randint: argument 'low'/);
  });
  it('bernoulli: rate p, float32 0/1, p = 0 and 1 exact, tensor p', async () => {
    const t = bernoulli(key(5), 0.3, [N]);
    expect(t.dtype).toBe('float32');
    const x = await t.data();
    expect(x.every((v) => v === 0 || v === 1)).toBe(true);
    const [m] = meanVar(x);
    expect(Math.abs(m - 0.3)).toBeLessThan(4 * Math.sqrt(0.21 / N));
    expect((await bernoulli(key(5), 0, [100]).data()).every((v) => v === 0)).toBe(true);
    expect((await bernoulli(key(5), 1, [100]).data()).every((v) => v === 1)).toBe(true);
    const probs = tidy(() => tensor([[0.1], [0.9]]));
    const y = await bernoulli(key(6), probs, [2, N / 2]).data();
    const [m0] = meanVar(y.subarray(0, N / 2)),
      [m1] = meanVar(y.subarray(N / 2));
    expect(Math.abs(m0 - 0.1)).toBeLessThan(4 * Math.sqrt(0.09 / (N / 2)));
    expect(Math.abs(m1 - 0.9)).toBeLessThan(4 * Math.sqrt(0.09 / (N / 2)));
    expect(bernoulli(key(6), probs).shape).toEqual([2, 1]);
    expect(() => bernoulli(key(5), 1.5, [2])).toThrow(/bernoulli: argument 'p' is 1.5/);
    expect(() => bernoulli(key(5), 0.5)).toThrow(/bernoulli: argument 'shape'/);
    expect(() => bernoulli(key(5), probs, [3, 4])).toThrow(/bernoulli: argument 'p'/);
    probs.dispose();
  });
  it('rand and randn refuse other dtypes', () => {
    expect(() => rand(key(1), [2], { dtype: 'int32' })).toThrow(/rand: argument 'dtype'/);
  });
});

describe('random: permutations', () => {
  it('permutation is a deterministic permutation; randperm matches it', async () => {
    const p = permutation(key(9), 1000);
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
    expect(permutation(key(9), 1000)).toEqual(p);
    expect(permutation(key(10), 1000)).not.toEqual(p);
    const t = randperm(key(9), 1000);
    expect(t.dtype).toBe('int32');
    expect([...(await t.data())]).toEqual([...p]);
    expect(permutation(key(9), 0).length).toBe(0);
    expect([...permutation(key(9), 1)]).toEqual([0]);
    expect(() => randperm(key(9), -1)).toThrow(/randperm: argument 'n' is -1/);
    expect(() => permutation(key(9), 2.5)).toThrow(/permutation: argument 'n' is 2.5/);
  });
  it('every element lands in every position evenly (n = 5, 20k shuffles)', () => {
    const n = 5,
      T = 20_000;
    const counts = new Float64Array(n * n);
    for (let s = 0; s < T; s++) {
      const p = permutation(foldIn(key(1), s), n);
      p.forEach((v, pos) => counts[v * n + pos]++);
    }
    const e = T / n;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(39.3); // 16 degrees of freedom, p = 0.001
  });
  it('the exact 64×32-bit multiply-shift agrees with BigInt', () => {
    let s = 12345;
    const next = () => {
      s = threefry2x32(s, 1, 2, 3)[0];
      return s;
    };
    for (let t = 0; t < 2000; t++) {
      const hi = next(),
        lo = next(),
        r = (next() % 0xffffffff) + 1;
      expect(scaleBits64(hi, lo, r)).toBe(Number((((BigInt(hi) << 32n) | BigInt(lo)) * BigInt(r)) >> 64n));
    }
  });
});
