/** Elementwise ops: one table row each (WGSL, float64 reference, VJP, accepted dtypes) that is the public function. */
import { Tensor } from '../tensor';
import { ALL_DTYPES, isFloat, parseDType, roundFloat16, wgslType, type DType } from '../../base/dtype';
import { defineElementwise, type ElementwiseFn } from './elementwise-define';
import { defineOp, type Operand } from './define';
import { ArgumentError } from '../../base/shape';
import { refMap } from './ref/elementwise';
import { elementwiseKernel, WG } from '../../kernels/wgsl/elementwise';
import { grid } from '../../kernels/webgpu/device';

type Unary = ElementwiseFn<[Tensor]>;
type Binary = ElementwiseFn<[Operand, Operand]>;
/** The dtypes of ops that make no sense on booleans. */
const NUMERIC: readonly DType[] = ['float32', 'int32', 'uint32'];

const erf = (x: number) => {
  // float64 erf by series / continued fraction (independent of the WGSL approximation)
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = x,
      term = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
};

// ---- unary ---------------------------------------------------------------------------------

/** Elementwise negation, -x (torch.neg). */
export const neg: Unary = defineElementwise<[Tensor]>({
  name: 'neg',
  arity: 1,
  types: 'same',
  wgsl: '-v0',
  reference: (x) => -x,
  dtypes: ['float32', 'int32'],
  vjp: ({ dy }) => [neg(dy)],
});
/** Elementwise absolute value (torch.abs). */
export const abs: Unary = defineElementwise<[Tensor]>({
  name: 'abs',
  arity: 1,
  types: 'same',
  wgsl: 'abs(v0)',
  reference: Math.abs,
  dtypes: NUMERIC,
  vjp: ({ dy, inputs: [x] }) => [mul(dy, sign(x))],
});
/** Elementwise sign: -1, 0 or 1 (torch.sign). */
export const sign: Unary = defineElementwise<[Tensor]>({
  name: 'sign',
  arity: 1,
  types: 'same',
  wgsl: (t) => (t === 'u32' ? 'select(0u, 1u, v0 > 0u)' : 'sign(v0)'),
  reference: Math.sign,
  dtypes: NUMERIC,
  vjp: ({ dy }) => [mul(dy, 0)],
});
/** Elementwise e^x (torch.exp). */
export const exp: Unary = defineElementwise<[Tensor]>({
  name: 'exp',
  arity: 1,
  types: 'float',
  wgsl: 'exp(v0)',
  reference: Math.exp,
  vjp: ({ dy, outputs: [y] }) => [mul(dy, y)],
});
/** Elementwise natural logarithm (torch.log); -Infinity at 0, NaN below. */
export const log: Unary = defineElementwise<[Tensor]>({
  name: 'log',
  arity: 1,
  types: 'float',
  wgsl: 'select(select(log(v0), -inf_f32(), v0 == 0.0), nan_f32(), v0 < 0.0)',
  reference: (x) => (x < 0 ? NaN : Math.log(x)),
  vjp: ({ dy, inputs: [x] }) => [div(dy, x)],
});
/** Elementwise log(1 + x), accurate for small x (torch.log1p). */
export const log1p: Unary = defineElementwise<[Tensor]>({
  name: 'log1p',
  arity: 1,
  types: 'float',
  wgsl: 'log1p_f32(v0)',
  reference: Math.log1p,
  vjp: ({ dy, inputs: [x] }) => [div(dy, add(x, 1))],
});
/** Elementwise e^x - 1, accurate for small x (torch.expm1). */
export const expm1: Unary = defineElementwise<[Tensor]>({
  name: 'expm1',
  arity: 1,
  types: 'float',
  wgsl: 'expm1_f32(v0)',
  reference: Math.expm1,
  vjp: ({ dy, outputs: [y] }) => [mul(dy, add(y, 1))],
});
/** Elementwise square root (torch.sqrt). */
export const sqrt: Unary = defineElementwise<[Tensor]>({
  name: 'sqrt',
  arity: 1,
  types: 'float',
  wgsl: 'select(sqrt(v0), nan_f32(), v0 < 0.0)',
  reference: Math.sqrt,
  vjp: ({ dy, outputs: [y] }) => [div(mul(dy, 0.5), y)],
});
/** Elementwise reciprocal square root, 1 / sqrt(x) (torch.rsqrt). */
export const rsqrt: Unary = defineElementwise<[Tensor]>({
  name: 'rsqrt',
  arity: 1,
  types: 'float',
  wgsl: 'select(inverseSqrt(v0), nan_f32(), v0 < 0.0)',
  reference: (x) => 1 / Math.sqrt(x),
  vjp: ({ dy, outputs: [y] }) => [mul(dy, mul(pow(y, 3), -0.5))],
});
/** Elementwise x * x (torch.square). */
export const square: Unary = defineElementwise<[Tensor]>({
  name: 'square',
  arity: 1,
  types: 'same',
  wgsl: 'v0 * v0',
  reference: (x) => x * x,
  dtypes: NUMERIC,
  vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(x, 2))],
});
/** Elementwise 1 / x (torch.reciprocal). */
export const reciprocal: Unary = defineElementwise<[Tensor]>({
  name: 'reciprocal',
  arity: 1,
  types: 'float',
  wgsl: '1.0 / v0',
  reference: (x) => 1 / x,
  vjp: ({ dy, outputs: [y] }) => [neg(mul(dy, square(y)))],
});
/** Elementwise sine, in radians (torch.sin). */
export const sin: Unary = defineElementwise<[Tensor]>({
  name: 'sin',
  arity: 1,
  types: 'float',
  wgsl: 'sin(v0)',
  reference: Math.sin,
  vjp: ({ dy, inputs: [x] }) => [mul(dy, cos(x))],
});
/** Elementwise cosine, in radians (torch.cos). */
export const cos: Unary = defineElementwise<[Tensor]>({
  name: 'cos',
  arity: 1,
  types: 'float',
  wgsl: 'cos(v0)',
  reference: Math.cos,
  vjp: ({ dy, inputs: [x] }) => [neg(mul(dy, sin(x)))],
});
/** Elementwise hyperbolic tangent (torch.tanh). */
export const tanh: Unary = defineElementwise<[Tensor]>({
  name: 'tanh',
  arity: 1,
  types: 'float',
  wgsl: 'tanh(clamp(v0, -15.0, 15.0))',
  reference: Math.tanh,
  vjp: ({ dy, outputs: [y] }) => [mul(dy, sub(1, square(y)))],
});
/** Elementwise logistic function 1 / (1 + e^-x) (torch.sigmoid). */
export const sigmoid: Unary = defineElementwise<[Tensor]>({
  name: 'sigmoid',
  arity: 1,
  types: 'float',
  dtypes: ALL_DTYPES,
  wgsl: 'sigmoid_f32(v0)',
  reference: (x) => 1 / (1 + Math.exp(-x)),
  vjp: ({ dy, outputs: [y] }) => [mul(dy, mul(y, sub(1, y)))],
});
// NaN stays NaN (PyTorch); WGSL's max may return either operand for NaN, so test it by its bits
/**
 * Elementwise max(x, 0) (torch.relu); the gradient at 0 is 0, as in PyTorch.
 *
 * @example
 * ```ts
 * import { init, tensor, relu, sigmoid } from '@webgrad/core/node';
 * await init();
 * const x = tensor([-1, 0, 2]);
 * console.log(await relu(x).data(), await sigmoid(x).data()); // [0, 0, 2] and [0.269, 0.5, 0.881]
 * ```
 */
