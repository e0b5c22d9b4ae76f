/** Elementwise ops: one table row each (WGSL, float64 reference, VJP). */
import { Tensor } from '../tensor';
import { isFloat, parseDType, roundFloat16, type DType } from '../../base/dtype';
import { defineElementwise } from './elementwise-define';
import { defineOp, type Operand } from './define';
import { ArgumentError } from '../../base/shape';
import { empty } from '../tensor';
import { refMap } from './ref/elementwise';
import { elementwiseKernel, WG } from '../../kernels/wgsl/elementwise';
import { grid } from '../../kernels/webgpu/device';
import { wgslType } from '../../base/dtype';

const T = (x: Operand) => x as Tensor;
const erf = (x: number) => {
  // float64 erf by series / continued fraction (independent of the WGSL approximation)
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = x, term = x;
    for (let n = 1; n < 200; n++) { term *= -x * x / n; const add = term / (2 * n + 1); sum += add; if (Math.abs(add) < 1e-17) break; }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
};

// ---- unary ---------------------------------------------------------------------------------

const negOp = defineElementwise({ name: 'neg', arity: 1, types: 'same', wgsl: '-v0', reference: (x) => -x, rejects: ['bool', 'uint32'],
  vjp: ({ dy }) => [neg(dy)] });
const absOp = defineElementwise({ name: 'abs', arity: 1, types: 'same', wgsl: 'abs(v0)', reference: Math.abs, rejects: ['bool'],
  vjp: ({ dy, inputs: [x] }) => [mul(dy, sign(T(x)))] });
const signOp = defineElementwise({ name: 'sign', arity: 1, types: 'same', wgsl: (t) => (t === 'u32' ? 'select(0u, 1u, v0 > 0u)' : 'sign(v0)'), reference: Math.sign, rejects: ['bool'],
  vjp: ({ dy }) => [mul(dy, 0)] });
const expOp = defineElementwise({ name: 'exp', arity: 1, types: 'float', wgsl: 'exp(v0)', reference: Math.exp,
  vjp: ({ dy, outputs: [y] }) => [mul(dy, y)] });
const logOp = defineElementwise({ name: 'log', arity: 1, types: 'float', wgsl: 'select(select(log(v0), -inf_f32(), v0 == 0.0), nan_f32(), v0 < 0.0)', reference: (x) => (x < 0 ? NaN : Math.log(x)),
  vjp: ({ dy, inputs: [x] }) => [div(dy, T(x))] });
const log1pOp = defineElementwise({ name: 'log1p', arity: 1, types: 'float', wgsl: 'log1p_f32(v0)', reference: Math.log1p,
  vjp: ({ dy, inputs: [x] }) => [div(dy, add(T(x), 1))] });
const expm1Op = defineElementwise({ name: 'expm1', arity: 1, types: 'float', wgsl: 'expm1_f32(v0)', reference: Math.expm1,
  vjp: ({ dy, outputs: [y] }) => [mul(dy, add(y, 1))] });
const sqrtOp = defineElementwise({ name: 'sqrt', arity: 1, types: 'float', wgsl: 'select(sqrt(v0), nan_f32(), v0 < 0.0)', reference: Math.sqrt,
  vjp: ({ dy, outputs: [y] }) => [div(mul(dy, 0.5), y)] });
const rsqrtOp = defineElementwise({ name: 'rsqrt', arity: 1, types: 'float', wgsl: 'select(inverseSqrt(v0), nan_f32(), v0 < 0.0)', reference: (x) => 1 / Math.sqrt(x),
  vjp: ({ dy, outputs: [y] }) => [mul(dy, mul(pow(y, 3), -0.5))] });
const squareOp = defineElementwise({ name: 'square', arity: 1, types: 'same', wgsl: 'v0 * v0', reference: (x) => x * x, rejects: ['bool'],
  vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(T(x), 2))] });
const reciprocalOp = defineElementwise({ name: 'reciprocal', arity: 1, types: 'float', wgsl: '1.0 / v0', reference: (x) => 1 / x,
  vjp: ({ dy, outputs: [y] }) => [neg(mul(dy, square(y)))] });
