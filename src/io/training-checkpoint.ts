/**
 * Training checkpoints: parameters, model state (BatchNorm statistics), optimizer state, the
 * iteration and free-form metadata in one safetensors file, written atomically, so a crash never
 * corrupts the last good checkpoint and resuming continues exactly where the run stopped.
 * Tensor keys: `params.<path>`, `state.<path>`, `optim.<param path>.<slot>`.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { saveSafetensors, loadSafetensors } from './files';
import { toTensor } from '../formats/host-tensor';
import type { HostTensor } from '../formats/host-tensor';
import { Tensor } from '../tensor/tensor';
import * as tree from '../tensor/tree';
import type { OptimizerState } from '../train/optim/optimizer';
import { fmtShape, sameShape } from '../base/shape';

/**
 * Everything needed to resume training: parameters, model state, optimizer state, the step and free-form
 * metadata.
 */
export interface TrainingCheckpoint<P = any, S = any> {
  /** The model's parameters. */
  params: P;
  /** The model's state (BatchNorm statistics). */
  state: S;
  /** The optimizer's state. */
  optState: OptimizerState;
  /** Updates done so far. */
  step: number;
  /** Free-form JSON metadata (configuration, epoch, metrics). */
  meta?: Record<string, unknown>;
}

const FORMAT = 'webgrad-training/1';

/** Writes a training checkpoint as one safetensors file, atomically (a crash never leaves a half-written file). */
export async function saveTrainingCheckpoint(path: string, ck: TrainingCheckpoint): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await saveSafetensors(
    path,
    { params: ck.params, state: ck.state, optim: ck.optState.slots },
    {
      format: FORMAT,
      step: String(ck.step),
      optimizerStep: String(ck.optState.step),
      meta: JSON.stringify(ck.meta ?? {}),
    },
  );
}

/** Loads a checkpoint into trees shaped like `template` (e.g. a fresh `model.init` and `opt.init`); shapes must match. */
export async function loadTrainingCheckpoint<P, S>(
  path: string,
  template: { params: P; state: S; optState: OptimizerState },
): Promise<TrainingCheckpoint<P, S>> {
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata?.format !== FORMAT)
    throw new Error(`${path}: not a webgrad training checkpoint (format '${metadata?.format ?? 'none'}'); use --init to load plain weights`);
  const take = (key: string, like: Tensor): Tensor => {
    const host = tensors[key] as HostTensor | undefined;
    if (!host) throw new Error(`${path}: checkpoint has no tensor '${key}'`);
    if (!sameShape(host.shape, like.shape)) throw new Error(`${path}: '${key}' has shape ${fmtShape(host.shape)}; the model expects ${fmtShape(like.shape)}`);
    return toTensor(host, like.device, like.dtype, key);
  };
  const load = <T>(t: T, prefix: string): T => tree.map(t, (leaf: unknown, p: string) => (leaf instanceof Tensor ? take(`${prefix}.${p}`, leaf) : leaf));
  const slots: OptimizerState['slots'] = {};
  for (const [p, slot] of Object.entries(template.optState.slots)) {
    slots[p] = Object.fromEntries(Object.entries(slot).map(([name, like]) => [name, take(`optim.${p}.${name}`, like)]));
  }
  const result = {
    params: load(template.params, 'params'),
    state: load(template.state, 'state'),
    optState: { step: Number(metadata.optimizerStep), slots },
    step: Number(metadata.step),
    meta: JSON.parse(metadata.meta ?? '{}'),
  };
  // the templates were only shape guides
  tree.dispose([template.params, template.state, template.optState.slots]);
  return result;
}
