/**
 * d2l's FCN over the library's ResNet (src/segmentation/fcn.ts): parameter paths and shapes, the
 * bilinear initialisation of the upsampler, the forward against the same computation written out
 * from a full ResNet's stage maps, pretrained backbone weights taken by reference, input errors, and
 * training steps with the backbone frozen through the optimizer's parameter groups (backbone
 * unchanged, loss down, no GPU memory left behind).
 */
import { describe, it, expect } from 'vitest';
import {
  conv2d,
  convTranspose2d,
  crossEntropy,
  optim,
  rand,
  randint,
  random,
  tidy,
  tree,
  valueAndGrad,
  type Params,
  type State,
  type Tensor,
} from '../../src/node';
import { KERAS_RESNET50_CONFIG, type ResNetConfig, resnet } from '../../src/models/resnet';
import { fcn } from '../../src/segmentation/fcn';
import { bilinearKernel } from '../../src/segmentation/bilinear-kernel';
import { trainStepsWithoutLeak } from '../helpers/train-steps';

/** A narrow ResNet-18 (same structure and keys, fewer channels) keeps the tests fast on lavapipe. */
const SMALL: ResNetConfig = { model: 'resnet18', planes: [8, 16, 32, 64] };

const paths = (t: unknown) => tree.flatten(t).map((l) => l.path);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('fcn', () => {
  it('strides and channels: d2l’s default (ResNet-18, 4 stages) is stride 32 with 512 channels; ResNet-50 to layer3 16 and 1024, to layer2 8 and 512', () => {
    const d = fcn({ numClasses: 21 });
    expect([d.stride, d.featureChannels, d.config.stages]).toEqual([32, 512, 4]);
    const r50 = fcn({ numClasses: 19, backbone: { model: 'resnet50' }, stages: 3 });
    expect([r50.stride, r50.featureChannels]).toEqual([16, 1024]);
    expect(fcn({ numClasses: 2, stages: 1 }).stride).toBe(4);
    // the Keras ImageNet ResNet-50 (the pretrained backbone) as a built model
    const keras = fcn({ numClasses: 19, backbone: resnet(KERAS_RESNET50_CONFIG), stages: 2 });
    expect([keras.stride, keras.featureChannels]).toEqual([8, 512]);
  });

  it('parameter paths: torchvision keys under backbone. (no fc, no stage past `stages`), classifier and upsample; upsample starts bilinear', async () => {
    const net = fcn({ numClasses: 5, backbone: SMALL, stages: 3 });
    const { params, state } = net.init(random.key(0));
    const p = paths(params);
    expect(p).toContain('backbone.conv1.weight');
    expect(p).toContain('backbone.layer3.1.bn2.bias');
    expect(p).toContain('backbone.layer2.0.downsample.0.weight');
    expect(p.filter((k) => k.startsWith('backbone.layer4') || k.startsWith('backbone.fc'))).toEqual([]);
    expect(p.filter((k) => !k.startsWith('backbone.'))).toEqual(['classifier.weight', 'classifier.bias', 'upsample.weight', 'upsample.bias']);
    expect(paths(state)).toContain('backbone.layer3.1.bn2.running_var');
    expect(paths(state).some((k) => k.startsWith('backbone.layer4'))).toBe(false);
    const P = params as { classifier: Record<string, Tensor>; upsample: Record<string, Tensor> };
    expect(P.classifier.weight.shape).toEqual([5, 32, 1, 1]);
    expect(P.upsample.weight.shape).toEqual([5, 5, 32, 32]);
    expect(P.upsample.bias.shape).toEqual([5]);
    const b = bilinearKernel(5, 5, 32);
    expect([...(await P.upsample.weight.data())]).toEqual([...(await b.data())]);
    b.dispose();
    tree.dispose(params);
    tree.dispose(state);
  });

  it('forward = 1×1 conv then the transposed conv, on the K-th stage map of the full ResNet; logits at the input size', async () => {
    for (const stages of [2, 4] as const) {
      const backbone = resnet({ ...SMALL });
      const full = backbone.init(random.key(1));
      const net = fcn({ numClasses: 3, backbone, stages });
      const { params, state } = net.init(random.key(2), { backbone: full });
      // the backbone's tensors are the given ones, not copies
      expect((params.backbone as Params).conv1).toBe(full.params.conv1);
      const x = rand(random.key(3), [2, 3, 64, 96]);
      const { y } = net.apply(params, state, x, { training: false });
      expect(y.shape).toEqual([2, 3, 64, 96]);
      const s = net.stride;
      const want = tidy(() => {
        const f = backbone.features(full.params, full.state, x, { training: false });
        const c = params.classifier as Record<string, Tensor>,
          u = params.upsample as Record<string, Tensor>;
        return convTranspose2d(conv2d(f.stages[stages - 1], c.weight, { bias: c.bias }), u.weight, { bias: u.bias, stride: s, padding: s / 2 });
      });
      expect(maxAbsDiff(await y.data(), await want.data()), `stages ${stages}`).toBeLessThan(1e-5);
      for (const t of [x, y, want, params.classifier, params.upsample]) tree.dispose(t);
      tree.dispose(full);
    }
  });

  it('features then head = apply: the last kept stage at stride s, and the head alone on it (no backbone entries needed)', async () => {
    const net = fcn({ numClasses: 3, backbone: SMALL, stages: 3 });
    const { params, state } = net.init(random.key(10));
    const x = rand(random.key(11), [2, 3, 32, 48]);
    const whole = net.apply(params, state, x, { training: false });
    const f = net.features(params, state, x, { training: false });
    expect(f.y.shape).toEqual([2, net.featureChannels, 2, 3]);
    const stage3 = tidy(() => net.backbone.features(params.backbone as Params, state.backbone as State, x, { training: false }, { stages: 3 }).stages[2]);
    expect(maxAbsDiff(await f.y.data(), await stage3.data())).toBeLessThan(1e-6);
    const y = net.head({ classifier: params.classifier, upsample: params.upsample }, f.y);
    expect(y.shape).toEqual([2, 3, 32, 48]);
    expect(maxAbsDiff(await y.data(), await whole.y.data())).toBeLessThan(1e-6);
    // the untrained head upsamples bilinearly: not the identity on the class maps, so this compares something
    expect(maxAbsDiff(await y.data(), new Float32Array(y.size))).toBeGreaterThan(0);
    for (const t of [params, state, x, whole.y, whole.state, f.y, f.state, stage3, y]) tree.dispose(t);
  });

  it('freezeBackboneBatchNorm: in training the backbone normalises with its running statistics (as in evaluation)', async () => {
    const frozen = fcn({ numClasses: 3, backbone: SMALL, stages: 2, freezeBackboneBatchNorm: true });
    const plain = fcn({ numClasses: 3, backbone: SMALL, stages: 2 });
    const { params, state } = frozen.init(random.key(7));
    const x = rand(random.key(8), [2, 3, 32, 32]);
    const [ft, fe, pt] = [
      frozen.apply(params, state, x, { training: true }),
      frozen.apply(params, state, x, { training: false }),
      plain.apply(params, state, x, { training: true }),
    ];
    expect(ft.state).toBe(state);
    const [a, b, c] = [await ft.y.data(), await fe.y.data(), await pt.y.data()];
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3); // batch statistics differ from the initial running ones
    for (const t of [params, state, x, ft.y, fe.y, pt.y, pt.state]) tree.dispose(t);
  });

  it('bad input: one-line errors', () => {
    expect(() => fcn({ numClasses: 0 })).toThrow(/fcn: argument 'numClasses' is 0/);
    expect(() => fcn({ numClasses: 2, stages: 5 as 4 })).toThrow(/fcn: argument 'stages' is 5/);
    const net = fcn({ numClasses: 2, backbone: SMALL, stages: 2 });
    const { params, state } = net.init(random.key(0));
    const x = rand(random.key(0), [1, 3, 20, 16]);
    expect(() => net.apply(params, state, x, { training: false })).toThrow(
      /fcn.apply: argument 'x' has shape \[1, 3, 20, 16\].*multiples of the output stride 8/,
    );
    expect(() => net.features(params, state, x, { training: false })).toThrow(/fcn.features: argument 'x' has shape \[1, 3, 20, 16\]/);
    const wrong = rand(random.key(0), [1, 5, 2, 2]);
    expect(() => net.head(params, wrong)).toThrow(/fcn.head: argument 'features' has shape \[1, 5, 2, 2\].*\(B, 16, h, w\)/);
    wrong.dispose();
    expect(() => net.init(random.key(0), { backbone: { params: { conv1: {} } as Params, state: {} } })).toThrow(
      /fcn.init: argument 'options.backbone.params' has no layer1/,
    );
    for (const t of [params, state, x]) tree.dispose(t);
  });

  it('differential learning rates by path prefix: backbone ×0.1, head at the base rate (the optimizers’ groups suffice)', () => {
    const net = fcn({ numClasses: 2, backbone: SMALL, stages: 1 });
    const { params, state } = net.init(random.key(9));
    const opt = optim.sgd({ lr: 0.01, momentum: 0.9, groups: [{ match: 'backbone', lrScale: 0.1 }] });
    const st = opt.init(params);
    expect(opt.learningRate(st, 'backbone.layer1.0.conv1.weight')).toBeCloseTo(0.001, 12);
    expect(opt.learningRate(st, 'classifier.weight')).toBe(0.01);
    expect(opt.learningRate(st, 'upsample.bias')).toBe(0.01);
    for (const t of [params, state, st.slots]) tree.dispose(t);
  });

  it('training with a frozen backbone (parameter group) and frozen BatchNorm: backbone untouched, loss falls, memory flat', async () => {
    const net = fcn({ numClasses: 4, backbone: SMALL, stages: 2, freezeBackboneBatchNorm: true });
    const init = net.init(random.key(4));
    let params = init.params;
    const state = init.state;
    const opt = optim.adam({ lr: 0.01, groups: [{ match: 'backbone', frozen: true }] });
    let optState = opt.init(params);
    expect(Object.keys(optState.slots).sort()).toEqual(['classifier.bias', 'classifier.weight', 'upsample.bias', 'upsample.weight']);
    const x = rand(random.key(5), [2, 3, 32, 32]);
    const target = randint(random.key(6), [2, 32, 32], 0, 4);
    const backboneBefore = await (params.backbone as { conv1: { weight: Tensor } }).conv1.weight.data();
    const meanBefore = await ((state.backbone as State).bn1 as Record<string, Tensor>).running_mean.data();
    const step = valueAndGrad((p: Params) => {
      const out = net.apply(p, state, x, { training: true });
      expect(out.state).toBe(state);
      return crossEntropy(out.y, target, { ignoreIndex: 255 });
    });
    const losses = await trainStepsWithoutLeak(6, () => {
      const r = tidy(() => {
        const [loss, grads] = step(params) as [Tensor, Params];
        const u = opt.update(grads, optState, params, { donate: true });
        return { loss, params: u.params, optState: u.state };
      });
      ({ params, optState } = r);
      return r.loss;
    });
    expect(losses[5]).toBeLessThan(losses[0]);
    expect([...(await (params.backbone as { conv1: { weight: Tensor } }).conv1.weight.data())]).toEqual([...backboneBefore]);
    expect([...(await ((state.backbone as State).bn1 as Record<string, Tensor>).running_mean.data())]).toEqual([...meanBefore]);
    for (const t of [params, state, optState.slots, x, target]) tree.dispose(t);
  });
});
