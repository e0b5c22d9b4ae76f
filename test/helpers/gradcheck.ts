/**
 * Gradient check in JAX's style: for a random direction v and cotangent u, compare
 * ⟨u, (f(x+εv) − f(x−εv)) / 2ε⟩ computed on the float64 reference with ⟨vjp(u), v⟩ from the GPU.
 */
import fc from 'fast-check';
import { tidy, vjp, type Tensor, mul, sum, add } from '../../src/node';
import type { Op, RefOperand, RefTensor } from '../../src/tensor/ops/define';
import { toGPU } from './gpu-ref';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));

/** Deterministic pseudo-random unit-scale vectors (seeded so failures replay). */
function randomVector(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 4294967296) * 2 - 1;
  });
}

export interface GradCheckResult {
  analytic: number;
  numeric: number;
  scale: number;
}

export async function gradCheck(op: Op, inputs: RefOperand[], attrs: unknown, which: number[], seed: number, eps = 1e-3): Promise<GradCheckResult> {
  const outs = (xs: RefOperand[]) => {
    const r = op.reference(xs, attrs);
    return Array.isArray(r) ? r : [r];
  };
  const y0 = outs(inputs);
  const us = y0.map((y, k) => randomVector(y.data.length, seed * 7 + k + 1));
  const vs = which.map((i, k) => randomVector((inputs[i] as RefTensor).data.length, seed * 13 + k + 101));
  const shifted = (sgn: number) =>
    inputs.map((x, i) => {
      const k = which.indexOf(i);
      if (k < 0 || typeof x === 'number') return x;
      return { ...x, data: x.data.map((v, j) => v + sgn * eps * vs[k][j]) };
    });
  const plus = outs(shifted(1)),
    minus = outs(shifted(-1));
  let numeric = 0;
  plus.forEach((p, k) => {
    if (p.dtype !== 'float32') return;
    for (let j = 0; j < p.data.length; j++) numeric += (us[k][j] * (p.data[j] - minus[k].data[j])) / (2 * eps);
  });

  // GPU: vjp of the op with respect to the checked inputs, others held constant
  const gpuInputs = inputs.map(toGPU);
  const grads = await tidyAsync(async () => {
    const f = (...xs: (Tensor | number)[]) => {
      const all = gpuInputs.slice();
      which.forEach((i, k) => {
        all[i] = xs[k];
      });
      const r = op.call(all, attrs);
      if (!Array.isArray(r)) return r;
      // several outputs: contract each float output with its u so the VJP sees every cotangent
      return r
        .map((y, k) => (y.dtype === 'float32' ? sum(mul(y, toGPU({ ...y0[k], data: us[k] }))) : null))
        .filter((t): t is Tensor => t !== null)
        .reduce((a, b) => add(a, b));
    };
    const [, back] = vjp(f, ...which.map((i) => gpuInputs[i]));
    const single = !Array.isArray(op.reference(inputs, attrs));
    const u = (single ? toGPU({ ...y0[0], data: us[0] }) : toGPU({ shape: [], dtype: 'float32', data: Float64Array.of(1) })) as Tensor;
    const g = back(u) as Tensor[];
    return Promise.all(g.map((t) => t.data()));
  });
  gpuInputs.forEach((t) => typeof t !== 'number' && t.dispose());
  const analytic = grads.reduce((s, g, k) => s + dot(g, vs[k]), 0);
  const scale = grads.reduce((s, g, k) => s + norm(g) * norm(vs[k]), 0) + us.reduce((s, u) => s + norm(u), 0) * 1e-3;
  return { analytic, numeric, scale };
}

/** Like tidy, for an async body: disposes tensors created inside once the promise settles. */
async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const { startScope, endScope } = await import('../../src/tensor/scope');
  startScope();
  try {
    return await fn();
  } finally {
    endScope();
  }
}

export const seedArb = fc.integer({ min: 1, max: 1 << 30 });
export { tidy };