const sinOp = defineElementwise({ name: 'sin', arity: 1, types: 'float', wgsl: 'sin(v0)', reference: Math.sin,
  vjp: ({ dy, inputs: [x] }) => [mul(dy, cos(T(x)))] });
const cosOp = defineElementwise({ name: 'cos', arity: 1, types: 'float', wgsl: 'cos(v0)', reference: Math.cos,
  vjp: ({ dy, inputs: [x] }) => [neg(mul(dy, sin(T(x))))] });
const tanhOp = defineElementwise({ name: 'tanh', arity: 1, types: 'float', wgsl: 'tanh(clamp(v0, -15.0, 15.0))', reference: Math.tanh,
  vjp: ({ dy, outputs: [y] }) => [mul(dy, sub(1, square(y)))] });
const sigmoidOp = defineElementwise({ name: 'sigmoid', arity: 1, types: 'float', wgsl: 'sigmoid_f32(v0)', reference: (x) => 1 / (1 + Math.exp(-x)),
  vjp: ({ dy, outputs: [y] }) => [mul(dy, mul(y, sub(1, y)))] });
const reluOp = defineElementwise({ name: 'relu', arity: 1, types: 'same', wgsl: (t) => `max(v0, ${t}(0))`, reference: (x) => Math.max(x, 0), rejects: ['bool'],
  vjp: ({ dy, inputs: [x] }) => [mul(dy, gt(T(x), 0))] });
const leakyReluOp = defineElementwise({ name: 'leakyRelu', arity: 2, types: 'float', wgsl: 'select(v0 * v1, v0, v0 > 0.0)', reference: (x, s) => (x > 0 ? x : x * s),
  vjp: ({ dy, inputs: [x, s] }) => [mul(dy, where(gt(T(x), 0), 1, s as number)), null] });
const eluOp = defineElementwise({ name: 'elu', arity: 2, types: 'float', wgsl: 'select(v1 * expm1_f32(v0), v0, v0 > 0.0)', reference: (x, a) => (x > 0 ? x : a * Math.expm1(x)),
  vjp: ({ dy, inputs: [x, a], outputs: [y] }) => [mul(dy, where(gt(T(x), 0), 1, add(y, a as number))), null] });
