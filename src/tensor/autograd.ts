/**
 * Reverse-mode autodiff on a tape. While a `grad`/`valueAndGrad`/`vjp` trace is active, every op
 * with a traced input appends an entry; the backward pass walks the entries once, newest first
 * (a reverse topological order), calling each op's VJP. VJPs are written with public ops, so they
 * run on the GPU and are themselves traced by any outer trace (higher-order gradients).
 */
import { Tensor } from './tensor';
import { startScope, endScope } from './scope';
import * as tree from './tree';
import { sameShape, fmtShape } from '../base/shape';
import { detached, type Operand } from './ops/define';
import { add, onesLike, zerosLike, sumToShape, alias } from './autograd-ops';
import { Trace, active, withoutTape } from './tape';

const isTraced = (x: Operand, trace: Trace): x is Tensor => x instanceof Tensor && x.traces.includes(trace.id);

/** Walks `trace` backwards from `roots` with cotangents `cts`; returns cotangents by tensor id. */
function backward(trace: Trace, roots: readonly Tensor[], cts: readonly Tensor[], onFinal?: FinalHook): Map<number, Tensor> {
  const grads = new Map<number, Tensor>();
  // for onFinal: the oldest entry that reads each watched leaf; once the walk has passed it, the leaf's gradient is complete
  const finalAt = new Map<number, number[]>();
  if (onFinal) {
    const firstUse = new Map<number, number>();
    trace.entries.forEach((e, k) => {
      for (const x of e.inputs) if (x instanceof Tensor && onFinal.watch.has(x.id) && !firstUse.has(x.id)) firstUse.set(x.id, k);
    });
    for (const [id, k] of firstUse) finalAt.set(k, [...(finalAt.get(k) ?? []), id]);
  }
  const reportFinal = (k: number) => {
    for (const id of finalAt.get(k) ?? []) {
      const g = grads.get(id);
      if (g) onFinal!.report(id, g);
    }
  };
  const owned = new Set<Tensor>();
  const store = (x: Tensor, g: Tensor) => {
    // a VJP may hand one tensor to several inputs: give each its own handle, recorded (alias) so an
    // outer trace still sees the path (a bare view would cut higher-order gradients here)
    if (owned.has(g)) g = alias(g);
    const prev = grads.get(x.id);
    const next = prev ? add(prev, g) : g;
    grads.set(x.id, next);
    owned.add(next);
  };
  roots.forEach((r, i) => store(r, cts[i]));
  // Inside an outer trace, every intermediate may be needed by the outer backward: free nothing early.
  const freeEarly = active.length === 0;
  for (let k = trace.entries.length - 1; k >= 0; k--) {
    const e = trace.entries[k];
    if (!e.outputs.some((o) => grads.has(o.id))) {
      reportFinal(k);
      continue;
    }
    const compute = () => {
      const dys = e.outputs.map((o, j) => grads.get(o.id) ?? (e.op.sparseCotangents && j > 0 ? null : zerosLike(o))) as Tensor[];
      const gin = e.op.vjp!({ inputs: e.inputs, outputs: e.outputs, attrs: e.attrs, dy: dys[0], dys });
      return e.inputs.map((x, i) => {
        const g = gin[i];
        if (!g || !isTraced(x, trace)) return null;
        return sameShape(g.shape, x.shape) ? g : sumToShape(g, x.shape);
      });
    };
    let gin: (Tensor | null)[];
    if (freeEarly) {
      startScope();
      try {
        gin = compute();
      } finally {
        endScope(gin!);
      }
    } else gin = compute();
    if (freeEarly) {
      for (const o of e.outputs) {
        const g = grads.get(o.id);
        if (g && !roots.includes(o)) {
          grads.delete(o.id);
          owned.delete(g);
          if (!gin.includes(g)) g.dispose();
        }
      }
    }
    e.inputs.forEach((x, i) => {
      const g = gin[i];
      if (g) store(x as Tensor, g);
    });
    reportFinal(k);
  }
  return grads;
}

/** Leaves whose final gradients the backward walk reports as soon as they are complete. */
interface FinalHook {
  watch: ReadonlySet<number>;
  report(id: number, g: Tensor): void;
}

