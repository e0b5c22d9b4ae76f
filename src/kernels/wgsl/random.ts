/**
 * Generator for random-tensor kernels: one thread per element, element i hashing the counter
 * [i, 0] under the key with Threefry-2x32-20 (see src/base/random.ts), so the values do not
 * depend on the dispatch layout. Specialised only on the distribution; the key, sizes and
 * distribution parameters travel in the uniform block.
 *
 * How each kind uses the block's two words (y0, y1):
 * - uniform:   u = (y0 >> 8) · 2^-24 (24 random bits, exactly representable), out = low + (high − low) · u
 * - normal:    Box–Muller on ua = (y0 >> 8) · 2^-24 and ub = (y1 >> 8) · 2^-24:
 *              z = sqrt(−2 ln(1 − ua)) · cos(2π ub) (1 − ua ∈ (0, 1], so never log 0;
 *              −ln(1 − ua) by its series when ua < 1/4, so small radii keep their relative accuracy); out = mean + std · z
 * - randint:   out = low + floor((y0·2^32 + y1) · range / 2^64) (multiply-shift; bias < range / 2^64)
 * - bernoulli: out = 1 if (y0 >> 8) < threshold else 0, threshold = ceil(p · 2^24) (i.e. u < p exactly);
 *              with a tensor p: 1 if u < p[i]
 */
import { UniformLayout, type UniformField } from '../webgpu/uniforms';
import { kernel, type Shader } from './builder';

export type RandomKind = 'uniform' | 'normal' | 'randint' | 'bernoulli' | 'bernoulliTensor';
export const RANDOM_WG = 256;

const common: UniformField[] = [
  { name: 'n', type: 'u32' },
  { name: 'k0', type: 'u32' },
  { name: 'k1', type: 'u32' },
];
const extra: Record<RandomKind, UniformField[]> = {
  uniform: [
    { name: 'low', type: 'f32' },
    { name: 'high', type: 'f32' },
  ],
  normal: [
    { name: 'mean', type: 'f32' },
    { name: 'sd', type: 'f32' },
  ],
  randint: [
    { name: 'low', type: 'i32' },
    { name: 'range', type: 'u32' },
  ],
  bernoulli: [{ name: 'threshold', type: 'u32' }],
  bernoulliTensor: [],
};
const layouts = Object.fromEntries(Object.entries(extra).map(([k, f]) => [k, new UniformLayout([...common, ...f])])) as Record<RandomKind, UniformLayout>;

export interface RandomKernel {
  key: string;
  source: () => Shader;
  layout: UniformLayout;
}

/** Threefry-2x32 rotation amounts and the key-schedule parity constant (Random123). */
const ROT = [13, 15, 26, 6, 17, 29, 16, 24];

function threefryWGSL(): string {
  const lines: string[] = [];
  for (let r = 0; r < 20; r++) {
    lines.push(`x0 = x0 + x1; x1 = (x1 << ${ROT[r % 8]}u) | (x1 >> ${32 - ROT[r % 8]}u); x1 = x1 ^ x0;`);
    if (r % 4 === 3) {
      const s = (r + 1) / 4;
      lines.push(`x0 = x0 + ks[${s % 3}]; x1 = x1 + ks[${(s + 1) % 3}] + ${s}u;`);
    }
  }
  return `fn threefry(k0: u32, k1: u32, c0: u32, c1: u32) -> vec2<u32> {
  let ks = array<u32, 3>(k0, k1, 0x1bd11bdau ^ k0 ^ k1);
  var x0 = c0 + k0;
  var x1 = c1 + k1;
  ${lines.join('\n  ')}
  return vec2<u32>(x0, x1);
}`;
}

const helpers = /* wgsl */ `
fn unit24(w: u32) -> f32 { return f32(w >> 8u) * 5.9604644775390625e-8; }
// cos(2π u) for u in [0, 1): quarter-turn reduction, exact in f32, then a sine of an argument in [0, π/2]
fn cos2pi(u: f32) -> f32 {
  let v = u * 4.0;
  let q = floor(v);
  let f = v - q;
  let h = 1.5707963267948966;
  let s = sin(h * f);
  let c = sin(h * (1.0 - f));
  if (q == 0.0) { return c; }
  if (q == 1.0) { return -s; }
  if (q == 2.0) { return -c; }
  return s;
}
// −ln(1 − u) for u in [0, 1): the series Σ u^k / k below 1/4 (log near 1 is not accurate enough
// on every GPU), log above (where the result is at least 0.28)
fn neglog1m(u: f32) -> f32 {
  if (u < 0.25) { return u * (1.0 + u * (0.5 + u * (0.33333333333333331 + u * (0.25 + u * (0.20000000000000001 + u * (0.16666666666666666 + u * (0.14285714285714285 + u * (0.125 + u * (0.1111111111111111 + u * (0.10000000000000001 + u * (0.090909090909090912 + u * (0.083333333333333329 + u * (0.076923076923076927 + u * (0.071428571428571425 + u * (0.066666666666666666 + u * (0.0625)))))))))))))))); }
  return -log(1.0 - u);
}
// (high, low) words of the 64-bit product a·b
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
  let al = a & 0xffffu; let ah = a >> 16u; let bl = b & 0xffffu; let bh = b >> 16u;
  let ll = al * bl; let lh = al * bh; let hl = ah * bl; let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return vec2<u32>(hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u), (mid << 16u) | (ll & 0xffffu));
}`;

const bodies: Record<RandomKind, { out: string; expr: string }> = {
  uniform: { out: 'f32', expr: 'p.low + (p.high - p.low) * unit24(y.x)' },
  normal: { out: 'f32', expr: 'p.mean + p.sd * (sqrt(2.0 * neglog1m(unit24(y.x))) * cos2pi(unit24(y.y)))' },
  randint: { out: 'i32', expr: 'randint(y)' },
  bernoulli: { out: 'f32', expr: 'select(0.0, 1.0, (y.x >> 8u) < p.threshold)' },
  bernoulliTensor: { out: 'f32', expr: 'select(0.0, 1.0, unit24(y.x) < prob[i])' },
};

const RANDINT = /* wgsl */ `fn randint(y: vec2<u32>) -> i32 {
  let a = mul_wide(y.x, p.range);
  let b = mul_wide(y.y, p.range);
  let s = a.y + b.x;
  let r = a.x + select(0u, 1u, s < a.y);
  return bitcast<i32>(bitcast<u32>(p.low) + r);
}`;

export function randomKernel(kind: RandomKind): RandomKernel {
  const layout = layouts[kind];
  const { out, expr } = bodies[kind];
  return {
    layout,
    ...kernel('random', { kind }, (v) => ({
      uniforms: layout,
      workgroupSize: RANDOM_WG,
      grid: 'n',
      storage: [...(v.kind === 'bernoulliTensor' ? [{ name: 'prob', type: 'f32' }] : []), { name: 'out', type: out, access: 'read_write' as const }],
      decls: `${helpers}\n${threefryWGSL()}\n${v.kind === 'randint' ? RANDINT : ''}`,
      body: `
  let y = threefry(p.k0, p.k1, i, 0u);
  out[i] = ${expr};`,
    })),
  };
}
