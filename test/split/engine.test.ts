/**
 * The splitting engine's contract: a binding past the cap is refused with a one-line error naming the op; row
 * views read and write their own range (data(), kernels) and refuse `.buffer`; chunk views and copies are freed;
 * full() (a flat split with no input) fills every chunk; nothing changes below the cap.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { add, conv2d, flip, full, getDefaultDevice, memory, mul, rand, random, sum, tensor, tidy, type Device } from '../../src/node';
import { rowView } from '../../src/tensor/tensor';
import { splitCount } from '../../src/tensor/ops/split';

let device: Device;
beforeAll(() => {
  device = getDefaultDevice();
});
afterEach(() => {
  device.maxBindingSize = device.limits.maxStorageBufferBindingSize;
});

describe('binding cap', () => {
  it('defaults to the device limit and refuses values that are not a multiple of 4 bytes ≥ 16', () => {
    expect(device.maxBindingSize).toBe(device.limits.maxStorageBufferBindingSize);
    expect(() => {
      device.maxBindingSize = 10;
    }).toThrow(/maxBindingSize: got 10; expected a multiple of 4 bytes, at least 16/);
    device.maxBindingSize = 2 ** 40;
    expect(device.maxBindingSize).toBe(device.limits.maxStorageBufferBindingSize);
  });

  it('an op that cannot split names itself, the operand size and the cap in one line', () => {
    const x = rand(random.key(1), [64]);
    device.maxBindingSize = 64;
    // flip declares no split
    let message = '';
    try {
      flip(x, [0]);
    } catch (e) {
      message = (e as Error).message;
    }
    device.maxBindingSize = device.limits.maxStorageBufferBindingSize;
    expect(message).toMatch(/^flip: operand of 256 bytes exceeds this device's largest storage binding \(64 bytes\) and this op does not split$/);
    x.dispose();
  });

  it('a weight passed whole past the cap is refused naming the operand', () => {
    const x = rand(random.key(2), [4, 2, 3, 3]);
    const w = rand(random.key(3), [40, 2, 1, 1]); // 320 bytes
    device.maxBindingSize = 128;
    expect(() => conv2d(x, w)).toThrow(/conv2d: operand 'w' of 320 bytes exceeds .* \(128 bytes\) and this op splits only x/);
    device.maxBindingSize = device.limits.maxStorageBufferBindingSize;
    x.dispose();
    w.dispose();
  });

  it('a row wider than the cap cannot split further and says so', () => {
    const x = rand(random.key(4), [2, 100]);
    device.maxBindingSize = 256;
    expect(() => sum(x, 1)).toThrow(/sum: one row \(dim 0\) of an operand takes 400 bytes, more than .* \(256 bytes\)/);
    device.maxBindingSize = device.limits.maxStorageBufferBindingSize;
    x.dispose();
  });
});

describe('row views', () => {
  it('read their own rows, refuse .buffer, bind their range, and free nothing the parent still holds', async () => {
    const m = tensor(
      Float32Array.from({ length: 256 }, (_, i) => i),
      { shape: [8, 32] },
    );
    const v = rowView(m, 4, 4); // rows 4…7: byte 512
    expect(v.byteOffset).toBe(512);
    expect(Array.from(await v.data())).toEqual(Array.from({ length: 128 }, (_, i) => 128 + i));
    expect(() => v.buffer).toThrow(/view at byte 512 of its buffer: bind it with \.binding/);
    expect(v.binding).toEqual({ buffer: m.storage.buffer, offset: 512, size: 512 });
    // a kernel reads the view's rows
    const s = sum(v);
    expect(await s.item()).toBe(Array.from({ length: 128 }, (_, i) => 128 + i).reduce((a, b) => a + b));
    expect(() => rowView(m, 1, 1)).toThrow(/rows from 1 start at byte 128, not a multiple of 256/);
    const live = memory().liveBuffers;
    m.dispose();
    expect(memory().liveBuffers, 'the view keeps the storage alive').toBe(live);
    v.dispose();
    s.dispose();
    expect(memory().liveBuffers).toBe(live - 2);
  });
});

describe('splitting', () => {
  it('full() past the cap fills every chunk', async () => {
    device.maxBindingSize = 64;
    const before = splitCount.runs;
    const y = full([10, 7], 3.5);
    device.maxBindingSize = device.limits.maxStorageBufferBindingSize;
    expect(splitCount.runs).toBe(before + 1);
    expect(Array.from(await y.data())).toEqual(new Array(70).fill(3.5));
    y.dispose();
  });

  it('nothing splits below the cap', () => {
    const before = splitCount.runs;
    tidy(() => conv2d(rand(random.key(5), [3, 4, 9, 9]), rand(random.key(6), [8, 4, 3, 3])));
    expect(splitCount.runs).toBe(before);
  });

  it('chunk views and copies are freed: live memory is flat over repeated split ops', async () => {
    const x = rand(random.key(7), [6, 3, 5, 7]); // rows of 420 bytes: unaligned, so chunks are copies
    const w = rand(random.key(8), [4, 3, 3, 3]);
    const y = rand(random.key(9), [8, 64]); // rows of 256 bytes: aligned views
    device.maxBindingSize = 1024;
    const step = () => tidy(() => add(sum(conv2d(x, w, { padding: 1 })), sum(mul(y, 2))));
    step().dispose();
    await device.sync();
    const at = memory();
    for (let i = 0; i < 5; i++) step().dispose();
    await device.sync();
    device.maxBindingSize = device.limits.maxStorageBufferBindingSize;
    expect(memory().liveTensors).toBe(at.liveTensors);
    expect(memory().liveBytes).toBe(at.liveBytes);
    for (const t of [x, w, y]) t.dispose();
  });
});