/**
 * Options of {@link grad} and {@link valueAndGrad}: which arguments to differentiate and whether the function
 * returns auxiliary data.
 */
export interface GradOptions {
  /** Which positional arguments to differentiate (default 0). */
  argnums?: number | readonly number[];
  /** `f` returns `[loss, aux]`; aux is passed through untouched. */
  hasAux?: boolean;
  /**
   * Called once per differentiated leaf as soon as its gradient is complete, while the rest of backward is still
   * being encoded (data-parallel training starts reading gradient buckets back then). `argnum` is the argument's
   * position, `path` the leaf's path in it (tree.flatten's); `grad` is the tensor valueAndGrad returns (do not
   * dispose it). Leaves that get no gradient are reported, with zeros, after backward.
   */
  onLeafGrad?: (argnum: number, path: string, grad: Tensor) => void;
}

type GradResult = any;

/**
 * `valueAndGrad(f)(...args)` → `[value, grads]` (`[[value, aux], grads]` with hasAux). Grads mirror
 * the pytree structure of the differentiated arguments; unused inputs get zeros. Tensors created
 * inside (activations, cotangents) are disposed on return unless an outer trace still needs them.
 *
 * @typeParam F - The function to differentiate; its returned value must be a scalar tensor (or `[scalar, aux]` with `hasAux`).
 * @example
 * ```ts
 * import { init, tensor, valueAndGrad, sum, square } from '@webgrad/core/node';
 * await init();
 * const f = (p: { w: ReturnType<typeof tensor> }) => sum(square(p.w));
 * const [value, grads] = valueAndGrad(f)({ w: tensor([1, 2, 3]) });
 * console.log(await value.item(), await grads.w.data()); // 14, Float32Array [2, 4, 6]
 * ```
 */
export function valueAndGrad<F extends (...args: any[]) => any>(f: F, options: GradOptions = {}) {
  const { argnums = 0, hasAux = false, onLeafGrad } = options;
  const nums = typeof argnums === 'number' ? [argnums] : [...argnums];
  return (...args: Parameters<F>): [any, GradResult] => {
    nums.forEach((n) => {
      if (!Number.isInteger(n) || n < 0 || n >= args.length)
        throw new RangeError(`valueAndGrad: argnums entry ${n} is out of range for ${args.length} arguments`);
    });
    const trace = new Trace();
    const outer = active.length > 0;
    if (!outer) startScope();
    let result: [any, GradResult] | undefined;
    try {
      const traced = args.slice();
      const leafTrees = nums.map((n) => {
        const t = tree.map(args[n], (leaf: unknown) => (leaf instanceof Tensor ? track(alias(leaf), trace) : leaf));
        traced[n] = t;
        return t;
      });
      active.push(trace);
      let out: any;
      try {
        out = f(...traced);
      } finally {
        active.splice(active.indexOf(trace), 1);
      }
      const [value, aux] = hasAux ? checkAux(out) : [out, undefined];
      checkScalar('valueAndGrad', value);
      // watched leaves: id → [argnum, path]; reported once, as soon as final (or after backward, for the rest)
      const watched = new Map<number, [number, string]>();
      if (onLeafGrad)
        leafTrees.forEach((lt, i) => {
          for (const { path, value: leaf } of tree.flatten(lt)) if (leaf instanceof Tensor) watched.set(leaf.id, [nums[i], path]);
        });
      const reported = new Set<number>();
      const report = (id: number, g: Tensor) => {
        const w = watched.get(id);
        if (!w || reported.has(id)) return;
        reported.add(id);
        onLeafGrad!(w[0], w[1], g);
      };
      const grads = backward(trace, [value], [onesLike(value)], onLeafGrad ? { watch: new Set(watched.keys()), report } : undefined);
      const g = leafTrees.map((lt) => tree.map(lt, (leaf: unknown) => (leaf instanceof Tensor ? (grads.get(leaf.id) ?? zerosLike(leaf)) : null)));
      if (onLeafGrad)
        leafTrees.forEach((lt, i) => {
          const gl = tree.leaves(g[i]);
          tree.leaves(lt).forEach((leaf, j) => leaf instanceof Tensor && report(leaf.id, gl[j] as Tensor));
        });
      result = [hasAux ? [value, aux] : value, typeof argnums === 'number' ? g[0] : g];
      return result;
    } finally {
      if (!outer) endScope(result);
    }
  };
}

