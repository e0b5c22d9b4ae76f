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
import { elementwiseSplit } from './split';

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
  /** WGSL over v0..v{arity-1} of the compute type, giving the output's storage type. May call the helpers in src/kernels/wgsl/helpers.ts. */
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
    case 'float':
      return { compute: 'float32', out: 'float32' };
    case 'same':
      return { compute: compute === 'bool' ? 'int32' : compute, out: compute === 'bool' ? 'int32' : compute };
    case 'compare':
      return { compute: compute === 'bool' ? 'uint32' : compute, out: 'bool' };
    case 'logical':
      return { compute: 'uint32', out: 'bool' };
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
      xs.forEach((x, i) => {
        if (typeof x !== 'number') shape = broadcastShapes(spec.name, shape, x.shape, ['input', i === 0 ? 'input' : `operand ${i}`]);
      });
      return { shape, dtype: resultTypes(spec.types, xs).out };
    },
    forward(ins, _, [y]) {
      const xs = list(ins) as Operand[];
      const { compute, out } = resultTypes(spec.types, xs);
      const ct = compute === 'float32' || compute === 'float16' ? 'f32' : compute === 'int32' ? 'i32' : 'u32';
      const expr = typeof spec.wgsl === 'string' ? spec.wgsl : spec.wgsl(ct);
      const tensors = xs.filter((x): x is Tensor => x instanceof Tensor);
      const k = elementwiseKernel(
        spec.name,
        expr,
        xs.map((x) => (x instanceof Tensor ? { dtype: x.dtype, shape: x.shape } : { dtype: compute, shape: null, value: x })),
        compute,
        out,
        y.shape,
      );
      y.device.run(spec.name, k.key, k.source, [...tensors.map((t) => t.binding), y.binding], grid(y.size, WG), { layout: k.layout, values: k.values });
    },
    split(ins) {
      const xs = list(ins) as Operand[];
      let shape: readonly number[] = [];
      for (const x of xs) if (typeof x !== 'number') shape = broadcastShapes(spec.name, shape, x.shape, ['input', 'operand']);
      return elementwiseSplit(names, ins, shape);
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
