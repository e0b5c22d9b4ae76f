/**
 * Declaring an elementwise op is one table row: WGSL expression, float64 reference, VJP, type rule,
 * accepted dtypes. The row returns the public function. Plain numbers are allowed as operands
 * (attributes such as a slope are passed the same way) and travel to the GPU in the uniform block,
 * never as uploaded tensors.
 */
import { elementwiseKernel, WG } from '../../kernels/wgsl/elementwise';
import { grid } from '../../kernels/webgpu/device';
import { refMap } from './ref/elementwise';
import { type DType, promoteTypes, scalarResultType } from '../../base/dtype';
import { broadcastShapes, ArgumentError } from '../../base/shape';
import { Tensor } from '../tensor';
import { defineOp, type InputKind, type Op, type Operand, type TensorMeta } from './define';

/**
 * How dtypes flow: 'float' computes in f32 and returns float32 (exp of an int tensor is float, as in
 * PyTorch); 'same' keeps the promoted dtype; 'compare' computes in the promoted dtype and returns
 * bool; 'logical' reads operands as booleans and returns bool.
 */
export type TypeRule = 'float' | 'same' | 'compare' | 'logical';

/** A VJP context whose inputs keep the public function's positional types. */
export interface ElementwiseVjpContext<Args extends readonly Operand[]> {
  inputs: Args;
  outputs: readonly Tensor[];
  dy: Tensor;
}

export interface ElementwiseSpec<Args extends readonly Operand[]> {
  name: string;
  /** Operand names in the order the public function takes them (default: input, other, third). */
  inputs?: readonly string[];
  /** Number of operands (tensors or numbers). */
  arity: Args['length'];
  types: TypeRule;
  /** WGSL over v0..v{arity-1} of the compute type, giving the output's storage type. May use the helpers in WGSL_HELPERS. */
  wgsl: string | ((computeType: 'f32' | 'i32' | 'u32') => string);
  reference: (...xs: number[]) => number;
  vjp?: (ctx: ElementwiseVjpContext<Args>) => readonly (Tensor | null | undefined)[];
  noGrad?: string;
  /** Dtypes the tensor operands may have (default: every 4-byte dtype). */
  dtypes?: readonly DType[];
}

export function resultTypes(rule: TypeRule, operands: readonly (TensorMeta | number)[]): { compute: DType; out: DType } {
  const tensors = operands.filter((x): x is TensorMeta => typeof x !== 'number');
  let compute: DType = tensors.map((t) => t.dtype).reduce(promoteTypes);
  for (const x of operands) if (typeof x === 'number') compute = promoteTypes(compute, scalarResultType(compute, x));
  switch (rule) {
    case 'float': return { compute: 'float32', out: 'float32' };
    case 'same': return { compute: compute === 'bool' ? 'int32' : compute, out: compute === 'bool' ? 'int32' : compute };
    case 'compare': return { compute: compute === 'bool' ? 'uint32' : compute, out: 'bool' };
    case 'logical': return { compute: 'uint32', out: 'bool' };
  }
}

/** The public function of an elementwise op; `op` is its registry entry. */
export type ElementwiseFn<Args extends readonly Operand[]> = ((...xs: Args) => Tensor) & { readonly op: Op<Record<string, never>> };

const DEFAULT_NAMES = ['input', 'other', 'third'];

export function defineElementwise<Args extends readonly Operand[]>(spec: ElementwiseSpec<Args>): ElementwiseFn<Args> {
  const names = spec.inputs ?? DEFAULT_NAMES.slice(0, spec.arity);
  const decl: Record<string, InputKind> = Object.fromEntries(names.map((n) => [n, 'operand']));
  const list = (ins: Readonly<Record<string, unknown>>) => names.map((n) => ins[n]);
  const op = defineOp<Record<string, InputKind>>({
    name: spec.name,
    inputs: decl,
    dtypes: spec.dtypes,
    shape(ins) {
      const xs = list(ins) as (TensorMeta | number)[];
      if (xs.every((x) => typeof x === 'number')) throw new ArgumentError(spec.name, 'input', 'has no tensor operand', 'at least one Tensor');
      let shape: readonly number[] = [];
      xs.forEach((x, i) => { if (typeof x !== 'number') shape = broadcastShapes(spec.name, shape, x.shape, ['input', i === 0 ? 'input' : `operand ${i}`]); });
      return { shape, dtype: resultTypes(spec.types, xs).out };
    },
    forward(ins, _, [y]) {
      const xs = list(ins) as Operand[];
      const { compute, out } = resultTypes(spec.types, xs);
      const ct = compute === 'float32' || compute === 'float16' ? 'f32' : compute === 'int32' ? 'i32' : 'u32';
      const expr = typeof spec.wgsl === 'string' ? spec.wgsl : spec.wgsl(ct);
      const tensors = xs.filter((x): x is Tensor => x instanceof Tensor);
      const k = elementwiseKernel(spec.name, expr,
        xs.map((x) => (x instanceof Tensor ? { dtype: x.dtype, shape: x.shape } : { dtype: compute, shape: null, value: x })),
        compute, out, y.shape);
      y.device.run(spec.name, k.key, () => withHelpers(k.source()), [...tensors.map((t) => t.buffer), y.buffer], grid(y.size, WG),
        { layout: k.layout, values: k.values });
    },
    reference(ins) {
      const xs = list(ins) as (TensorMeta | number)[];
      return refMap(xs as never, spec.reference, resultTypes(spec.types, xs).out);
    },
    vjp: spec.vjp && ((ctx) => spec.vjp!({ inputs: list(ctx.inputs) as unknown as Args, outputs: ctx.outputs, dy: ctx.dy })),
    noGrad: spec.noGrad,
  });
  // extra arguments are ignored (as `xs.map(exp)` passes index and array)
  const fn = (...xs: Args) => op.call1(xs.slice(0, spec.arity), {});
  return Object.assign(fn, { op });
}

/** Prepends the helpers, after an `enable` directive if the kernel has one (WGSL wants directives first). */
const withHelpers = (src: string) => (src.startsWith('enable f16;\n') ? `enable f16;\n${WGSL_HELPERS}${src.slice(12)}` : WGSL_HELPERS + src);

/** WGSL helpers available to elementwise expressions. NaN/Inf are built at run time with bitcast (WGSL rejects them as constants). */
export const WGSL_HELPERS = /* wgsl */ `
fn nan_f32() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }
fn inf_f32() -> f32 { var bits = 0x7f800000u; return bitcast<f32>(bits); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn log1p_f32(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (abs(x) > 0.5) { return log(u); }
  return log(u) * x / (u - 1.0);
}
fn expm1_f32(x: f32) -> f32 {
  if (abs(x) < 1e-5) { return x + 0.5 * x * x; }
  if (abs(x) > 0.5) { return exp(x) - 1.0; }
  let u = exp(x);
  return (u - 1.0) * x / log(u);
}
fn sigmoid_f32(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn erf_f32(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}
fn pow_f32(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a == 0.0) { return select(0.0, inf_f32(), b < 0.0); }
  let r = exp2(b * log2(abs(a)));
  if (a > 0.0) { return r; }
  if (fract(b) != 0.0) { return nan_f32(); }
  return select(r, -r, fract(b * 0.5) != 0.0);
}
`;
