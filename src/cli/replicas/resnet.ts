/**
 * The data-parallel replica of examples/finetune-resnet.ts: a torchvision-layout ResNet, SGD (momentum) or Adam
 * with StepLR and the example's parameter groups (phase 1: only the head trains, the backbone is a frozen group;
 * phase 2: the head learns `headLrScale` times faster), and its loss (cross-entropy with optional label smoothing,
 * a mean over the slice). The batch is `{ image: [n, 3, S, S] (normalised), label: [n] (int32) }`.
 * Settings travel in the module URL (src/cli/replicas/options.ts): `resnetReplicaUrl({ numClasses: 10, lr: 0.01 })`.
 * Unlike the example's single-device phase 1 (which differentiates only the head), the replica computes the whole
 * gradient and the frozen group leaves the backbone untouched: the same update, more work.
 */
import { crossEntropy, optim, schedules, type Tensor } from '../../node';
import type { Key } from '../../base/random';
import { isResNetHead, resnet, type ResNetName } from '../../models/resnet';
import { moduleFile, replicaOptions, replicaUrl } from './options';

/** Settings of the ResNet replica (the example's model, optimizer and loss options). */
export const RESNET_REPLICA_DEFAULTS = {
  model: 'resnet18',
  /** stage widths, or null for torchvision's 64,128,256,512 */
  planes: null as number[] | null,
  numClasses: 1000,
  strideIn1x1: false,
  convBias: false,
  bnEps: 1e-5,
  optimizer: 'sgd',
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 1e-4,
  /** StepLR period in optimizer steps, and its factor */
  stepSize: 1_000_000,
  gamma: 0.1,
  labelSmoothing: 0,
  /** 1: head only (backbone frozen); 2: everything, head ×headLrScale */
  phase: 2,
  headLrScale: 1,
};
export type ResnetReplicaOptions = typeof RESNET_REPLICA_DEFAULTS;

/** init/optimizer/loss of one ResNet replica (the shape dp-trainer's `defineReplica` takes). */
export function resnetReplica(o: ResnetReplicaOptions) {
  const model = resnet({
    model: o.model as ResNetName,
    planes: (o.planes ?? undefined) as [number, number, number, number] | undefined,
    numClasses: o.numClasses,
    strideIn1x1: o.strideIn1x1,
    convBias: o.convBias,
    bnEps: o.bnEps,
  });
  return {
    init: (key: Key) => model.init(key),
    optimizer() {
      const lr = schedules.stepLR(o.lr, { stepSize: o.stepSize, gamma: o.gamma });
      const groups = o.phase === 1 ? [{ match: isResNetHead }, { match: () => true, frozen: true }] : [{ match: isResNetHead, lrScale: o.headLrScale }];
      return o.optimizer === 'adam'
        ? optim.adam({ lr, weightDecay: o.weightDecay, groups })
        : optim.sgd({ lr, momentum: o.momentum, weightDecay: o.weightDecay, groups });
    },
    loss(params: any, state: any, batch: Record<string, Tensor>): [Tensor, { state: any }] {
      const out = model.apply(params, state, batch.image, { training: true });
      return [crossEntropy(out.y, batch.label, { labelSmoothing: o.labelSmoothing }), { state: out.state }];
    },
  };
}

/** This module's URL carrying `options` (what `dataParallel({ replica })` takes, also in worker threads). */
export const resnetReplicaUrl = (options: Partial<ResnetReplicaOptions> = {}): URL =>
  replicaUrl(moduleFile(import.meta.url, 'replica-resnet'), { ...RESNET_REPLICA_DEFAULTS, ...options });

/** The settings this module instance was imported with (its URL's query over the defaults). */
export const settings = replicaOptions(import.meta.url, RESNET_REPLICA_DEFAULTS);
export default resnetReplica(settings);
