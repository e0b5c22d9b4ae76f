/** Worker-thread side of decodeWorkers: decodes FileTasks and posts the pixels back (buffers transferred). */
import { parentPort } from 'node:worker_threads';
import { loadFileTask } from './image-folder';
import { setMaxImagePixels } from './image-header';
import type { FileTask, Sample } from '../train/data/datasets';

parentPort!.on('message', ({ id, task, maxPixels }: { id: number; task: FileTask; maxPixels: number }) => {
  setMaxImagePixels(maxPixels); // the main thread's limit
  let sample: Sample;
  try {
    sample = loadFileTask(task);
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    parentPort!.postMessage({ id, error: msg.includes(task.image) || (task.mask && msg.includes(task.mask)) ? msg : `${task.image}: ${msg}` });
    return;
  }
  const transfer = [sample.image.data.buffer as ArrayBuffer];
  if (sample.mask) transfer.push(sample.mask.data.buffer as ArrayBuffer);
  parentPort!.postMessage({ id, sample }, transfer);
});
