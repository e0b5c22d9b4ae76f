/**
 * Declaring an elementwise op is one call: WGSL expression, float64 reference, VJP, type rule.
 * Plain numbers are allowed as operands (attributes such as a slope are passed the same way)
 * and travel to the GPU in the uniform block, never as uploaded tensors.
 */
import { elementwiseKernel, WG } from '../../kernels/wgsl/elementwise';
import { grid } from '../../kernels/webgpu/device';
import { refMap } from '../../kernels/reference/elementwise';
import { type DType, promoteTypes, scalarResultType } from '../../base/dtype';
import { broadcastShapes, ArgumentError } from '../../base/shape';
import { Tensor, empty } from '../tensor';
import { defineOp, checkOperands, type Op, type Operand, type VjpContext } from './define';

/**
 * How dtypes flow: 'float' computes in f32 and returns float32 (exp of an int tensor is float, as in
 * PyTorch); 'same' keeps the promoted dtype; 'compare' computes in the promoted dtype and returns
 * bool; 'logical' reads operands as booleans and returns bool.
 */
export type TypeRule = 'float' | 'same' | 'compare' | 'logical';

export interface ElementwiseSpec {
  name: string;
  /** Number of operands (tensors or numbers), in the order the public function passes them. */
  arity: number;
  types: TypeRule;
  /** WGSL over v0..v{arity-1} of the compute type, giving the output's storage type. May call the helpers in src/kernels/wgsl/helpers.ts. */
  wgsl: string | ((computeType: 'f32' | 'i32' | 'u32') => string);
  reference: (...xs: number[]) => number;
  vjp?: (ctx: VjpContext<Record<string, never>>) => readonly (Tensor | null | undefined)[];
  noGrad?: string;
  /** Dtypes the op refuses (e.g. bool for neg). */
  rejects?: readonly DType[];
}

export function resultTypes(rule: TypeRule, operands: readonly Operand[]): { compute: DType; out: DType } {
  const tensors = operands.filter((x): x is Tensor => x instanceof Tensor);
  let compute: DType = tensors.map((t) => t.dtype).reduce(promoteTypes);
  for (const x of operands) if (typeof x === 'number') compute = promoteTypes(compute, scalarResultType(compute, x));
  switch (rule) {
    case 'float': return { compute: 'float32', out: 'float32' };
    case 'same': return { compute: compute === 'bool' ? 'int32' : compute, out: compute === 'bool' ? 'int32' : compute };
    case 'compare': return { compute: compute === 'bool' ? 'uint32' : compute, out: 'bool' };
    case 'logical': return { compute: 'uint32', out: 'bool' };
  }
}

export function defineElementwise(spec: ElementwiseSpec): Op<Record<string, never>> {
  return defineOp<Record<string, never>>({
    name: spec.name,
    forward(inputs) {
      if (inputs.length !== spec.arity) throw new Error(`${spec.name}: expected ${spec.arity} operands, got ${inputs.length}`);
      const device = checkOperands(spec.name, inputs);
      if (!device) throw new ArgumentError(spec.name, 'input', 'has no tensor operand', 'at least one Tensor');
      const tensors = inputs.filter((x): x is Tensor => x instanceof Tensor);
      for (const t of tensors) {
        if (spec.rejects?.includes(t.dtype)) throw new ArgumentError(spec.name, 'input', `has dtype ${t.dtype}`, `a dtype other than ${spec.rejects.join(', ')}`);
      }
      let shape: number[] = [];
      inputs.forEach((x, i) => { if (x instanceof Tensor) shape = broadcastShapes(spec.name, shape, x.shape, ['input', i === 0 ? 'input' : `operand ${i}`]); });
      const { compute, out } = resultTypes(spec.types, inputs);
      const y = empty(shape, out, device);
      if (y.size === 0) return y;
      const ct = compute === 'float32' || compute === 'float16' ? 'f32' : compute === 'int32' ? 'i32' : 'u32';
      const expr = typeof spec.wgsl === 'string' ? spec.wgsl : spec.wgsl(ct);
      const k = elementwiseKernel(spec.name, expr,
        inputs.map((x) => (x instanceof Tensor ? { dtype: x.dtype, shape: x.shape } : { dtype: compute, shape: null, value: x })),
        compute, out, shape);
      device.run(spec.name, k.key, k.source, [...tensors.map((t) => t.buffer), y.buffer], grid(y.size, WG),
        { layout: k.layout, values: k.values });
      return y;
    },
    reference(inputs) {
      const tensors = inputs.filter((x) => typeof x !== 'number') as { dtype: DType }[];
      let compute: DType = tensors.map((t) => t.dtype).reduce(promoteTypes);
      for (const x of inputs) if (typeof x === 'number') compute = promoteTypes(compute, scalarResultType(compute, x));
      const out: DType = spec.types === 'float' ? 'float32' : spec.types === 'same' ? (compute === 'bool' ? 'int32' : compute) : 'bool';
      return refMap(inputs, spec.reference, out);
    },
    vjp: spec.vjp,
    noGrad: spec.noGrad,
  });
}