export const relu: Unary = defineElementwise<[Tensor]>({
  name: 'relu',
  arity: 1,
  types: 'same',
  wgsl: (t) => (t === 'f32' ? 'select(max(v0, 0.0), v0, is_nan(v0))' : `max(v0, ${t}(0))`),
  reference: (x) => (Number.isNaN(x) ? NaN : Math.max(x, 0)),
  dtypes: NUMERIC,
  // PyTorch's threshold_backward: zero where x ≤ 0, so a NaN input passes its gradient on
  vjp: ({ dy, inputs: [x] }) => [where(le(x, 0), 0, dy)],
});
const leakyReluFn: ElementwiseFn<[Tensor, number]> = defineElementwise<[Tensor, number]>({
  name: 'leakyRelu',
  arity: 2,
  types: 'float',
  wgsl: 'select(v0 * v1, v0, v0 > 0.0)',
  reference: (x, s) => (x > 0 ? x : x * s),
  vjp: ({ dy, inputs: [x, s] }) => [mul(dy, where(gt(x, 0), 1, s)), null],
});
const eluFn: ElementwiseFn<[Tensor, number]> = defineElementwise<[Tensor, number]>({
  name: 'elu',
  arity: 2,
  types: 'float',
  wgsl: 'select(v1 * expm1_f32(v0), v0, v0 > 0.0)',
  reference: (x, a) => (x > 0 ? x : a * Math.expm1(x)),
  vjp: ({ dy, inputs: [x, a], outputs: [y] }) => [mul(dy, where(gt(x, 0), 1, add(y, a))), null],
});
const geluErf: Unary = defineElementwise<[Tensor]>({
  name: 'gelu',
  arity: 1,
  types: 'float',
  wgsl: '0.5 * v0 * (1.0 + erf_f32(v0 * 0.70710678118654752))',
  reference: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  vjp: ({ dy, inputs: [x] }) => {
    const xt = x;
    const cdf = mul(add(erfFn(mul(xt, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(square(xt), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(dy, add(cdf, mul(xt, pdf)))];
  },
});
const geluTanh: Unary = defineElementwise<[Tensor]>({
  name: 'geluTanh',
  arity: 1,
  types: 'float',
  wgsl: '0.5 * v0 * (1.0 + tanh(clamp(0.7978845608028654 * (v0 + 0.044715 * v0 * v0 * v0), -15.0, 15.0)))',
  reference: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  vjp: ({ dy, inputs: [x] }) => {
    const xt = x;
    const inner = mul(add(xt, mul(pow(xt, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    const th = tanh(inner);
    const dInner = mul(add(mul(square(xt), 3 * 0.044715), 1), Math.sqrt(2 / Math.PI));
    return [mul(dy, add(mul(add(th, 1), 0.5), mul(mul(mul(xt, 0.5), sub(1, square(th))), dInner)))];
  },
});
/** Elementwise Gauss error function (torch.erf); exported as `erf`. */
export const erfFn: Unary = defineElementwise<[Tensor]>({
  name: 'erf',
  arity: 1,
  types: 'float',
  wgsl: 'erf_f32(v0)',
  reference: erf,
  vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI)))],
});
const softplusFn: ElementwiseFn<[Tensor, number, number]> = defineElementwise<[Tensor, number, number]>({
  name: 'softplus',
  arity: 3,
  types: 'float',
  wgsl: 'select(log1p_f32(exp(v0 * v1)) / v1, v0, v0 * v1 > v2)',
  reference: (x, b, th) => (x * b > th ? x : Math.log1p(Math.exp(x * b)) / b),
  vjp: ({ dy, inputs: [x, b, th] }) => {
    const xb = mul(x, b);
    return [mul(dy, where(gt(xb, th), 1, sigmoid(xb))), null, null];
  },
});
const clampFn: ElementwiseFn<[Tensor, number, number]> = defineElementwise<[Tensor, number, number]>({
  name: 'clamp',
  arity: 3,
  types: 'same', // NaN in x or a bound gives NaN (PyTorch); WGSL's min/max may drop it
  wgsl: (t) => (t === 'f32' ? 'select(min(max(v0, v1), v2), nan_f32(), is_nan(v0) || is_nan(v1) || is_nan(v2))' : 'min(max(v0, v1), v2)'),
  reference: (x, lo, hi) => (Number.isNaN(x) || Number.isNaN(lo) || Number.isNaN(hi) ? NaN : Math.min(Math.max(x, lo), hi)),
  dtypes: NUMERIC,
  vjp: ({ dy, inputs: [x, lo, hi] }) => [mul(dy, logicalAnd(ge(x, lo), le(x, hi))), null, null],
});

/** PyTorch's leaky_relu (negativeSlope defaults to 0.01). */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01) => leakyReluFn(x, negativeSlope);
/** Exponential linear unit: x for x > 0, alpha * (e^x - 1) otherwise (torch.nn.functional.elu). */
export const elu = (x: Tensor, alpha = 1) => eluFn(x, alpha);
/** GELU; `approximate: 'tanh'` selects the tanh formula, as in PyTorch. */
export const gelu = (x: Tensor, { approximate = 'none' }: { approximate?: 'none' | 'tanh' } = {}) => (approximate === 'tanh' ? geluTanh : geluErf)(x);
/** Smooth ReLU log(1 + e^(beta x)) / beta, linear above `threshold` (torch.nn.functional.softplus). */
export const softplus = (x: Tensor, { beta = 1, threshold = 20 }: { beta?: number; threshold?: number } = {}) => softplusFn(x, beta, threshold);
/** Clamps to [min, max]; either bound may be omitted. Tensor bounds use maximum/minimum. */
export function clamp(x: Tensor, min?: number | Tensor, max?: number | Tensor): Tensor {
  if ((typeof min !== 'number' && min !== undefined) || (typeof max !== 'number' && max !== undefined)) {
    const lo = min === undefined ? x : maximum(x, min);
    return max === undefined ? lo : minimum(lo, max);
  }
  const big = x.dtype === 'float32' ? Infinity : x.dtype === 'int32' ? 2147483647 : 4294967295;
  const small = x.dtype === 'float32' ? -Infinity : x.dtype === 'int32' ? -2147483648 : 0;
  return clampFn(x, min ?? small, max ?? big);
}

// ---- binary --------------------------------------------------------------------------------

/**
 * Elementwise a + b with broadcasting; either side may be a number (torch.add).
 *
 * @example
 * ```ts
 * import { init, tensor, add, mul } from '@webgrad/core/node';
 * await init();
 * const x = tensor([[1, 2], [3, 4]]);
 * const y = add(x, tensor([10, 20])); // broadcasts over rows: [[11, 22], [13, 24]]
 * console.log(await mul(y, 2).data()); // Float32Array [22, 44, 26, 48]
 * ```
 */
export const add: Binary = defineElementwise<[Operand, Operand]>({
  name: 'add',
  arity: 2,
  types: 'same',
  dtypes: ALL_DTYPES,
  wgsl: 'v0 + v1',
  reference: (a, b) => a + b,
  vjp: ({ dy }) => [dy, dy],
});
/** Elementwise a - b with broadcasting; either side may be a number (torch.sub). */
export const sub: Binary = defineElementwise<[Operand, Operand]>({
  name: 'sub',
  arity: 2,
  types: 'same',
  wgsl: 'v0 - v1',
  reference: (a, b) => a - b,
  vjp: ({ dy }) => [dy, neg(dy)],
});
/** Elementwise a * b with broadcasting; either side may be a number (torch.mul). */
export const mul: Binary = defineElementwise<[Operand, Operand]>({
  name: 'mul',
  arity: 2,
  types: 'same',
  wgsl: 'v0 * v1',
  reference: (a, b) => a * b,
  vjp: ({ dy, inputs: [a, b] }) => [mul(dy, b), mul(dy, a)],
});
/** Elementwise true division a / b with broadcasting (torch.div). */
export const div: Binary = defineElementwise<[Operand, Operand]>({
  name: 'div',
  arity: 2,
  types: 'float',
  wgsl: 'v0 / v1',
  reference: (a, b) => a / b,
  vjp: ({ dy, inputs: [a, b] }) => [div(dy, b), typeof b === 'number' ? null : neg(div(mul(dy, a), mul(b, b)))],
});
/** Elementwise a ** b with broadcasting (torch.pow). */
export const pow: Binary = defineElementwise<[Operand, Operand]>({
  name: 'pow',
  arity: 2,
  types: 'float',
  wgsl: 'pow_f32(v0, v1)',
  reference: (a, b) => a ** b,
  vjp: ({ dy, inputs: [a, b], outputs: [y] }) => [
    mul(dy, mul(b, pow(a, typeof b === 'number' ? b - 1 : sub(b, 1)))),
    typeof b === 'number' ? null : mul(dy, mul(y, log(a as Tensor))),
  ],
});
/** Elementwise larger of a and b with broadcasting; NaN wins, as in torch.maximum. */
export const maximum: Binary = defineElementwise<[Operand, Operand]>({
  name: 'maximum',
  arity: 2,
  types: 'same',
  wgsl: (t) => (t === 'f32' ? 'select(max(v0, v1), nan_f32(), is_nan(v0) || is_nan(v1))' : 'max(v0, v1)'),
  reference: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  vjp: ({ dy, inputs: [a, b] }) => tieSplit(dy, a, b, gt),
});
/** Elementwise smaller of a and b with broadcasting; NaN wins, as in torch.minimum. */
export const minimum: Binary = defineElementwise<[Operand, Operand]>({
  name: 'minimum',
  arity: 2,
  types: 'same',
  wgsl: (t) => (t === 'f32' ? 'select(min(v0, v1), nan_f32(), is_nan(v0) || is_nan(v1))' : 'min(v0, v1)'),
  reference: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  vjp: ({ dy, inputs: [a, b] }) => tieSplit(dy, a, b, lt),
});

/** PyTorch splits the gradient evenly between equal inputs of maximum/minimum. */
function tieSplit(dy: Tensor, a: Operand, b: Operand, wins: (a: Operand, b: Operand) => Tensor): Tensor[] {
  const share = add(mul(wins(a, b), 1), mul(eq(a, b), 0.5));
  return [mul(dy, share), mul(dy, sub(1, share))];
}

/** True division (integers give float), as torch.div. */

// ---- comparisons and logic (bool results, no gradient) -------------------------------------

const cmp = (name: string, op: string, f: (a: number, b: number) => boolean) =>
  defineElementwise<[Operand, Operand]>({
    name,
    arity: 2,
    types: 'compare',
    wgsl: `select(0u, 1u, v0 ${op} v1)`,
    reference: (a, b) => (f(a, b) ? 1 : 0),
    noGrad: 'boolean output',
  });
/** Elementwise a == b with broadcasting (torch.eq); returns a bool tensor. */
export const eq: Binary = cmp('eq', '==', (a, b) => a === b);
/** Elementwise a != b with broadcasting (torch.ne); returns a bool tensor. */
export const ne: Binary = cmp('ne', '!=', (a, b) => a !== b);
/** Elementwise a < b with broadcasting (torch.lt); returns a bool tensor. */
export const lt: Binary = cmp('lt', '<', (a, b) => a < b);
/** Elementwise a <= b with broadcasting (torch.le); returns a bool tensor. */
export const le: Binary = cmp('le', '<=', (a, b) => a <= b);
/** Elementwise a > b with broadcasting (torch.gt); returns a bool tensor. */
export const gt: Binary = cmp('gt', '>', (a, b) => a > b);
/** Elementwise a >= b with broadcasting (torch.ge); returns a bool tensor. */
export const ge: Binary = cmp('ge', '>=', (a, b) => a >= b);
const logic = (name: string, op: string, f: (a: boolean, b: boolean) => boolean) =>
  defineElementwise<[Operand, Operand]>({
    name,
    arity: 2,
    types: 'logical',
    wgsl: `select(0u, 1u, (v0 != 0u) ${op} (v1 != 0u))`,
    reference: (a, b) => (f(a !== 0, b !== 0) ? 1 : 0),
    noGrad: 'boolean output',
  });
/** Elementwise boolean AND of the truth values of a and b (torch.logical_and); returns a bool tensor. */
export const logicalAnd: Binary = logic('logicalAnd', '&&', (a, b) => a && b);
/** Elementwise boolean OR of the truth values of a and b (torch.logical_or); returns a bool tensor. */
export const logicalOr: Binary = logic('logicalOr', '||', (a, b) => a || b);
/** Elementwise boolean XOR of the truth values of a and b (torch.logical_xor); returns a bool tensor. */
export const logicalXor: Binary = logic('logicalXor', '!=', (a, b) => a !== b);
/** Elementwise boolean NOT: true where x is zero or false (torch.logical_not); returns a bool tensor. */
export const logicalNot: Unary = defineElementwise<[Tensor]>({
  name: 'logicalNot',
  arity: 1,
  types: 'logical',
  wgsl: 'select(0u, 1u, v0 == 0u)',
  reference: (a) => (a === 0 ? 1 : 0),
  noGrad: 'boolean output',
});
/** Elementwise NaN test (torch.isnan); returns a bool tensor. */
export const isnan: Unary = defineElementwise<[Tensor]>({
  name: 'isnan',
  arity: 1,
  types: 'compare',
  wgsl: (t) => (t === 'f32' ? 'select(0u, 1u, is_nan(v0))' : '0u'),
  reference: (a) => (Number.isNaN(a) ? 1 : 0),
  noGrad: 'boolean output',
});

// ---- where and cast -------------------------------------------------------------------------

const whereFn: ElementwiseFn<[Operand, Operand, Operand]> = defineElementwise<[Operand, Operand, Operand]>({
  name: 'where',
  inputs: ['condition', 'input', 'other'],
  arity: 3,
  types: 'same',
  // v0 is the condition converted to the compute type; nonzero selects v1
  wgsl: (t) => `select(v2, v1, v0 != ${t}(0))`,
  reference: (c, a, b) => (c !== 0 ? a : b),
  vjp: ({ dy, inputs: [c, a, b] }) => [null, typeof a === 'number' ? null : where(c, dy, 0), typeof b === 'number' ? null : where(c, 0, dy)],
});

/** Elementwise `condition ? a : b` with broadcasting; the result type promotes a and b (not the condition). */
export function where(condition: Operand, a: Operand, b: Operand): Tensor {
  if (condition instanceof Tensor && condition.dtype !== 'bool')
    throw new ArgumentError('where', 'condition', `has dtype ${condition.dtype}`, 'a bool tensor (as PyTorch; compare first, e.g. ne(x, 0))');
  return whereFn(condition, a, b);
}

interface CastAttrs {
  dtype: DType;
}
const castOp = defineOp({
  name: 'cast',
  inputs: { x: 'tensor' },
  dtypes: ALL_DTYPES,
  shape: ({ x }, { dtype }: CastAttrs) => ({ shape: x.shape, dtype }),
  forward({ x }, { dtype }, [y]) {
    const to = wgslType(dtype);
    // float16 inputs are read as f32 (the kernel converts on load); a float16 output rounds on store
    const from = x.dtype === 'float16' ? 'f32' : wgslType(x.dtype);
    const expr = dtype === 'bool' ? `select(0u, 1u, v0 != ${from}(0))` : `${to}(v0)`;
    const k = elementwiseKernel('cast', expr, [{ dtype: x.dtype, shape: x.shape }], x.dtype, dtype, x.shape);
    x.device.run('cast', k.key, k.source, [x.binding, y.binding], grid(y.size, WG), { layout: k.layout, values: k.values });
  },
  reference({ x }, { dtype }) {
    const fromFloat = isFloat(x.dtype);
    const conv = (v: number) =>
      dtype === 'bool'
        ? v !== 0
          ? 1
          : 0
        : dtype === 'float32'
          ? v
          : dtype === 'float16'
            ? roundFloat16(v)
            : // float→int saturates (WGSL and PyTorch agree within range); int→int wraps like two's complement
              fromFloat
              ? dtype === 'int32'
                ? clampInt(v, -2147483648, 2147483647)
                : clampInt(v, 0, 4294967295)
              : dtype === 'int32'
                ? v | 0
                : v >>> 0;
    return refMap([x], conv, dtype);
  },
  vjp: ({ dy, inputs: { x } }) => [!isFloat(x.dtype) ? null : dy.dtype === x.dtype ? dy : cast(dy, x.dtype)],
});
const clampInt = (v: number, lo: number, hi: number) => (Number.isNaN(v) ? 0 : Math.min(Math.max(Math.trunc(v), lo), hi));

/**
 * Converts to another dtype (float→int truncates toward zero, as PyTorch). Same dtype returns a copy.
 * To float16 (needs a device with 'shader-f16'): rounds to nearest even; beyond ±65504 gives ±Infinity.
 */
export function cast(x: Tensor, dtype: DType | string): Tensor {
  return castOp.call1([x], { dtype: parseDType(dtype, 'cast') });
}
