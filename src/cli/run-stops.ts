/**
 * The bookkeeping that stops a training CLI's run (train-u2net, train-ssd) cleanly: the finite
 * checks, the one-line "stopped" message naming the last good and the best checkpoint, and the
 * evaluation/checkpoint cadence. Each CLI keeps its own model step, scores and best-checkpoint rule.
 */
import { tree } from '../node';

/** A run that cannot go on (diverged, unreadable data): one line, exit code 1. */
export class RunStopped extends Error {}

/** Every tensor of the trees holds finite values (read back to the host: exact on every device). */
export async function allFinite(trees: unknown[]): Promise<boolean> {
  for (const t of tree.tensors(trees)) {
    if (t.dtype !== 'float32') continue;
    const d = await t.data();
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  }
  return true;
}

/** What falls due once `done` of `iters` iterations are done: a held-out evaluation, a checkpoint (both at the end; 0 = only there). */
export function dueAfter(done: number, iters: number, evalEvery: number, ckptEvery: number): { evalDue: boolean; ckptDue: boolean } {
  const last = done === iters;
  return { evalDue: (evalEvery > 0 && done % evalEvery === 0) || last, ckptDue: (ckptEvery > 0 && done % ckptEvery === 0) || last };
}

/**
 * Remembers the last good checkpoint and builds the stopped-run errors. `best` describes the best
 * checkpoint so far (e.g. `mAP@0.5 0.412`), or is null while there is none.
 */
export class RunStops {
  /** The last good checkpoint, as `path (iteration N)`; empty while none. */
  lastSaved: string;

  constructor(
    resume: string,
    start: number,
    private readonly lr: number,
    private readonly bestPath: string,
    private readonly best: () => string | null,
  ) {
    this.lastSaved = resume ? `${resume} (iteration ${start})` : '';
  }

  /** Records the checkpoint just written at `iteration`. */
  saved(path: string, iteration: number): void {
    this.lastSaved = `${path} (iteration ${iteration})`;
  }

  /** The error that stops the run: why, the checkpoints to go back to, and the usual cure. */
  stopped(why: string): RunStopped {
    const best = this.best();
    return new RunStopped(
      `${why}; stopped. ${this.lastSaved ? `The last good checkpoint is ${this.lastSaved}` : 'No checkpoint was written'}${best !== null ? `, the best (${best}) ${this.bestPath}` : ''}. Try a lower --lr (now ${this.lr}).`,
    );
  }

  /** Stops the run (closing the progress line) if iteration `iteration`'s loss is not finite. */
  checkLoss(loss: number, iteration: number, progress: { done(): void }): void {
    if (Number.isFinite(loss)) return;
    progress.done();
    throw this.stopped(`the loss became ${loss} at iteration ${iteration}`);
  }

  /** Stops the run (closing the progress line) if the weights are not all finite: nothing non-finite may overwrite a good checkpoint. */
  async checkWeights(trees: unknown[], iteration: number, loss: number, progress: { done(): void }): Promise<void> {
    if (await allFinite(trees)) return;
    progress.done();
    throw this.stopped(`the weights became non-finite by iteration ${iteration} (loss ${loss.toExponential(2)})`);
  }
}
