/**
 * What a capture refuses (work a replay cannot repeat) and the pinning of closed-over tensors: each one throws a
 * clear error, and a failed capture leaves no tensor or buffer behind.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { add, captureStep, getDefaultDevice, memory, mul, optim, tensor, tree, valueAndGrad, type Tensor, type MemoryInfo } from '../../src/node';
import { makeData, initParams, mseLoss, type Params } from '../../examples/mlp-core';

let start: MemoryInfo;
let a: Tensor;
beforeEach(() => {
  start = memory();
  a = tensor([1, 2, 3]);
});
afterEach(async () => {
  a.dispose();
  await getDefaultDevice()
    .sync()
    .catch(() => {});
  expect(memory().liveTensors).toBe(start.liveTensors);
  expect(memory().liveBytes).toBe(start.liveBytes);
});

describe('captureStep refuses what a replay cannot repeat', () => {
  it('a tensor made from host data inside the step (pass it as an argument instead)', () => {
    const step = captureStep((x: Tensor) => add(x, tensor([1, 1, 1])));
    expect(() => step(a)).toThrow(/^captureStep: the step cannot be captured: it uploads host data .*pass that data in as a tensor argument/);
    step.dispose();
  });

  it('a read-back inside the step', async () => {
    let pending: Promise<unknown> | null = null;
    const step = captureStep((x: Tensor) => {
      pending = x.data();
      return mul(x, 2);
    });
    expect(() => step(a)).toThrow(/captureStep: the step cannot be captured: it reads values back to the host/);
    await expect(pending).rejects.toThrow(/cannot read values back/);
    step.dispose();
  });

  it('a gate (a collective) inside the step', () => {
    const step = captureStep((x: Tensor) => {
      x.device.gate(async () => {}, 'allReduce');
      return mul(x, 2);
    });
    expect(() => step(a)).toThrow(/captureStep: a captured step cannot contain allReduce \(a gate\)/);
    step.dispose();
  });

  it('an async step', () => {
    const step = captureStep(async (x: Tensor) => mul(x, 2));
    expect(() => step(a)).toThrow(/captureStep: the step returned a Promise/);
    step.dispose();
  });

  it('a step that disposes a tensor it closed over', () => {
    const c = tensor([1, 1, 1]);
    const step = captureStep((x: Tensor) => {
      const r = add(x, c);
      c.dispose();
      return r;
    });
    expect(() => step(a)).toThrow(/it disposed a tensor it did not create and did not receive as an argument/);
    step.dispose();
  });

  it('a replay after a closed-over tensor was disposed (its memory could be anyone’s by then)', async () => {
    const c = tensor([10, 20, 30]);
    const step = captureStep((x: Tensor) => add(x, c));
    const r1 = step(a);
    expect(Array.from(await r1.data())).toEqual([11, 22, 33]);
    const r2 = step(a); // still alive: replays
    c.dispose();
    expect(() => step(a)).toThrow(/captureStep: a tensor the captured step reads but did not receive as an argument .* was disposed/);
    tree.dispose([r1, r2]);
    step.dispose();
  });

  it('an optimizer inside the step: its step count is a host number, so the second call names it', () => {
    const { x, y } = makeData(16);
    const opt = optim.adam({ lr: 0.01 });
    const step = captureStep((p: Params, s: optim.OptimizerState) => {
      const [loss, g] = valueAndGrad(mseLoss)(p, x, y);
      const u = opt.update(g, s, p);
      return { loss, params: u.params, state: u.state };
    });
    const params = initParams();
    const s0 = opt.init(params);
    const r = step(params, s0);
    expect(() => step(r.params, r.state)).toThrow(/captureStep: argument 'args\.1\.step' is 1; expected 0 as at capture/);
    tree.dispose([x, y, params, s0, r]);
    step.dispose();
  });

  it('the same tensor passed twice and a result fed back into another slot (staged copies)', async () => {
    // swap: the result's first leaf is the second input passed through, fed back as the first
    const step = captureStep((p: Tensor, q: Tensor) => [q, add(p, q)] as const);
    const p = tensor([1, 2]);
    const q = tensor([10, 20]);
    let [u, v] = step(p, q);
    expect(Array.from(await v.data())).toEqual([11, 22]);
    for (let i = 0; i < 3; i++) {
      const next = step(u, v); // u is the graph's own input buffer for q, fed to p's slot
      tree.dispose([u, v]);
      [u, v] = next;
    }
    // fibonacci-like: (1,10) → (10,11) → (11,21) → (21,32) → (32,53)
    expect(Array.from(await u.data())).toEqual([32, 64]);
    expect(Array.from(await v.data())).toEqual([53, 106]);
    // the other order: p's slot is overwritten before q's slot reads p's passed-through input
    const step2 = captureStep((p: Tensor, q: Tensor) => [add(p, q), p] as const);
    const r = step2(p, q);
    const r2 = step2(r[0], r[1]);
    expect(Array.from(await r2[0].data())).toEqual([12, 24]);
    expect(Array.from(await r2[1].data())).toEqual([11, 22]);
    tree.dispose([r, r2]);
    step2.dispose();
    const w = step(p, p);
    expect(Array.from(await w[1].data())).toEqual([2, 4]);
    tree.dispose([p, q, u, v, w]);
    step.dispose();
  });
});

describe('captureStep nesting', () => {
  it('a captured step called inside another capture throws (the outer graph would not see its work)', () => {
    const inner = captureStep((x: Tensor) => mul(x, 2));
    const b = tensor([1, 2, 3]);
    tree.dispose([inner(b), inner(b)]); // captured, then replayed: fine outside
    const outer = captureStep((x: Tensor) => inner(x));
    expect(() => outer(b)).toThrow(/captureStep: a captured step cannot run inside another capture/);
    const first = captureStep((x: Tensor) => mul(x, 3));
    const nested = captureStep((x: Tensor) => first(x));
    expect(() => nested(b)).toThrow(/captureStep: cannot capture inside another capture/);
    tree.dispose(b);
    for (const s of [inner, outer, first, nested]) s.dispose();
  });
});
