/** Moving reference tensors to the GPU and back, and poisoning the pool so skipped writes show. */
import { tensor, type Tensor, getDefaultDevice } from '../../src/node';
import type { RefOperand, RefTensor } from '../../src/tensor/ops/define';
import { typedArrayFor } from '../../src/base/dtype';

export function toGPU(x: RefOperand): Tensor | number {
  if (typeof x === 'number') return x;
  const typed = typedArrayFor(x.dtype, x.data.length);
  for (let i = 0; i < x.data.length; i++) typed[i] = x.data[i];
  return tensor(typed, { shape: x.shape, dtype: x.dtype });
}

export async function fromGPU(t: Tensor): Promise<RefTensor> {
  return { shape: [...t.shape], dtype: t.dtype, data: Float64Array.from(await t.data()) };
}

/** Fills every pooled buffer with 0xFF bytes (NaN as f32, -1 as i32): an output a kernel forgets to write will not match. */
export function poisonPool(): void {
  const device = getDefaultDevice();
  device.pool.forEachFree((buf) => {
    device.upload(buf, new Uint8Array(buf.size).fill(0xff));
  });
}
