/**
 * The data-parallel replica of `webgrad train-u2net`: U²-Net / U²-NetP, Adam with the original's defaults and the
 * fuse conv's learning-rate multiplier, and the training loss of the CLI (the sum of the 7 side outputs' BCE, each a
 * mean over the slice). The batch is `{ image: [n, 3, H, W], mask: [n, 1, H, W] }` (from `assembleBatch`).
 * Settings travel in the module URL (src/cli/replicas/options.ts): `u2netReplicaUrl({ model: 'u2netp', lr: 1e-3 })`.
 */
import { optim, type Tensor } from '../../node';
import type { Key } from '../../base/random';
import { u2net, u2netLoss, type U2NetName, type U2NetVariant } from '../../models/u2net/model';
import { moduleFile, replicaOptions, replicaUrl } from './options';

/** Settings of the U²-Net replica (the CLI's --model, --variant, --lr, --fuse-lr-scale). */
export const U2NET_REPLICA_DEFAULTS = { model: 'u2netp', variant: 'standard', lr: 1e-3, fuseLrScale: 10 };
export type U2netReplicaOptions = typeof U2NET_REPLICA_DEFAULTS;

/** init/optimizer/loss of one U²-Net replica (the shape dp-trainer's `defineReplica` takes). */
export function u2netReplica(o: U2netReplicaOptions) {
  const model = u2net({ model: o.model as U2NetName, variant: o.variant as U2NetVariant });
  return {
    init: (key: Key) => model.init(key),
    // the same optimizer as train-u2net's single-device path
    optimizer: () => optim.adam({ lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, groups: [{ match: 'outconv', lrScale: o.fuseLrScale }] }),
    loss(params: any, state: any, batch: Record<string, Tensor>): [Tensor, { state: any }] {
      const out = model.apply(params, state, batch.image, { training: true });
      return [u2netLoss(out.logits, batch.mask), { state: out.state }];
    },
  };
}

/** This module's URL carrying `options` (what `dataParallel({ replica })` takes, also in worker threads). */
export const u2netReplicaUrl = (options: Partial<U2netReplicaOptions> = {}): URL =>
  replicaUrl(moduleFile(import.meta.url, 'replica-u2net'), { ...U2NET_REPLICA_DEFAULTS, ...options });

/** The settings this module instance was imported with (its URL's query over the defaults). */
export const settings = replicaOptions(import.meta.url, U2NET_REPLICA_DEFAULTS);
export default u2netReplica(settings);
