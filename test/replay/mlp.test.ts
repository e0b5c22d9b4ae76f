/**
 * captureStep on the MLP SGD step (examples/mlp-core.ts): replayed = eager bit for bit over several steps,
 * new input data gives new (eager-equal) results, wrong shapes and host values throw, memory stays flat over
 * many replays and dispose gives the graph's memory back.
 */
import { describe, expect, it } from 'vitest';
import { captureStep, memory, getDefaultDevice, tensor, tree, add, mul, type Tensor } from '../../src/node';
import { makeData, initParams, sgdStep, type Params } from '../../examples/mlp-core';

const LR = 0.05;
const bits = async (t: Tensor) => Array.from(new Uint32Array((await t.data()).buffer.slice(0)));
const paramBits = async (p: Params) => Promise.all(tree.tensors(p).map(bits));

/** Eager reference: losses and parameters (as bit patterns) after each of `steps` steps. */
async function eager(steps: number, data: { x: Tensor; y: Tensor }[]) {
  let params = initParams();
  const out: { loss: number[]; params: number[][] }[] = [];
  for (let i = 0; i < steps; i++) {
    const { x, y } = data[i % data.length];
    const r = sgdStep(params, x, y, LR);
    params = r.params;
    out.push({ loss: await bits(r.loss), params: await paramBits(params) });
    r.loss.dispose();
  }
  tree.dispose(params);
  return out;
}

/** The same steps through captureStep (the old params are the caller's to dispose: the step gets copies). */
async function replayed(steps: number, data: { x: Tensor; y: Tensor }[]) {
  const step = captureStep((p: Params, x: Tensor, y: Tensor) => sgdStep(p, x, y, LR));
  let params = initParams();
  const out: { loss: number[]; params: number[][] }[] = [];
  for (let i = 0; i < steps; i++) {
    const { x, y } = data[i % data.length];
    const r = step(params, x, y);
    tree.dispose(params);
    params = r.params;
    out.push({ loss: await bits(r.loss), params: await paramBits(params) });
    r.loss.dispose();
  }
  const stats = step.stats;
  tree.dispose(params);
  step.dispose();
  return { out, stats };
}

describe('captureStep: MLP SGD step', () => {
  it('replays bit for bit like the eager step over 6 steps', async () => {
    const data = [makeData(64, 1)];
    const e = await eager(6, data);
    const r = await replayed(6, data);
    expect(r.out).toEqual(e);
    expect(r.stats.calls).toBe(6);
    // the same x and y every call: only the 4 parameters are copied in (the step records no copies itself)
    expect(r.stats.copies).toBe(4);
    expect(r.stats.dispatches).toBeGreaterThan(10);
    tree.dispose(data);
  });

  it('new input data between calls changes the outputs as the eager step does', async () => {
    const data = [makeData(64, 1), makeData(64, 2), makeData(64, 3)];
    const e = await eager(5, data);
    const r = await replayed(5, data);
    expect(r.out).toEqual(e);
    expect(e[1].loss).not.toEqual(e[0].loss); // the data really differ
    tree.dispose(data);
  });

  it('outputs are static: the next call overwrites a kept result (documented), a copy survives', async () => {
    const step = captureStep((a: Tensor) => mul(a, 2));
    const a = tensor([1, 2, 3]);
    const b = tensor([5, 6, 7]);
    const first = step(a);
    const copy = add(first, 0);
    const second = step(b);
    expect(Array.from(await second.data())).toEqual([10, 12, 14]);
    expect(Array.from(await first.data())).toEqual([10, 12, 14]);
    expect(Array.from(await copy.data())).toEqual([2, 4, 6]);
    tree.dispose([a, b, first, second, copy]);
    step.dispose();
  });

  it('a call with other shapes, dtypes, structure or host values throws a one-line error naming the argument', () => {
    const step = captureStep((p: Params, x: Tensor, y: Tensor) => sgdStep(p, x, y, LR));
    const { x, y } = makeData(64);
    const small = makeData(32);
    let params = initParams();
    const r = step(params, x, y);
    tree.dispose([params, r.loss]);
    params = r.params;
    expect(() => step(params, small.x, small.y)).toThrow(
      /^captureStep: argument 'args\.1' is a tensor of shape \[32, 2\] float32; expected a tensor of shape \[64, 2\] float32 as at capture/,
    );
    expect(() => (step as any)(params, x)).toThrow(/captureStep: argument 'args' has 5 leaves; expected the 6 leaves/);
    const scaled = captureStep((a: Tensor, k: number) => mul(a, k));
    const o = scaled(x, 2);
    expect(() => scaled(x, 3)).toThrow(/captureStep: argument 'args\.1' is 3; expected 2 as at capture/);
    tree.dispose([params, x, y, small, o]);
    step.dispose();
    scaled.dispose();
  });

  it('no memory growth over 50 replays; dispose returns the graph memory to the pool', async () => {
    const device = getDefaultDevice();
    await device.sync();
    device.emptyCache(); // an empty pool: what is pooled at the end came back from the graph (or the data)
    const start = memory();
    const { x, y } = makeData(64);
    const step = captureStep((p: Params, xx: Tensor, yy: Tensor) => sgdStep(p, xx, yy, LR));
    let params = initParams();
    let at3: ReturnType<typeof memory> | null = null;
    for (let i = 1; i <= 50; i++) {
      const r = step(params, x, y);
      tree.dispose(params);
      params = r.params;
      r.loss.dispose();
      if (i === 3) at3 = memory();
    }
    await device.sync();
    const at50 = memory();
    expect(at50.liveTensors).toBe(at3!.liveTensors);
    expect(at50.liveBytes).toBe(at3!.liveBytes);
    expect(at50.liveBuffers).toBe(at3!.liveBuffers);
    expect(at50.pooledBytes).toBe(at3!.pooledBytes);
    expect(at50.liveTensors - start.liveTensors).toBe(6); // data and params
    const held = step.stats.bytes;
    expect(held).toBeGreaterThan(0);
    tree.dispose([params, x, y]);
    step.dispose();
    const end = memory();
    expect(end.liveTensors).toBe(start.liveTensors);
    expect(end.liveBytes).toBe(start.liveBytes);
    // the graph's buffers (all but its uniform block, a buffer of its own) are back in the pool
    expect(end.pooledBytes).toBeGreaterThanOrEqual(held - 256 * step.stats.dispatches);
    expect(step.stats.bytes).toBe(0);
  });
});
