/**
 * The network of `webgrad train-segmentation`: d2l's FCN (`fcn`) on a ResNet-50 in the Keras layout cut
 * after K stages, with the ImageNet weights or from scratch, and the Keras 'caffe' input preprocessing in
 * both cases. Besides the FCN end to end, it offers the two halves apart — `features` (the backbone, eval
 * mode) and `head` (the FCN's 1×1 classifier and transposed convolution) — so that a frozen backbone's
 * features can be computed once per image and the head trained on them.
 */
import type { Key } from '../base/random';
import type { Tensor } from '../tensor/tensor';
import { pretrainedResNet50 } from '../io/pretrained-resnet50';
import { preprocessKerasResNet } from '../models/keras-preprocess';
import { disposeUnlessTraced as drop } from '../nn/dispose';
import type { Ctx, Params, State } from '../nn/module';
import { KERAS_RESNET50_CONFIG, resnet } from '../models/resnet';
import { fcn, type FcnModel } from '../segmentation/fcn';
import * as tree from '../tensor/tree';

/** What {@link segmentationNetwork} builds. */
export interface SegmentationNetwork {
  /** The FCN (its `backbone`, `stride`, `featureChannels`). */
  fcn: FcnModel;
  /** `backbone` (torchvision keys, the kept stages only), `classifier`, `upsample`. */
  params: Params;
  /** The backbone's BatchNorm statistics (`backbone`). */
  state: State;
  /** The last kept stage's features (B, C, H/s, W/s) of [0, 1] RGB images (B, 3, H, W), backbone in eval mode. */
  features(params: Params, state: State, x: Tensor): Tensor;
  /** Logits (B, numClasses, H, W) from those features: the FCN's own {@link FcnModel.head} (classifier and upsampling). */
  head(params: Params, features: Tensor): Tensor;
  /** Logits (B, numClasses, H, W) of [0, 1] RGB images and the new state (the same object when BatchNorm is frozen). */
  apply(params: Params, state: State, x: Tensor, ctx: Ctx): { logits: Tensor; state: State };
}

/** Options of {@link segmentationNetwork}. */
export interface SegmentationNetworkOptions {
  /** Output classes. */
  numClasses: number;
  /** ResNet stages kept (2: stride 8; 3: stride 16). */
  stages: 2 | 3;
  /** The ImageNet weights (BatchNorm statistics then stay fixed); false = torchvision's random initialisation. */
  pretrained: boolean;
  /** Progress lines of the weights' download (first run only). */
  log?: (line: string) => void;
}

export async function segmentationNetwork(o: SegmentationNetworkOptions, key: Key): Promise<SegmentationNetwork> {
  const weights = o.pretrained ? await pretrainedResNet50({ log: o.log }) : null;
  const backbone = weights ? weights.model : resnet(KERAS_RESNET50_CONFIG);
  // a pretrained backbone keeps its BatchNorm statistics (batches of a few images would only spoil them)
  const net = fcn({ numClasses: o.numClasses, backbone, stages: o.stages, freezeBackboneBatchNorm: o.pretrained });
  const { params, state } = net.init(key, weights ? { backbone: weights } : {});
  // the FCN took the stages it uses; the rest of the ImageNet network (later stages, fc) is not needed
  if (weights) {
    const kept = new Set(tree.tensors([params, state]));
    tree.dispose(tree.tensors([weights.params, weights.state]).filter((t) => !kept.has(t)));
  }
  return {
    fcn: net,
    params,
    state,
    features(p, st, x) {
      const input = preprocessKerasResNet(x);
      // eval mode: the backbone's state comes back as it went in (nothing new to free)
      const f = net.features(p, st, input, { training: false }).y;
      drop(input);
      return f;
    },
    head: net.head,
    apply(p, st, x, ctx) {
      const input = preprocessKerasResNet(x);
      const r = net.apply(p, st, input, ctx);
      drop(input);
      return { logits: r.y, state: r.state };
    },
  };
}