/**
 * `grad(f)(...args)` → gradients of the scalar `f` (with hasAux: `[grads, aux]`).
 *
 * @typeParam F - The function to differentiate; it must return a scalar tensor (or `[scalar, aux]` with `hasAux`).
 * @example
 * ```ts
 * import { init, tensor, grad, mul, sum } from '@webgrad/core/node';
 * await init();
 * const f = (x: ReturnType<typeof tensor>, y: ReturnType<typeof tensor>) => sum(mul(x, y));
 * const [dx, dy] = grad(f, { argnums: [0, 1] })(tensor([1, 2]), tensor([3, 4]));
 * console.log(await dx.data(), await dy.data()); // [3, 4] and [1, 2]
 * ```
 */
export function grad<F extends (...args: any[]) => any>(f: F, options: GradOptions = {}) {
  const vg = valueAndGrad(f, options);
  return (...args: Parameters<F>): GradResult => {
    const [v, g] = vg(...args);
    const loss = (options.hasAux ? v[0] : v) as Tensor;
    if (active.length === 0) loss.dispose();
    return options.hasAux ? [g, v[1]] : g;
  };
}

/**
 * `vjp(f, ...primals)` → `[out, vjpFn]`: `vjpFn(cotangent)` returns one gradient per primal.
 * For non-scalar outputs. The trace's intermediates live until the enclosing `tidy` ends.
 */
export function vjp(f: (...args: any[]) => Tensor, ...primals: any[]): [Tensor, (ct: Tensor) => any[]] {
  const trace = new Trace();
  const leafTrees = primals.map((p) => tree.map(p, (leaf: unknown) => (leaf instanceof Tensor ? track(alias(leaf), trace) : leaf)));
  active.push(trace);
  let out: Tensor;
  try {
    out = f(...leafTrees);
  } finally {
    active.splice(active.indexOf(trace), 1);
  }
  if (!(out instanceof Tensor)) throw new TypeError('vjp: the function must return a Tensor');
  const fn = (ct: Tensor) => {
    if (!(ct instanceof Tensor) || !sameShape(ct.shape, out.shape)) {
      throw new TypeError(
        `vjp: cotangent must be a Tensor of the output's shape ${fmtShape(out.shape)}; got ${ct instanceof Tensor ? fmtShape(ct.shape) : typeof ct}`,
      );
    }
    const grads = backward(trace, [out], [ct]);
    return leafTrees.map((lt) => tree.map(lt, (leaf: unknown) => (leaf instanceof Tensor ? (grads.get(leaf.id) ?? zerosLike(leaf)) : null)));
  };
  return [out, fn];
}

/** A handle on the same values that gradients do not flow through. */
export const stopGradient = (x: Tensor): Tensor => detached(x);

/** Runs `fn` without recording gradients (e.g. evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  return withoutTape(fn);
}

function track(t: Tensor, trace: Trace): Tensor {
  if (t.dtype === 'float32') t.traces = [...t.traces, trace.id];
  return t;
}

function checkAux(out: unknown): [unknown, unknown] {
  if (!Array.isArray(out) || out.length !== 2) throw new TypeError('valueAndGrad: with hasAux the function must return [loss, aux]');
  return [out[0], out[1]];
}

function checkScalar(fn: string, v: unknown): asserts v is Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`${fn}: the function must return a scalar Tensor; got ${typeof v}`);
  if (v.size !== 1)
    throw new TypeError(
      `${fn}: the function must return a scalar (one element); got shape ${fmtShape(v.shape)}. Reduce it (e.g. mean) or use vjp for non-scalar outputs`,
    );
  if (v.dtype !== 'float32') throw new TypeError(`${fn}: the function must return a float32 tensor; got ${v.dtype}`);
}
