/**
 * Public ways to extend the library on the same contract as the built-in ops (src/tensor/ops/define.ts):
 * `customOp` declares an op (named inputs, shape rule, forward, VJP, optional float64 reference) and
 * returns its public function; `customVjp` gives an existing function a gradient of your own
 * (JAX's custom_vjp, TF.js's customGrad). Custom ops stay out of the built-in registry.
 */
import { view, type Tensor } from './tensor';
import { defineOp, internal, untraced, type InputDecl, type Inputs, type OpSpec, type Operand, type RefTensor } from './ops/define';

export type { InputDecl, InputKind, Inputs, OpSpec, OutputMeta, TensorMeta, VjpContext } from './ops/define';

/** An op spec for `customOp`: as a built-in's, but the float64 reference is optional. */
export type CustomOpSpec<I extends InputDecl, A> = Omit<OpSpec<I, A>, 'reference'> & {
  reference?: OpSpec<I, A>['reference'];
};

/** The public function of a custom op: named inputs, then attributes. */
export type CustomOpFn<I extends InputDecl, A> = (inputs: Partial<Inputs<I, Tensor>> & Inputs<I, Tensor>, attrs?: A) => Tensor | Tensor[];

/**
 * Declares an op on the built-in contract and returns its public function, called with named
 * inputs: `op({ x, w }, attrs)`. The engine checks operands (alive, one device, `dtypes`),
 * allocates outputs from `shape` for a `forward`, or checks a `produce`'s outputs against it, and
 * records the op for `grad` when traced (the VJP is written with public ops).
 */
export function customOp<I extends InputDecl, A = Record<string, never>>(spec: CustomOpSpec<I, A>): CustomOpFn<I, A> {
  const reference =
    spec.reference ??
    (() => {
      throw new Error(`${spec.name}: custom op without a float64 reference`);
    });
  const op = defineOp<I, A>({ ...spec, reference } as OpSpec<I, A>, { register: false });
  const names = Object.keys(spec.inputs);
  return (inputs, attrs) => {
    const rec = inputs as unknown as Record<string, Operand | readonly Tensor[] | undefined>;
    const list: Operand[] = [];
    for (const n of names) {
      const v = rec[n];
      if (Array.isArray(v)) list.push(...(v as Tensor[]));
      else if (v !== undefined) list.push(v as Operand);
    }
    return op.call(list, (attrs ?? {}) as A);
  };
}

/** What a custom VJP receives. */
export interface CustomVjpContext<Args extends readonly Tensor[]> {
  /** Cotangent of the output. */
  dy: Tensor;
  /** The inputs of the forward call. */
  inputs: Args;
  /** The forward's result. */
  output: Tensor;
}

/**
 * `fn` with the gradient `vjp` instead of the one its ops would give (JAX's custom_vjp, TF.js's
 * customGrad): the forward runs `fn` untraced, and a trace sees one op whose VJP is yours, one
 * cotangent (or null) per input, written with public ops (so it is differentiable in turn).
 *
 *   const clipGrad = customVjp((x: Tensor) => mul(x, 1), ({ dy }) => [clamp(dy, -1, 1)]);
 *
 * @example
 * ```ts
 * import { init, tensor, customVjp, grad, mul, sum, clamp, type Tensor } from '@webgrad/core/node';
 * await init();
 * // identity forward, gradient clipped to [-1, 1] on the way back
 * const clipGrad = customVjp((x: Tensor) => mul(x, 1), ({ dy }) => [clamp(dy, -1, 1)]);
 * const g = grad((x: Tensor) => sum(mul(clipGrad(x), 5)))(tensor([1, 2]));
 * console.log(await g.data()); // Float32Array [1, 1]
 * ```
 */
export function customVjp<Args extends Tensor[]>(
  fn: (...xs: Args) => Tensor,
  vjp: (ctx: CustomVjpContext<Args>) => readonly (Tensor | null)[],
  name = 'customVjp',
): (...xs: Args) => Tensor {
  // the attrs carry the forward's result, computed once: its shape is the op's rule
  interface Run {
    result: () => Tensor;
  }
  const op = defineOp(
    {
      name,
      inputs: { xs: 'tensor[]' },
      shape: (_, a: Run) => {
        const y = a.result();
        return { shape: y.shape, dtype: y.dtype };
      },
      produce: (_, a) => a.result(),
      reference: (): RefTensor => {
        throw new Error(`${name}: customVjp has no float64 reference`);
      },
      vjp: ({ dy, inputs: { xs }, outputs: [y] }) => vjp({ dy, inputs: xs as unknown as Args, output: y }),
    },
    { register: false },
  );
  return (...xs: Args) => {
    let y: Tensor | undefined;
    // intermediates of fn are freed; only its result is kept
    const result = () => {
      if (y) return y;
      const r = untraced(() => internal(() => fn(...xs)));
      // a new handle when fn returns an input, so recording the output never marks the input
      return (y = xs.includes(r) ? view(r, r.shape) : r);
    };
    return op.call1(xs, { result });
  };
}
