/**
 * Every registered op, GPU vs its float64 reference on fast-check-drawn inputs, with the pool
 * poisoned first. An op registered without a case here fails the suite.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { tidy } from '../../src/node';
import { ALL_CASES, EXEMPT } from './cases';
import { toGPU, poisonPool } from '../helpers/gpu-ref';
import { mismatch } from '../helpers/close';
import type { Tensor } from '../../src/node';
import { registeredOps } from '../../src/tensor/ops/define';

describe('op registry', () => {
  it('every op has a reference, a shape rule, a VJP or a reason, and a test case', () => {
    for (const [name, op] of registeredOps()) {
      expect(typeof op.reference, name).toBe('function');
      expect(typeof op.outputs, `${name} has no shape rule`).toBe('function');
      expect(op.inputNames, `${name} declares no inputs`).toBeInstanceOf(Array);
      expect(op.dtypes.length, `${name} accepts no dtype`).toBeGreaterThan(0);
      expect(Boolean(op.vjp) || Boolean(op.noGrad) || Boolean(op.composite), `${name} has neither vjp nor noGrad`).toBe(true);
      expect(name in ALL_CASES || name in EXEMPT, `op '${name}' has no test case in test/ops/cases`).toBe(true);
      if ((op.vjp || (op.composite && !op.noGrad)) && name in ALL_CASES)
        expect(ALL_CASES[name].grad, `${name} has a VJP, so its gradient must be checked`).not.toBe(false);
    }
  });
});

/**
 * The shape/dtype rule the engine allocates outputs from, against the reference's outputs on the
 * same fast-check cases: pure functions of shapes and dtypes, so nothing is dispatched to the GPU.
 */
describe('shape/dtype rule matches the reference (no GPU dispatch)', () => {
  for (const [name, spec] of Object.entries(ALL_CASES)) {
    it(name, () => {
      const op = registeredOps().get(name);
      if (!op) throw new Error(`case for unknown op '${name}'`);
      fc.assert(
        fc.property(spec.arb, ({ inputs, attrs }) => {
          const want = op.reference(inputs, attrs);
          const wants = Array.isArray(want) ? want : [want];
          const rule = op.outputs(inputs, attrs);
          expect(rule.length, 'number of outputs').toBe(wants.length);
          rule.forEach((r, k) => {
            expect([...r.shape], `output ${k} shape (attrs ${JSON.stringify(attrs)})`).toEqual(wants[k].shape);
            expect(r.dtype, `output ${k} dtype`).toBe(wants[k].dtype);
          });
        }),
        { numRuns: spec.runs ?? 25 },
      );
    });
  }
});

describe('GPU matches float64 reference', () => {
  for (const [name, spec] of Object.entries(ALL_CASES)) {
    it(name, async () => {
      const op = registeredOps().get(name);
      if (!op) throw new Error(`case for unknown op '${name}'`);
      await fc.assert(
        fc.asyncProperty(spec.arb, async ({ inputs, attrs }) => {
          poisonPool();
          const want = op.reference(inputs, attrs);
          const wants = Array.isArray(want) ? want : [want];
          const gpuIn = inputs.map(toGPU);
          const outs = tidy(() => {
            const r = op.call(gpuIn, attrs);
            return Array.isArray(r) ? r : [r];
          }) as Tensor[];
          try {
            expect(outs.length).toBe(wants.length);
            for (let k = 0; k < outs.length; k++) {
              expect(outs[k].shape, `output ${k} shape`).toEqual(wants[k].shape);
              expect(outs[k].dtype, `output ${k} dtype`).toBe(wants[k].dtype);
              const m = mismatch(await outs[k].data(), wants[k], spec.tol);
              if (m)
                throw new Error(
                  `output ${k}: ${m}\ninputs: ${JSON.stringify(inputs.map((x) => (typeof x === 'number' ? x : { shape: x.shape, dtype: x.dtype, data: [...x.data] })))}\nattrs: ${JSON.stringify(attrs)}`,
                );
            }
          } finally {
            outs.forEach((t) => t.dispose());
            gpuIn.forEach((t) => typeof t !== 'number' && t.dispose());
          }
        }),
        { numRuns: spec.runs ?? 25 },
      );
    });
  }
});
