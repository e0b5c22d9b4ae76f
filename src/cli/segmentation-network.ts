/**
 * The network of `webgrad train-segmentation`: d2l's FCN on a ResNet-50 (Keras layout) cut after K stages,
 * with the ImageNet weights or from scratch, and the Keras 'caffe' input preprocessing in both cases.
 * Split into `features` (the backbone) and `head` (classifier + upsampling) so that a frozen backbone's
 * features can be computed once and the head trained on them.
 */
import type { Key } from '../base/random';
import { conv2d, convTranspose2d, tensor, tidy, tree, type Tensor } from '../node';
import type { Ctx, Params, State } from '../nn/module';
import { KERAS_RESNET50_CONFIG, resnet } from '../models/resnet';
import { kaimingNormal } from '../nn/init';
import { bilinearKernel } from '../segmentation/bilinear-kernel';

/** What {@link segmentationNetwork} builds. */
export interface SegmentationNetwork {
  /** `backbone` (torchvision keys, the kept stages only), `classifier`, `upsample`. */
  params: Params;
  /** The backbone's BatchNorm statistics (`backbone`). */
  state: State;
  /** The last kept stage's features of [0, 1] RGB images (B, 3, H, W), backbone in eval mode. */
  features(params: Params, state: State, x: Tensor): Tensor;
  /** Logits (B, numClasses, H, W) from the features (the classifier and the upsampling only). */
  head(params: Params, features: Tensor): Tensor;
  /** Logits and the new state of [0, 1] RGB images, end to end. */
  apply(params: Params, state: State, x: Tensor, ctx: Ctx): { logits: Tensor; state: State };
}

/** The backbone's keys beyond `stages` (and the ImageNet fc), which the cut network has no use for. */
const unused = (stages: number) => (key: string) => key === 'fc' || (/^layer\d$/.test(key) && Number(key.slice(5)) > stages);

export async function segmentationNetwork(o: { numClasses: number; stages: 2 | 3; pretrained: boolean }, key: Key): Promise<SegmentationNetwork> {
  // PROVISIONAL until seg-fcn's fcn() and pretrained's weights land
  const backbone = resnet(KERAS_RESNET50_CONFIG);
  const full = backbone.init(key);
  const prune = (t: Record<string, unknown>) => {
    const drop = Object.keys(t).filter(unused(o.stages));
    tree.dispose(drop.map((k) => t[k]));
    return Object.fromEntries(Object.entries(t).filter(([k]) => !drop.includes(k)));
  };
  const stride = 2 ** (o.stages + 1);
  const C = o.stages === 2 ? 512 : 1024;
  const K = 2 * stride;
  const params: Params = {
    backbone: prune(full.params as Record<string, unknown>),
    classifier: { weight: kaimingNormal(key, [o.numClasses, C, 1, 1]), bias: tensor(new Float32Array(o.numClasses)) },
    upsample: { weight: bilinearKernel(o.numClasses, o.numClasses, K) },
  } as Params;
  const state: State = { backbone: prune(full.state as Record<string, unknown>) } as State;
  const feats = (p: Params, st: State, x: Tensor, ctx: Ctx) => {
    const f = backbone.features(p.backbone as Params, st.backbone as State, x, ctx, { stages: o.stages });
    return { y: f.stages[o.stages - 1], state: f.state };
  };
  const head = (p: Params, f: Tensor) => {
    const c = conv2d(f, (p.classifier as any).weight, { bias: (p.classifier as any).bias });
    return convTranspose2d(c, (p.upsample as any).weight, { stride, padding: stride / 2 });
  };
  return {
    params,
    state,
    features: (p, st, x) => feats(p, st, x, { training: false }).y,
    head,
    apply: (p, st, x, ctx) => {
      const f = feats(p, st, x, ctx);
      return { logits: head(p, f.y), state: { backbone: f.state } as State };
    },
  };
}
