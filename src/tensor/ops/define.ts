/**
 * defineOp: the single place an op is declared, and the contract every op (built-in or custom)
 * follows. An op names its inputs (typed, optional ones marked), states a shape/dtype rule and the
 * dtypes it accepts, and pairs a GPU forward with an independent float64 reference and, when
 * differentiable, a VJP written with public ops. The engine checks operands, allocates the outputs
 * from the rule, skips the forward when every output is empty and records the tape entry. The
 * registry lets the test suite iterate over every op (and check each rule against its reference).
 */
import type { Device } from '../../kernels/webgpu/device';
import { DTYPES, type DType } from '../../base/dtype';
import { ArgumentError, fmtShape, sameShape } from '../../base/shape';
import { Tensor, empty, view } from '../tensor';
import { record, withoutTape, isRecording } from '../tape';
import { startScope, endScope } from '../scope';
import { exceedsBinding, runSplit, type SplitPlan } from './split';

export type Operand = Tensor | number;

import type { RefTensor, RefOperand } from '../../base/ref-tensor';
export type { RefTensor, RefOperand };

/**
 * How an input is passed: 'tensor' (required), 'operand' (a tensor or a plain number, as elementwise
 * ops take), 'tensor?' / 'operand?' (optional: may be left out at the end of the positional list) and
 * 'tensor[]' (the rest of the inputs as a list; last only).
 */
export type InputKind = 'tensor' | 'tensor?' | 'operand' | 'operand?' | 'tensor[]';
/** The inputs of a custom op: input names mapped to their kinds, in positional order. */
export type InputDecl = Readonly<Record<string, InputKind>>;

