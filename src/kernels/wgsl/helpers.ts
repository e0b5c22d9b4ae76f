/**
 * WGSL helper functions shared by the kernel families. The shader builder emits a helper once,
 * and only when the kernel (or another emitted helper) calls it. NaN and Inf are built at run
 * time with bitcast because WGSL rejects them as constants.
 */
export interface Helper {
  name: string;
  code: string;
}

/** In dependency order: a helper only calls helpers listed before it. */
export const HELPERS: readonly Helper[] = [
  { name: 'nan_f32', code: 'fn nan_f32() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }' },
  { name: 'inf_f32', code: 'fn inf_f32() -> f32 { var bits = 0x7f800000u; return bitcast<f32>(bits); }' },
  { name: 'is_nan', code: 'fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }' },
  {
    name: 'log1p_f32',
    code: `fn log1p_f32(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (abs(x) > 0.5) { return log(u); }
  return log(u) * x / (u - 1.0);
}`,
  },
  {
    name: 'expm1_f32',
    code: `fn expm1_f32(x: f32) -> f32 {
  if (abs(x) < 1e-5) { return x + 0.5 * x * x; }
  if (abs(x) > 0.5) { return exp(x) - 1.0; }
  let u = exp(x);
  return (u - 1.0) * x / log(u);
}`,
  },
  {
    name: 'sigmoid_f32',
    code: `fn sigmoid_f32(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}`,
  },
  {
    name: 'erf_f32',
    code: `fn erf_f32(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}`,
  },
  {
    name: 'pow_f32',
    code: `fn pow_f32(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a == 0.0) { return select(0.0, inf_f32(), b < 0.0); }
  let r = exp2(b * log2(abs(a)));
  if (a > 0.0) { return r; }
  if (fract(b) != 0.0) { return nan_f32(); }
  return select(r, -r, fract(b * 0.5) != 0.0);
}`,
  },
];

const calls = (code: string, name: string) => new RegExp(`\\b${name}\\s*\\(`).test(code);
const defines = (code: string, name: string) => new RegExp(`\\bfn\\s+${name}\\s*\\(`).test(code);

/** The helpers `code` calls, directly or through other helpers, in dependency order (none that `code` defines itself). */
export function helpersUsedBy(code: string): Helper[] {
  const used = new Set<string>();
  // walk from the last helper down: a helper's callees come before it, so one pass sees them after it
  for (let k = HELPERS.length - 1; k >= 0; k--) {
    const h = HELPERS[k];
    if (defines(code, h.name)) continue;
    if (calls(code, h.name) || [...used].some((u) => calls(HELPERS.find((x) => x.name === u)!.code, h.name))) used.add(h.name);
  }
  return HELPERS.filter((h) => used.has(h.name));
}
