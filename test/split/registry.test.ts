/**
 * Every registered op that declares how it splits (`split` in defineOp): on the registry's fast-check cases, the
 * op run with the device's binding cap lowered below its largest operand (so the engine cuts it into row
 * chunks) gives the values it gives uncapped, and so do the gradients of a random projection of its outputs.
 * 'batch' and 'flat' splits run the same kernel on the same values: bit for bit except float sums over the batch
 * ('batch-sum', batch-norm statistics), compared within 1e-5 of each output's largest magnitude (at least 1).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { add, getDefaultDevice, mul, ones, sum, tidy, vjp, type Tensor } from '../../src/node';
import { ALL_CASES } from '../ops/cases';
import { toGPU } from '../helpers/gpu-ref';
import { registeredOps, type Op } from '../../src/tensor/ops/define';
import { splitCount } from '../../src/tensor/ops/split';

let device: ReturnType<typeof getDefaultDevice>;
let uncapped = 0;
beforeAll(() => {
  device = getDefaultDevice();
  uncapped = device.maxBindingSize;
});
afterEach(() => {
  device.maxBindingSize = uncapped;
});

/** Ops whose registry cases never split, with where their split is tested instead. */
const ELSEWHERE: Record<string, string> = { fill: 'cases are a few elements or index forms; full() splits in test/split/engine.test.ts' };
const splitOps = [...registeredOps()].filter(([name, op]) => op.splits && !(name in ELSEWHERE)).map(([name]) => name);

const bytesOf = (t: unknown) => (t instanceof Object && 'byteLength' in (t as Tensor) ? (t as Tensor).byteLength : 0);

async function values(ts: readonly Tensor[]): Promise<Float64Array[]> {
  return Promise.all(ts.map(async (t) => Float64Array.from(await t.data())));
}

function close(name: string, what: string, got: Float64Array[], want: Float64Array[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, k) => {
    expect(g.length, `${name} ${what} ${k} length`).toBe(want[k].length);
    // sums in another order: within 1e-5 of the output's largest magnitude
    const scale = Math.max(1, ...Array.from(want[k], (v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
    for (let i = 0; i < g.length; i++) {
      const a = g[i],
        b = want[k][i];
      if (Number.isNaN(b)) {
        expect(Number.isNaN(a), `${name} ${what} ${k}[${i}]: got ${a}, want NaN`).toBe(true);
        continue;
      }
      if (a === b) continue;
      const tol = 1e-5 * scale;
      if (!(Math.abs(a - b) <= tol)) throw new Error(`${name} ${what} ${k}[${i}]: split gives ${a}, unsplit ${b}`);
    }
  });
}

/** Outputs and, for a differentiable op, gradients of Σ outputs·r (r fixed per case) with respect to the float tensor inputs. */
function runOp(op: Op, inputs: (Tensor | number)[], attrs: unknown, seeds: number[]): Tensor[] {
  return tidy(() => {
    const outs = [op.call(inputs, attrs)].flat();
    if (!op.vjp) return outs;
    const floatIdx = inputs.map((x, i) => (typeof x !== 'number' && x.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
    if (floatIdx.length === 0) return outs;
    const f = (...xs: Tensor[]) => {
      const full = inputs.slice();
      floatIdx.forEach((i, k) => {
        full[i] = xs[k];
      });
      const ys = [op.call(full, attrs)].flat().filter((y) => y.dtype === 'float32');
      return ys.map((y, k) => sum(mul(y, seeds[k % seeds.length]))).reduce((a, b) => add(a, b));
    };
    const [, back] = vjp(f, ...floatIdx.map((i) => inputs[i] as Tensor));
    return [...outs, ...back(ones([]))];
  }) as Tensor[];
}

describe('ops split past the binding cap give the unsplit values and gradients', () => {
  it('some ops declare a split', () => {
    expect(splitOps.length).toBeGreaterThan(20);
  });
  for (const name of splitOps) {
    const spec = ALL_CASES[name];
    if (!spec) continue;
    it(name, async () => {
      const op = registeredOps().get(name)!;
      const samples = fc.sample(spec.arb, { numRuns: 12, seed: 17 });
      let split = 0;
      for (const { inputs, attrs } of samples) {
        const gpuIn = inputs.map(toGPU);
        const seeds = [0.5, -1.25, 2];
        let want: Float64Array[];
        let outs: Tensor[];
        try {
          outs = runOp(op, gpuIn, attrs, seeds);
        } catch {
          gpuIn.forEach((t) => typeof t !== 'number' && t.dispose());
          continue; // a case the op itself refuses
        }
        want = await values(outs);
        const outBytes = op.outputs(gpuIn as never, attrs).map((o) => 4 * o.shape.reduce((a, b) => a * b, 1));
        const biggest = Math.max(...gpuIn.map(bytesOf), ...outBytes);
        outs.forEach((t) => t.dispose());
        if (biggest <= 16) {
          gpuIn.forEach((t) => typeof t !== 'number' && t.dispose());
          continue;
        }
        // just under the largest operand (only it splits), then a third of it (everything batched splits)
        for (const cap of [Math.ceil(biggest / 4) * 4 - 4, Math.max(16, Math.ceil(biggest / 3 / 4) * 4)]) {
          device.maxBindingSize = cap;
          const before = splitCount.runs;
          let got: Float64Array[] | null = null;
          try {
            const capped = runOp(op, gpuIn, attrs, seeds);
            got = await values(capped);
            capped.forEach((t) => t.dispose());
          } catch (e) {
            // a row wider than the cap, or an operand passed whole that passes it: refused with a clear error
            const m = (e as Error).message;
            if (!/binding/.test(m)) throw e;
          } finally {
            device.maxBindingSize = uncapped;
          }
          if (got) {
            close(name, `(cap ${cap}, attrs ${JSON.stringify(attrs)}) output/gradient`, got, want);
            if (splitCount.runs > before) split++;
          }
        }
        gpuIn.forEach((t) => typeof t !== 'number' && t.dispose());
      }
      expect(split, `${name}: no case split (grow the cases or list the op)`).toBeGreaterThan(0);
    }, 120_000);
  }
});
