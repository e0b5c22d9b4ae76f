/** GPU-side failures surface as JS errors: a kernel that fails validation names itself; a lost device says so. */
import { describe, it, expect } from 'vitest';
import { tensor, add, createDevice, GPUOpError } from '../../src/node';
import { empty } from '../../src/tensor/tensor';

const asyncErr = async (f: () => Promise<unknown>): Promise<Error> => {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error; none was thrown');
};

describe('GPU errors', () => {
  it('an invalid kernel surfaces at the next read-back as a GPUOpError naming the kernel', async () => {
    const device = await createDevice({ label: 'bad-kernel-device' });
    const out = empty([4], 'float32', device);
    // assigns a vec2 to a u32 element: fails WGSL validation
    const bad = `@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1) fn main() { out[0] = vec2<u32>(1u, 2u); }`;
    device.run('deliberately-bad', 'test:deliberately-bad-kernel', () => ({ code: bad, bindings: ['storage'] }), [out.buffer], [1]);
    const e = await asyncErr(() => out.data());
    expect(e).toBeInstanceOf(GPUOpError);
    expect(e.message).toContain("kernel 'test:deliberately-bad-kernel' failed to compile");
    expect(e.message).toContain('bad-kernel-device');
    expect(e.message).toMatch(/\d+\| @compute/); // the numbered source is included
    // the error is reported once; the device stays usable for valid work
    out.dispose();
    const t = tensor([1, 2], { device });
    const u = add(t, 1);
    await device.sync().catch(() => {}); // drain a follow-on batch error from the invalid pipeline, if any
    const v = add(t, 2);
    expect([...(await v.data())]).toEqual([3, 4]);
    t.dispose();
    u.dispose();
    v.dispose();
    device.destroy();
  });

  it('ops on a lost device throw an error that says the device was lost', async () => {
    const device = await createDevice({ label: 'doomed' });
    const t = tensor([1, 2, 3], { device });
    device.gpu.destroy();
    await device.gpu.lost;
    expect(device.isLost).toBe(true);
    let e: Error | null = null;
    try {
      add(t, 1);
    } catch (err) {
      e = err as Error;
    }
    expect(e).toBeInstanceOf(GPUOpError);
    expect(e!.message).toMatch(/add: doomed: device lost/);
    const e2 = await asyncErr(() => t.data());
    expect(e2.message).toMatch(/device lost/);
    // the error stays: a lost device does not recover
    expect(() => add(t, 1)).toThrow(/lost/);
  });

  it('read-back right after destroy() (before the lost event) still rejects with "lost"', async () => {
    const device = await createDevice({ label: 'doomed2' });
    const t = tensor([1, 2, 3], { device });
    device.gpu.destroy();
    const e = await asyncErr(async () => {
      const y = add(t, 1);
      await y.data();
    });
    expect(e.message).toMatch(/lost/);
  });
});
