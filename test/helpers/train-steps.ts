/**
 * A few training steps that must leave no GPU memory behind: what the model tests check after their steps
 * (live tensors and bytes the same after the last step as after the 2nd, once the first steps have made
 * whatever the run keeps, e.g. the optimizer's slots).
 */
import { expect } from 'vitest';
import { getDefaultDevice, memory, type Tensor } from '../../src/node';

/**
 * Runs `step(i)` for i = 1…`steps` (each does one update, keeps its new values itself and returns the loss
 * tensor, which is read and disposed here), then expects the live GPU memory after the last step to equal that
 * after the 2nd. Returns the losses in order.
 */
export async function trainStepsWithoutLeak(steps: number, step: (i: number) => Tensor): Promise<number[]> {
  const losses: number[] = [];
  let at2: ReturnType<typeof memory> | null = null;
  for (let i = 1; i <= steps; i++) {
    const loss = step(i);
    losses.push(await loss.item());
    loss.dispose();
    if (i === 2) {
      await getDefaultDevice().sync();
      at2 = memory();
    }
  }
  await getDefaultDevice().sync();
  const end = memory();
  expect(at2, 'at least 2 steps').not.toBeNull();
  expect(end.liveTensors, `live tensors after step ${steps} vs step 2`).toBe(at2!.liveTensors);
  expect(end.liveBytes, `live bytes after step ${steps} vs step 2`).toBe(at2!.liveBytes);
  return losses;
}
