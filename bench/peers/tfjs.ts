/**
 * TF.js on its WebGPU backend, as a peer for benchmarks, on the same adapter webgrad uses.
 * `initTfjsWebGPU()` sets it up once (in Node it installs `navigator.gpu` from the `webgpu` package);
 * `timeTfjs(fn)` times a TF.js computation with the GPU queue drained after each batch of calls.
 */
import type * as TF from '@tensorflow/tfjs';

export type Tfjs = typeof TF;

let pending: Promise<Tfjs> | null = null;

/** Loads @tensorflow/tfjs with the WebGPU backend selected. Rejects with the reason when unavailable. */
export function initTfjsWebGPU(): Promise<Tfjs> {
  pending ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: unknown }; process?: unknown };
    if (!g.navigator?.gpu && g.process) {
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      (process.env as Record<string, string>).XDG_RUNTIME_DIR ??= '/tmp';
      const gpu = create([]);
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    }
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-webgpu');
    // quiet "Initialization of backend webgl/cpu failed" noise in Node
    if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js: the webgpu backend failed to initialise');
    await tf.ready();
    return tf as unknown as Tfjs;
  })();
  return pending;
}

/** Waits until every command TF.js has submitted so far has finished on the GPU. */
export async function syncTfjs(tf: Tfjs): Promise<void> {
  // the same steps TF.js takes before a read-back: close the open pass, submit the encoder, wait
  const backend = tf.backend() as unknown as {
    device?: GPUDevice;
    commandEncoder?: GPUCommandEncoder | null;
    ensureCommandEncoderReady?: () => void;
    endComputePassEncoder?: () => void;
    submitQueue?: () => void;
  };
  if (!backend.device) throw new Error(`TF.js backend '${tf.getBackend()}' is not WebGPU`);
  backend.ensureCommandEncoderReady?.();
  backend.endComputePassEncoder?.();
  backend.submitQueue?.();
  await backend.device.queue.onSubmittedWorkDone();
}

/**
 * Seconds per call of `fn` (which returns the tensors it made; they are disposed), median of
 * `repeats` batches of `iters` calls after `warmup` calls. The queue is drained after each batch.
 */
export async function timeTfjs(tf: Tfjs, fn: () => TF.Tensor | TF.Tensor[], { warmup = 2, iters = 5, repeats = 3 } = {}): Promise<number> {
  const call = () => {
    const r = fn();
    (Array.isArray(r) ? r : [r]).forEach((t) => t.dispose());
  };
  for (let i = 0; i < warmup; i++) call();
  await syncTfjs(tf);
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) call();
    await syncTfjs(tf);
    times.push((performance.now() - t0) / 1000 / iters);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
