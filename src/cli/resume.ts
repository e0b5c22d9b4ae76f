/**
 * What the training CLIs (train-u2net, train-ssd, train-segmentation) read back to go on with a run: the `--resume`
 * checkpoint, and the metadata of the best checkpoint so far (to keep comparing against it).
 */
import { existsSync } from 'node:fs';
import { loadSafetensors } from '../io/files';
import { loadTrainingCheckpoint, type TrainingCheckpoint } from '../io/training-checkpoint';
import type { OptimizerState } from '../train/optim/optimizer';
import { UsageError, firstLine } from './args';
import { checkInputFile, safetensorsMetadata } from './paths';

/**
 * The `meta` JSON of `--resume`'s file, read from its header before the device opens: a missing, corrupt or
 * non-training file is a one-line UsageError (`hint` is appended to the not-a-training-checkpoint one).
 * The caller checks the fields that must match its command line.
 */
export function resumeMeta(path: string, hint = ''): Record<string, unknown> {
  checkInputFile('--resume', path);
  const m = safetensorsMetadata('--resume', path);
  if (m.format !== 'webgrad-training/1')
    throw new UsageError(`--resume '${path}' is not a webgrad training checkpoint (format '${m.format ?? 'none'}')${hint}`);
  try {
    return JSON.parse(m.meta ?? '{}');
  } catch {
    throw new UsageError(`--resume '${path}': its metadata is not JSON`);
  }
}

/** `--resume`'s training checkpoint, loaded into the shapes of `template`; a file that does not fit is a one-line UsageError. */
export async function loadResume<P, S>(path: string, template: { params: P; state: S; optState: OptimizerState }): Promise<TrainingCheckpoint<P, S>> {
  try {
    return await loadTrainingCheckpoint(path, template);
  } catch (e) {
    throw new UsageError(`--resume: ${firstLine(e)}`);
  }
}

/** The `meta` JSON a checkpoint was saved with; null where the file is missing or unreadable (the caller checks the fields it reads). */
export async function checkpointMeta(path: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(path)) return null;
  try {
    const { metadata } = await loadSafetensors(path);
    return JSON.parse(metadata?.meta ?? '{}');
  } catch {
    return null;
  }
}
