/**
 * defineOp: the single place an op is declared. Each op pairs a GPU forward with an independent
 * float64 CPU reference and (when differentiable) a VJP written with public ops. The registry
 * lets the test suite iterate over every op.
 */
import type { Device } from '../../kernels/webgpu/device';
import { type DType, FLOAT16_OPS } from '../../base/dtype';
import { ArgumentError } from '../../base/shape';
import { Tensor } from '../tensor';
import { record, withoutTape, isRecording } from '../tape';
import { startScope, endScope } from '../scope';

export type Operand = Tensor | number;

import type { RefTensor, RefOperand } from '../../base/ref-tensor';
export type { RefTensor, RefOperand };

export interface VjpContext<A> {
  inputs: readonly Operand[];
  outputs: readonly Tensor[];
  attrs: A;
  /** Cotangent of the first output (zeros if it received none). */
  dy: Tensor;
  /** Cotangents of every output (with `sparseCotangents`, null for an output that received none). */
  dys: readonly Tensor[];
}

export interface OpSpec<A> {
  name: string;
  /** Runs on the GPU. May call other ops' `forward`s or public ops; nothing inside is taped. */
  forward(inputs: readonly Operand[], attrs: A): Tensor | Tensor[];
  /** Independent float64 implementation (never translated from the WGSL). */
  reference(inputs: readonly RefOperand[], attrs: A): RefTensor | RefTensor[];
  /** Gradients for each input (null where none), written with public ops. */
  vjp?: (ctx: VjpContext<A>) => readonly (Tensor | null | undefined)[];
  /** Required when `vjp` is absent: why the op has no gradient (e.g. integer output). */
  noGrad?: string;
  /**
   * The VJP takes null in `dys` for outputs that received no cotangent, instead of a zero tensor
   * (saves a fill and a read for side outputs that are rarely differentiated, like BN's batch stats).
   */
  sparseCotangents?: boolean;
}

export interface Op<A = any> extends OpSpec<A> {
  /** Built from other ops (differentiable through them); has no VJP of its own. */
  composite?: boolean;
  /** Validates, runs the forward and records a tape entry when traced. */
  call(inputs: readonly Operand[], attrs: A): Tensor | Tensor[];
  /** `call` for single-output ops. */
  call1(inputs: readonly Operand[], attrs: A): Tensor;
}

const registry = new Map<string, Op>();

export function defineOp<A = Record<string, never>>(spec: OpSpec<A>): Op<A> {
  if (registry.has(spec.name)) throw new Error(`op '${spec.name}' defined twice`);
  if (!spec.vjp && !spec.noGrad) throw new Error(`op '${spec.name}' needs a vjp or a noGrad reason`);
  const op: Op<A> = {
    ...spec,
    call(inputs, attrs) {
      checkOperands(spec.name, inputs);
      const out = withoutTape(() => spec.forward(inputs, attrs));
      const outs = Array.isArray(out) ? out : [out];
      if (spec.vjp) record(op, inputs, outs, attrs);
      return out;
    },
    call1(inputs, attrs) {
      return op.call(inputs, attrs) as Tensor;
    },
  };
  registry.set(spec.name, op as Op);
  return op;
}

export interface CompositeSpec<A> {
  name: string;
  /** Written with public ops: taped through them, so it needs no VJP. */
  impl(inputs: readonly Operand[], attrs: A): Tensor | Tensor[];
  reference(inputs: readonly RefOperand[], attrs: A): RefTensor | RefTensor[];
  /** Set when the result is not differentiable (e.g. boolean output). */
  noGrad?: string;
}

/** Registers an op made of other ops (softmax, var, …) so the registry tests cover it too. */
export function defineComposite<A = Record<string, never>>(spec: CompositeSpec<A>): Op<A> {
  if (registry.has(spec.name)) throw new Error(`op '${spec.name}' defined twice`);
  const op: Op<A> = {
    name: spec.name,
    composite: true,
    noGrad: spec.noGrad,
    forward: spec.impl,
    reference: spec.reference,
    call(inputs, attrs) {
      checkOperands(spec.name, inputs);
      return internal(() => spec.impl(inputs, attrs));
    },
    call1(inputs, attrs) {
      return op.call(inputs, attrs) as Tensor;
    },
  };
  registry.set(spec.name, op as Op);
  return op;
}

/**
 * Runs a function built from several ops and disposes the intermediates it created, keeping its
 * result. While a gradient trace records, intermediates belong to the tape (its backward needs
 * them) and are left to the trace's own scope.
 */
export function internal<T>(fn: () => T): T {
  if (isRecording()) return fn();
  startScope();
  let result: T | undefined;
  try { return (result = fn()); } finally { endScope(result); }
}

export const registeredOps = (): ReadonlyMap<string, Op> => registry;

/** Checks tensors are alive and on one device; returns that device (undefined if none). */
export function checkOperands(fn: string, inputs: readonly unknown[], names?: readonly string[]): Device | undefined {
  let device: Device | undefined;
  inputs.forEach((x, i) => {
    const arg = names?.[i] ?? `input ${i}`;
    if (typeof x === 'number') return;
    if (!(x instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${describe(x)}`, 'a Tensor or a number');
    if (x.isDisposed) throw new ArgumentError(fn, arg, `is a disposed tensor (shape [${x.shape.join(', ')}])`, 'a live tensor');
    if (x.dtype === 'float16' && !FLOAT16_OPS.has(fn)) {
      throw new ArgumentError(fn, arg, 'has dtype float16', `float32: ${fn} does not support float16 (only ${[...FLOAT16_OPS].join(', ')} do; cast(x, 'float32') first)`);
    }
    if (device && x.device !== device) throw new ArgumentError(fn, arg, `is on device ${x.device.label}`, `the same device as the other inputs (${device.label})`);
    device ??= x.device;
  });
  device?.check(fn);
  return device;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array (wrap it with tensor())';
  return typeof x === 'object' ? `an object (${(x as object).constructor?.name ?? 'Object'})` : `a ${typeof x}`;
}
