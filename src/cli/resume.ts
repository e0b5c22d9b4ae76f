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

/** A run's starting point: the training values, the iteration to start at and the best score so far. */
export interface RunStart<P, S> {
  /** The model's parameters. */
  params: P;
  /** The model's state. */
  state: S;
  /** The optimizer's state. */
  optState: OptimizerState;
  /** Iterations already done (0 for a new run). */
  step: number;
  /** The best score recorded so far (-Infinity for a new run or where none is recorded). */
  best: number;
}

/**
 * Where a run whose best checkpoint keeps one score (higher is better) starts: without `resume`, `fresh` at
 * iteration 0 with no best; with it, `--resume`'s checkpoint loaded into `fresh`'s shapes at its iteration, and the
 * score the best checkpoint at `bestPath` recorded in its `meta` under `bestKey` (-Infinity where there is none).
 */
export async function startOrResume<P, S>(
  resume: string | undefined,
  fresh: { params: P; state: S; optState: OptimizerState },
  bestPath: string,
  bestKey: string,
): Promise<RunStart<P, S>> {
  if (!resume) return { ...fresh, step: 0, best: -Infinity };
  const ck = await loadResume(resume, fresh);
  const best = Number((await checkpointMeta(bestPath))?.[bestKey]);
  return { params: ck.params, state: ck.state, optState: ck.optState, step: ck.step, best: Number.isFinite(best) ? best : -Infinity };
}
