/**
 * The device gate: work recorded behind host work is held (batches with their own uniform bytes, uploads) and
 * replayed in order; read-backs wait for it; a rejected gate fails the device with its error instead of hanging.
 */
import { describe, it, expect } from 'vitest';
import { tensor, add, mul, createDevice, type Device, type Tensor } from '../../src/node';
import { BufferUsage, MapMode } from '../../src/kernels/webgpu/usage';

/** A gate whose function waits until `open()` is called (or `fail(e)`). */
function manualGate(device: Device, name = 'test gate', body?: () => void) {
  let open!: () => void, fail!: (e: Error) => void;
  const released = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  let ran = false;
  device.gate(async () => {
    ran = true;
    await released;
    body?.();
  }, name);
  return { open, fail, ran: () => ran };
}

const tick = () => new Promise((r) => setTimeout(r, 5));
const values = async (t: Tensor) => [...(await t.data())];

describe('device.gate', () => {
  it('holds dispatches and uploads recorded after the gate, in order, until its function resolves', async () => {
    const d = await createDevice({ label: 'gate-order', flushEvery: 2 });
    const x = tensor([1, 2, 3], { device: d });
    const z = tensor([0, 0, 0], { device: d });
    const before = add(x, 1); // [2, 3, 4], submitted before the gate
    const g = manualGate(d, 'test gate', () => d.gpu.queue.writeBuffer(z.buffer, 0, new Float32Array([10, 20, 30])));
    const submits = d.queue.submitCount;
    // recorded behind the gate: reads z (written by the gate), an upload, and ten distinct uniforms (flushEvery 2:
    // five held batches, each must keep its own copy of the uniform arena)
    let w = add(z, before); // [12, 23, 34]
    const u = tensor([100, 200, 300], { device: d }); // upload, held
    w = add(w, u);
    for (let i = 1; i <= 10; i++) w = add(w, i); // + 55
    await tick();
    expect(g.ran()).toBe(true);
    expect(d.queue.holding).toBe(true);
    expect(d.queue.submitCount).toBe(submits); // nothing reached the GPU queue
    let done = false;
    const read = values(w).then((v) => {
      done = true;
      return v;
    });
    await tick();
    expect(done).toBe(false); // the read-back waits for the held work
    g.open();
    expect(await read).toEqual([167, 278, 389]);
    expect(d.queue.holding).toBe(false);
    d.destroy();
  });

  it('a gate opened behind another runs after the first resolves and after the work between them is submitted', async () => {
    const d = await createDevice({ label: 'gate-nested' });
    const x = tensor([1, 2], { device: d });
    const order: string[] = [];
    const a = manualGate(d, 'gate A', () => order.push('A done'));
    const y = mul(x, 3); // held behind A
    const staging = d.gpu.createBuffer({ size: 8, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    d.queue.copy(y.buffer, 0, staging, 0, 8);
    let seen: number[] = [];
    d.gate(async () => {
      order.push('B start');
      await staging.mapAsync(MapMode.READ); // only valid once the copy above was submitted
      seen = [...new Float32Array(staging.getMappedRange())];
      staging.unmap();
      order.push('B done');
    }, 'gate B');
    const z = add(y, 1);
    await tick();
    expect(order).toEqual([]); // B waits for A
    a.open();
    expect(await values(z)).toEqual([4, 7]);
    expect(order).toEqual(['A done', 'B start', 'B done']);
    expect(seen).toEqual([3, 6]);
    staging.destroy();
    d.destroy();
  });

  it('a rejected gate fails the next read-back with its message (no hang), drops the held work, and the device recovers', async () => {
    const d = await createDevice({ label: 'gate-reject' });
    const x = tensor([1, 2], { device: d });
    const g = manualGate(d, 'allReduce (test collective, rank 0 of 2)');
    const y = add(x, 1);
    let later = 'pending';
    d.gate(
      async () => {
        later = 'ran';
      },
      'later gate',
      () => {
        later = 'dropped';
      },
    );
    const read = y.data();
    g.fail(new Error('rank 1 did not arrive within 50 ms'));
    await expect(read).rejects.toThrow(/data: gate-reject: allReduce \(test collective, rank 0 of 2\) failed: rank 1 did not arrive within 50 ms/);
    expect(d.queue.holding).toBe(false);
    expect(later).toBe('dropped'); // a gate behind the failed one never runs, but may free what it holds
    // the error is thrown once (as other GPU errors); work recorded from here on runs
    const z = add(x, 10);
    expect(await values(z)).toEqual([11, 12]);
    d.destroy();
  });

  it('sync() waits for held work; with no gate nothing is held', async () => {
    const d = await createDevice({ label: 'gate-sync' });
    const x = tensor([5], { device: d });
    const y0 = add(x, 1);
    expect(d.queue.holding).toBe(false);
    expect(await values(y0)).toEqual([6]);
    const g = manualGate(d);
    const y = add(x, 2);
    let synced = false;
    const s = d.sync().then(() => (synced = true));
    await tick();
    expect(synced).toBe(false);
    g.open();
    await s;
    expect(await values(y)).toEqual([7]);
    d.destroy();
  });
});
