/** Every differentiable op: GPU VJP vs central differences of the float64 reference along random directions. */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { ALL_CASES } from '../ops/cases';
import { gradCheck, seedArb } from '../helpers/gradcheck';
import { registeredOps } from '../../src/tensor/ops/define';

describe('VJP matches finite differences', () => {
  for (const [name, spec] of Object.entries(ALL_CASES)) {
    const op = registeredOps().get(name);
    const differentiable = op && (op.vjp || (op.composite && !op.noGrad));
    if (!differentiable || spec.grad === false) continue;
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(spec.arb, seedArb, async ({ inputs, attrs }, seed) => {
          const which = spec.grad || inputs.flatMap((x, i) => (typeof x !== 'number' && x.dtype === 'float32' && x.data.length > 0 ? [i] : []));
          if (which.length === 0) return;
          const { analytic, numeric, scale } = await gradCheck(op, inputs, attrs, which, seed, spec.eps);
          const tol = (spec.gradTol ?? 2e-3) * (scale + 1e-6);
          if (!(Math.abs(analytic - numeric) <= tol)) {
            throw new Error(
              `${name}: ⟨vjp(u), v⟩ = ${analytic}, finite differences = ${numeric} (tolerance ${tol})\ninputs: ${JSON.stringify(inputs.map((x) => (typeof x === 'number' ? x : { shape: x.shape, data: [...x.data] })))}\nattrs: ${JSON.stringify(attrs)}`,
            );
          }
        }),
        { numRuns: spec.gradRuns ?? 15 },
      );
    });
  }
});