const geluOp = defineElementwise({ name: 'gelu', arity: 1, types: 'float', wgsl: '0.5 * v0 * (1.0 + erf_f32(v0 * 0.70710678118654752))', reference: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  vjp: ({ dy, inputs: [x] }) => {
    const xt = T(x);
    const cdf = mul(add(erfApprox(mul(xt, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(square(xt), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(dy, add(cdf, mul(xt, pdf)))];
  } });
const geluTanhOp = defineElementwise({ name: 'geluTanh', arity: 1, types: 'float',
  wgsl: '0.5 * v0 * (1.0 + tanh(clamp(0.7978845608028654 * (v0 + 0.044715 * v0 * v0 * v0), -15.0, 15.0)))',
  reference: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  vjp: ({ dy, inputs: [x] }) => {
    const xt = T(x);
    const inner = mul(add(xt, mul(pow(xt, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    const th = tanh(inner);
    const dInner = mul(add(mul(square(xt), 3 * 0.044715), 1), Math.sqrt(2 / Math.PI));
    return [mul(dy, add(mul(add(th, 1), 0.5), mul(mul(mul(xt, 0.5), sub(1, square(th))), dInner)))];
  } });
const erfOp = defineElementwise({ name: 'erf', arity: 1, types: 'float', wgsl: 'erf_f32(v0)', reference: erf,
  vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(exp(neg(square(T(x)))), 2 / Math.sqrt(Math.PI)))] });
const softplusOp = defineElementwise({ name: 'softplus', arity: 3, types: 'float',
  wgsl: 'select(log1p_f32(exp(v0 * v1)) / v1, v0, v0 * v1 > v2)',
  reference: (x, b, th) => (x * b > th ? x : Math.log1p(Math.exp(x * b)) / b),
  vjp: ({ dy, inputs: [x, b, th] }) => {
    const xb = mul(T(x), b as number);
    return [mul(dy, where(gt(xb, th as number), 1, sigmoid(xb))), null, null];
  } });
const clampOp = defineElementwise({ name: 'clamp', arity: 3, types: 'same', wgsl: 'min(max(v0, v1), v2)', reference: (x, lo, hi) => Math.min(Math.max(x, lo), hi), rejects: ['bool'],
  vjp: ({ dy, inputs: [x, lo, hi] }) => [mul(dy, logicalAnd(ge(T(x), lo as number), le(T(x), hi as number))), null, null] });

const erfApprox = (x: Tensor) => erfOp.call1([x], {});

export const neg = (x: Tensor) => negOp.call1([x], {});
export const abs = (x: Tensor) => absOp.call1([x], {});
export const sign = (x: Tensor) => signOp.call1([x], {});
export const exp = (x: Tensor) => expOp.call1([x], {});
export const log = (x: Tensor) => logOp.call1([x], {});
export const log1p = (x: Tensor) => log1pOp.call1([x], {});
export const expm1 = (x: Tensor) => expm1Op.call1([x], {});
export const sqrt = (x: Tensor) => sqrtOp.call1([x], {});
export const rsqrt = (x: Tensor) => rsqrtOp.call1([x], {});
export const square = (x: Tensor) => squareOp.call1([x], {});
export const reciprocal = (x: Tensor) => reciprocalOp.call1([x], {});
export const sin = (x: Tensor) => sinOp.call1([x], {});
export const cos = (x: Tensor) => cosOp.call1([x], {});
export const tanh = (x: Tensor) => tanhOp.call1([x], {});
export const sigmoid = (x: Tensor) => sigmoidOp.call1([x], {});
export const relu = (x: Tensor) => reluOp.call1([x], {});
export const erfFn = erfApprox;
/** PyTorch's leaky_relu (negativeSlope defaults to 0.01). */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01) => leakyReluOp.call1([x, negativeSlope], {});
export const elu = (x: Tensor, alpha = 1) => eluOp.call1([x, alpha], {});
/** GELU; `approximate: 'tanh'` selects the tanh formula, as in PyTorch. */
export const gelu = (x: Tensor, { approximate = 'none' }: { approximate?: 'none' | 'tanh' } = {}) =>
  (approximate === 'tanh' ? geluTanhOp : geluOp).call1([x], {});
export const softplus = (x: Tensor, { beta = 1, threshold = 20 }: { beta?: number; threshold?: number } = {}) => softplusOp.call1([x, beta, threshold], {});
/** Clamps to [min, max]; either bound may be omitted. Tensor bounds use maximum/minimum. */
export function clamp(x: Tensor, min?: number | Tensor, max?: number | Tensor): Tensor {
  if (typeof min !== 'number' && min !== undefined || typeof max !== 'number' && max !== undefined) {
    const lo = min === undefined ? x : maximum(x, min);
    return max === undefined ? lo : minimum(lo, max);
  }
  const big = x.dtype === 'float32' ? Infinity : x.dtype === 'int32' ? 2147483647 : 4294967295;
  const small = x.dtype === 'float32' ? -Infinity : x.dtype === 'int32' ? -2147483648 : 0;
  return clampOp.call1([x, min ?? small, max ?? big], {});
}

// ---- binary --------------------------------------------------------------------------------

const addOp = defineElementwise({ name: 'add', arity: 2, types: 'same', wgsl: 'v0 + v1', reference: (a, b) => a + b,
  vjp: ({ dy }) => [dy, dy] });
const subOp = defineElementwise({ name: 'sub', arity: 2, types: 'same', wgsl: 'v0 - v1', reference: (a, b) => a - b,
  vjp: ({ dy }) => [dy, neg(dy)] });
const mulOp = defineElementwise({ name: 'mul', arity: 2, types: 'same', wgsl: 'v0 * v1', reference: (a, b) => a * b,
  vjp: ({ dy, inputs: [a, b] }) => [mul(dy, b), mul(dy, a)] });
const divOp = defineElementwise({ name: 'div', arity: 2, types: 'float', wgsl: 'v0 / v1', reference: (a, b) => a / b,
  vjp: ({ dy, inputs: [a, b] }) => [div(dy, b), typeof b === 'number' ? null : neg(div(mul(dy, a), mul(b, b)))] });
const powOp = defineElementwise({ name: 'pow', arity: 2, types: 'float', wgsl: 'pow_f32(v0, v1)', reference: (a, b) => a ** b,
  vjp: ({ dy, inputs: [a, b], outputs: [y] }) => [
    mul(dy, mul(b, pow(a, typeof b === 'number' ? b - 1 : sub(b, 1)))),
    typeof b === 'number' ? null : mul(dy, mul(y, log(a as Tensor))),
  ] });
const maximumOp = defineElementwise({ name: 'maximum', arity: 2, types: 'same',
  wgsl: (t) => (t === 'f32' ? 'select(max(v0, v1), nan_f32(), is_nan(v0) || is_nan(v1))' : 'max(v0, v1)'),
  reference: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  vjp: ({ dy, inputs: [a, b] }) => tieSplit(dy, a, b, gt) });
const minimumOp = defineElementwise({ name: 'minimum', arity: 2, types: 'same',
  wgsl: (t) => (t === 'f32' ? 'select(min(v0, v1), nan_f32(), is_nan(v0) || is_nan(v1))' : 'min(v0, v1)'),
  reference: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  vjp: ({ dy, inputs: [a, b] }) => tieSplit(dy, a, b, lt) });

/** PyTorch splits the gradient evenly between equal inputs of maximum/minimum. */
function tieSplit(dy: Tensor, a: Operand, b: Operand, wins: (a: Operand, b: Operand) => Tensor): Tensor[] {
  const share = add(mul(wins(a, b), 1), mul(eq(a, b), 0.5));
  return [mul(dy, share), mul(dy, sub(1, share))];
}

export const add = (a: Operand, b: Operand) => addOp.call1([a, b], {});
export const sub = (a: Operand, b: Operand) => subOp.call1([a, b], {});
export const mul = (a: Operand, b: Operand) => mulOp.call1([a, b], {});
/** True division (integers give float), as torch.div. */
export const div = (a: Operand, b: Operand) => divOp.call1([a, b], {});
export const pow = (a: Operand, b: Operand) => powOp.call1([a, b], {});
export const maximum = (a: Operand, b: Operand) => maximumOp.call1([a, b], {});
export const minimum = (a: Operand, b: Operand) => minimumOp.call1([a, b], {});

// ---- comparisons and logic (bool results, no gradient) -------------------------------------

const cmp = (name: string, op: string, f: (a: number, b: number) => boolean) =>
  defineElementwise({ name, arity: 2, types: 'compare', wgsl: `select(0u, 1u, v0 ${op} v1)`, reference: (a, b) => (f(a, b) ? 1 : 0), noGrad: 'boolean output' });
const eqOp = cmp('eq', '==', (a, b) => a === b);
const neOp = cmp('ne', '!=', (a, b) => a !== b);
const ltOp = cmp('lt', '<', (a, b) => a < b);
const leOp = cmp('le', '<=', (a, b) => a <= b);
const gtOp = cmp('gt', '>', (a, b) => a > b);
const geOp = cmp('ge', '>=', (a, b) => a >= b);
const logic = (name: string, op: string, f: (a: boolean, b: boolean) => boolean) =>
  defineElementwise({ name, arity: 2, types: 'logical', wgsl: `select(0u, 1u, (v0 != 0u) ${op} (v1 != 0u))`, reference: (a, b) => (f(a !== 0, b !== 0) ? 1 : 0), noGrad: 'boolean output' });
const andOp = logic('logicalAnd', '&&', (a, b) => a && b);
const orOp = logic('logicalOr', '||', (a, b) => a || b);
const xorOp = logic('logicalXor', '!=', (a, b) => a !== b);
const notOp = defineElementwise({ name: 'logicalNot', arity: 1, types: 'logical', wgsl: 'select(0u, 1u, v0 == 0u)', reference: (a) => (a === 0 ? 1 : 0), noGrad: 'boolean output' });
const isNanOp = defineElementwise({ name: 'isnan', arity: 1, types: 'compare', wgsl: (t) => (t === 'f32' ? 'select(0u, 1u, is_nan(v0))' : '0u'), reference: (a) => (Number.isNaN(a) ? 1 : 0), noGrad: 'boolean output' });

export const eq = (a: Operand, b: Operand) => eqOp.call1([a, b], {});
export const ne = (a: Operand, b: Operand) => neOp.call1([a, b], {});
export const lt = (a: Operand, b: Operand) => ltOp.call1([a, b], {});
export const le = (a: Operand, b: Operand) => leOp.call1([a, b], {});
export const gt = (a: Operand, b: Operand) => gtOp.call1([a, b], {});
export const ge = (a: Operand, b: Operand) => geOp.call1([a, b], {});
export const logicalAnd = (a: Operand, b: Operand) => andOp.call1([a, b], {});
export const logicalOr = (a: Operand, b: Operand) => orOp.call1([a, b], {});
export const logicalXor = (a: Operand, b: Operand) => xorOp.call1([a, b], {});
export const logicalNot = (a: Tensor) => notOp.call1([a], {});
export const isnan = (a: Tensor) => isNanOp.call1([a], {});

// ---- where and cast -------------------------------------------------------------------------

const whereOp = defineElementwise({ name: 'where', arity: 3, types: 'same',
  // v0 is the condition converted to the compute type; nonzero selects v1
  wgsl: (t) => `select(v2, v1, v0 != ${t}(0))`,
  reference: (c, a, b) => (c !== 0 ? a : b),
  vjp: ({ dy, inputs: [c, a, b] }) => [null, typeof a === 'number' ? null : where(c, dy, 0), typeof b === 'number' ? null : where(c, 0, dy)] });

/** Elementwise `condition ? a : b` with broadcasting; the result type promotes a and b (not the condition). */
export function where(condition: Operand, a: Operand, b: Operand): Tensor {
  if (condition instanceof Tensor && condition.dtype !== 'bool') throw new ArgumentError('where', 'condition', `has dtype ${condition.dtype}`, 'a bool tensor (as PyTorch; compare first, e.g. ne(x, 0))');
  return whereOp.call1([condition, a, b], {});
}

interface CastAttrs { dtype: DType }
const castOp = defineOp<CastAttrs>({
  name: 'cast',
  forward([x], { dtype }) {
    const t = x as Tensor;
    const y = empty(t.shape, dtype, t.device);
    if (y.size === 0) return y;
    const to = wgslType(dtype);
    // float16 inputs are read as f32 (the kernel converts on load); a float16 output rounds on store
    const from = t.dtype === 'float16' ? 'f32' : wgslType(t.dtype);
    const expr = dtype === 'bool' ? `select(0u, 1u, v0 != ${from}(0))` : `${to}(v0)`;
    const k = elementwiseKernel('cast', expr, [{ dtype: t.dtype, shape: t.shape }], t.dtype, dtype, t.shape);
    t.device.run('cast', k.key, k.source, [t.buffer, y.buffer], grid(y.size, WG), { layout: k.layout, values: k.values });
    return y;
  },
  reference([x], { dtype }) {
    const fromFloat = typeof x !== 'number' && isFloat(x.dtype);
    const conv = (v: number) => dtype === 'bool' ? (v !== 0 ? 1 : 0) : dtype === 'float32' ? v : dtype === 'float16' ? roundFloat16(v)
      // float→int saturates (WGSL and PyTorch agree within range); int→int wraps like two's complement
      : fromFloat ? (dtype === 'int32' ? clampInt(v, -2147483648, 2147483647) : clampInt(v, 0, 4294967295))
      : dtype === 'int32' ? v | 0 : v >>> 0;
    return refMap([x], conv, dtype);
  },
  vjp: ({ dy, inputs: [x] }) => [!isFloat((x as Tensor).dtype) ? null : dy.dtype === (x as Tensor).dtype ? dy : cast(dy, (x as Tensor).dtype)],
});
const clampInt = (v: number, lo: number, hi: number) => (Number.isNaN(v) ? 0 : Math.min(Math.max(Math.trunc(v), lo), hi));

/**
 * Converts to another dtype (float→int truncates toward zero, as PyTorch). Same dtype returns a copy.
 * To float16 (needs a device with 'shader-f16'): rounds to nearest even; beyond ±65504 gives ±Infinity.
 */
export function cast(x: Tensor, dtype: DType | string): Tensor {
  return castOp.call1([x], { dtype: parseDType(dtype, 'cast') });
}