/** What a shape rule sees of a tensor: Tensor and RefTensor both have it. */
export interface TensorMeta {
  /** Size of each dimension. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
}
/** One output as a shape rule states it. */
export interface OutputMeta {
  /** Size of each dimension of the output. */
  shape: readonly number[];
  /** Element type of the output. */
  dtype: DType;
}

type Slot<K extends InputKind, T> = K extends 'tensor'
  ? T
  : K extends 'tensor?'
    ? T | undefined
    : K extends 'tensor[]'
      ? readonly T[]
      : K extends 'operand'
        ? T | number
        : T | number | undefined;
/** The named inputs of an op whose tensors are `T` (Tensor in forward/VJP, RefTensor in the reference, TensorMeta in the rule). */
export type Inputs<I extends InputDecl, T> = { readonly [K in keyof I]: Slot<I[K], T> };

/** What an op's vector-Jacobian product receives: the inputs, outputs, attributes and output cotangents. */
export interface VjpContext<I extends InputDecl, A> {
  /** The op's inputs by name. */
  inputs: Inputs<I, Tensor>;
  /** The op's outputs. */
  outputs: readonly Tensor[];
  /** The op's attributes, as given to the forward. */
  attrs: A;
  /** Cotangent of the first output (zeros if it received none). */
  dy: Tensor;
  /** Cotangents of every output (with `sparseCotangents`, null for an output that received none). */
  dys: readonly Tensor[];
}

type Grads = readonly (Tensor | null | undefined)[];

interface CommonSpec<I extends InputDecl, A> {
  /** The op's name, used in errors and pipeline keys. */
  name: string;
  /** Input names in positional order, with their kinds. */
  inputs: I;
  /** Output shapes and dtypes from the inputs' shapes and dtypes (an array for several outputs). May throw ArgumentError. */
  shape(inputs: Inputs<I, TensorMeta>, attrs: A): OutputMeta | OutputMeta[];
  /** Dtypes the tensor inputs may have (default DTYPES: every 4-byte dtype; list 'float16' to accept it). */
  dtypes?: readonly DType[];
  /** Independent float64 implementation (never translated from the WGSL). */
  reference(inputs: Inputs<I, RefTensor>, attrs: A): RefTensor | RefTensor[];
  /** Required when the op has no gradient: why (e.g. integer output). */
  noGrad?: string;
}

/** The declaration of an op for {@link customOp}: name, inputs, shape rule, forward, float64 reference and VJP. */
export interface OpSpec<I extends InputDecl, A> extends CommonSpec<I, A> {
  /**
   * Runs on the GPU, writing into `outputs` (allocated by the engine from `shape`; never called
   * when every output is empty). May call other ops' forwards or public ops; nothing inside is taped.
   */
  forward?(inputs: Inputs<I, Tensor>, attrs: A, outputs: Tensor[]): void;
  /**
   * Instead of `forward`: builds the outputs itself (views of an input, or results of other ops);
   * the engine checks them against `shape`.
   */
  produce?(inputs: Inputs<I, Tensor>, attrs: A): Tensor | Tensor[];
  /** Where outputs go when no input is a tensor (creation and random ops). */
  device?(attrs: A): Device;
  /** Gradients for each input in declared order (null where none), written with public ops. */
  vjp?(ctx: VjpContext<I, A>): Grads;
  /**
   * The VJP takes null in `dys` for outputs that received no cotangent, instead of a zero tensor
   * (saves a fill and a read for side outputs that are rarely differentiated, like BN's batch stats).
   */
  sparseCotangents?: boolean;
  /**
   * How the forward splits its work when an input or output takes more bytes than one storage binding may
   * (Device.maxBindingSize): a {@link SplitPlan} ('batch', 'batch-sum' or 'flat' and the inputs cut into
   * rows), or null when these inputs cannot split (or the forward splits itself). Only consulted past the cap: ordinary sizes run the
   * forward once, as without it. Without `split`, such an op fails with an error naming it.
   */
  split?(inputs: Inputs<I, Tensor>, attrs: A): SplitPlan<A> | null;
}

export interface CompositeSpec<I extends InputDecl, A> extends CommonSpec<I, A> {
  /** Written with public ops: taped through them, so it needs no VJP. */
  impl(inputs: Inputs<I, Tensor>, attrs: A): Tensor | Tensor[];
}

/** The engine's view of an op: positional inputs, as the tape and the registry tests hold them. */
export interface Op<A = any> {
  readonly name: string;
  readonly inputNames: readonly string[];
  readonly dtypes: readonly DType[];
  /** Built from other ops (differentiable through them); has no VJP of its own. */
  readonly composite?: boolean;
  readonly noGrad?: string;
  readonly sparseCotangents?: boolean;
  /** Splits its work past the device's binding cap (declares `split`). */
  readonly splits?: boolean;
  /** The shape/dtype rule, always as a list. */
  outputs(inputs: readonly (TensorMeta | number | undefined)[], attrs: A): OutputMeta[];
  reference(inputs: readonly RefOperand[], attrs: A): RefTensor | RefTensor[];
  vjp?(ctx: { inputs: readonly Operand[]; outputs: readonly Tensor[]; attrs: A; dy: Tensor; dys: readonly Tensor[] }): Grads;
  /** Validates, runs the forward and records a tape entry when traced. */
  call(inputs: readonly Operand[], attrs: A): Tensor | Tensor[];
  /** `call` for single-output ops. */
  call1(inputs: readonly Operand[], attrs: A): Tensor;
  /** `call` for multi-output ops: always the list. */
  callN(inputs: readonly Operand[], attrs: A): Tensor[];
}

const registry = new Map<string, Op>();

/** Positional → named, following the declaration order ('tensor[]' takes the rest). */
function namer(name: string, decl: InputDecl) {
  const names = Object.keys(decl),
    kinds = names.map((n) => decl[n]);
  const rest = kinds.indexOf('tensor[]');
  if (rest >= 0 && rest !== kinds.length - 1) throw new Error(`op '${name}': a 'tensor[]' input must come last`);
  const required = kinds.filter((k) => k === 'tensor' || k === 'operand').length;
  return <T>(xs: readonly T[]): any => {
    if (xs.length < required || (rest < 0 && xs.length > names.length)) {
      throw new Error(
        `${name}: expected ${required === names.length ? required : `${required} to ${names.length}`} inputs (${names.join(', ')}), got ${xs.length}`,
      );
    }
    const o: Record<string, unknown> = {};
    names.forEach((n, i) => {
      o[n] = i === rest ? xs.slice(i) : xs[i];
    });
    return o;
  };
}

const asList = <T>(r: T | T[]): T[] => (Array.isArray(r) ? r : [r]);

function base<I extends InputDecl, A>(spec: CommonSpec<I, A>) {
  if (registry.has(spec.name)) throw new Error(`op '${spec.name}' defined twice`);
  const named = namer(spec.name, spec.inputs);
  const dtypes = spec.dtypes ?? DTYPES;
  // which positions may hold undefined (an optional input passed explicitly as absent)
  const optional = Object.values(spec.inputs).map((k) => k.endsWith('?'));
  return {
    named,
    dtypes,
    optional,
    op: {
      name: spec.name,
      inputNames: Object.keys(spec.inputs),
      dtypes,
      noGrad: spec.noGrad,
      outputs: (inputs: readonly (TensorMeta | number | undefined)[], attrs: A) => asList(spec.shape(named(inputs), attrs)),
      reference: (inputs: readonly RefOperand[], attrs: A) => spec.reference(named(inputs), attrs),
    },
  };
}

/** Declares a primitive op; `register: false` keeps a custom op out of the built-in registry. */
export function defineOp<I extends InputDecl, A = Record<string, never>>(spec: OpSpec<I, A>, { register = true } = {}): Op<A> {
  if (!spec.vjp && !spec.noGrad) throw new Error(`op '${spec.name}' needs a vjp or a noGrad reason`);
  if (!spec.forward === !spec.produce) throw new Error(`op '${spec.name}' needs exactly one of forward and produce`);
  const { named, dtypes, optional, op: common } = base(spec);
  const op: Op<A> = {
    ...common,
    sparseCotangents: spec.sparseCotangents,
    splits: spec.split !== undefined,
    vjp: spec.vjp && ((ctx) => spec.vjp!({ ...ctx, inputs: named(ctx.inputs) })),
    call(inputs, attrs) {
      const device = checkOperands(spec.name, inputs, undefined, dtypes, optional);
      const args = named(inputs);
      const rule = spec.shape(args, attrs);
      const metas = asList(rule);
      let outs: Tensor[];
      if (spec.produce) {
        outs = asList(withoutTape(() => spec.produce!(args, attrs)));
        checkRule(spec.name, outs, metas);
      } else {
        const dev = device ?? spec.device?.(attrs);
        if (!dev) throw new Error(`${spec.name}: no tensor input and no device attribute to allocate outputs on`);
        outs = metas.map((m) => empty(m.shape, m.dtype, dev));
        // the empty-output early return, once for every op
        if (outs.some((o) => o.size > 0)) {
          try {
            const plan = spec.split && exceedsBinding(dev, [...inputs, ...outs]) ? spec.split(args, attrs) : null;
            if (plan) withoutTape(() => runSplit(spec.name, plan, args, attrs, outs, (a, at, o) => spec.forward!(a as typeof args, at, o)));
            else withoutTape(() => spec.forward!(args, attrs, outs));
          } catch (e) {
            outs.forEach((o) => o.dispose());
            throw e;
          }
        }
      }
      if (spec.vjp) record(op, inputs, outs, attrs);
      return Array.isArray(rule) ? outs : outs[0];
    },
    call1: (inputs, attrs) => asList(op.call(inputs, attrs))[0],
    callN: (inputs, attrs) => asList(op.call(inputs, attrs)),
  };
  if (register) registry.set(spec.name, op as Op);
  return op;
}

/** Registers an op made of other ops (softmax, var, …) so the registry tests cover it too. */
export function defineComposite<I extends InputDecl, A = Record<string, never>>(spec: CompositeSpec<I, A>): Op<A> {
  const { named, dtypes, optional, op: common } = base(spec);
  const op: Op<A> = {
    ...common,
    composite: true,
    call(inputs, attrs) {
      checkOperands(spec.name, inputs, undefined, dtypes, optional);
      return internal(() => spec.impl(named(inputs), attrs));
    },
    call1: (inputs, attrs) => asList(op.call(inputs, attrs))[0],
    callN: (inputs, attrs) => asList(op.call(inputs, attrs)),
  };
  registry.set(spec.name, op as Op);
  return op;
}

/** A forward that built its own outputs must still agree with the op's rule (a bug in the op otherwise). */
function checkRule(name: string, outs: readonly Tensor[], metas: readonly OutputMeta[]): void {
  const bad = outs.length !== metas.length || outs.some((o, i) => !sameShape(o.shape, metas[i].shape) || o.dtype !== metas[i].dtype);
  if (bad) {
    const fmt = (xs: readonly TensorMeta[]) => xs.map((x) => `${fmtShape(x.shape)} ${x.dtype}`).join(', ');
    outs.forEach((o) => o.dispose());
    throw new Error(`${name}: the forward gave ${fmt(outs)} but the shape rule says ${fmt(metas)}`);
  }
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
  try {
    return (result = fn());
  } finally {
    endScope(result);
  }
}

/**
 * The tape primitives an op may need, offered by the contract so ops never import the engine:
 * `untraced` runs ops without recording them (side updates such as BN's running statistics),
 * `detached` gives a view cut from every trace (a constant for the gradient), `isRecording` says
 * whether a trace is recording.
 */
export const untraced = withoutTape;
export { isRecording };
export function detached(x: Tensor): Tensor {
  const y = view(x, x.shape);
  y.traces = [];
  return y;
}

export const registeredOps = (): ReadonlyMap<string, Op> => registry;

/** The 4-byte dtypes in the order error messages list refused ones. */
const REFUSAL_ORDER: readonly DType[] = ['bool', 'uint32', 'int32', 'float32'];

/**
 * Checks tensors are alive, of an accepted dtype (`dtypes`, default every 4-byte dtype) and on one
 * device; returns that device (undefined if none).
 */
export function checkOperands(
  fn: string,
  inputs: readonly unknown[],
  names?: readonly string[],
  dtypes: readonly DType[] = DTYPES,
  optional?: readonly boolean[],
): Device | undefined {
  let device: Device | undefined;
  inputs.forEach((x, i) => {
    const arg = names?.[i] ?? `input ${i}`;
    if (typeof x === 'number' || (x === undefined && optional?.[i])) return;
    if (!(x instanceof Tensor)) throw new ArgumentError(fn, arg, `is ${describe(x)}`, 'a Tensor or a number');
    if (x.isDisposed) throw new ArgumentError(fn, arg, `is a disposed tensor (shape [${x.shape.join(', ')}])`, 'a live tensor');
    if (!dtypes.includes(x.dtype)) {
      if (x.dtype === 'float16') {
        const f16 = [...registry.values()].filter((o) => o.dtypes.includes('float16')).map((o) => o.name);
        throw new ArgumentError(fn, arg, 'has dtype float16', `float32: ${fn} does not support float16 (only ${f16.join(', ')} do; cast(x, 'float32') first)`);
      }
      throw new ArgumentError(
        fn,
        names?.[i] ?? 'input',
        `has dtype ${x.dtype}`,
        `a dtype other than ${REFUSAL_ORDER.filter((d) => !dtypes.includes(d)).join(', ')}`,
      );
    }
    if (device && x.device !== device)
      throw new ArgumentError(fn, arg, `is on device ${x.device.label}`, `the same device as the other inputs (${device.label})`);
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
