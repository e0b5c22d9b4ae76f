/**
 * The training CLI's network: its two halves (the preprocessed images' backbone features, then the FCN's head on
 * them — the frozen-backbone path that caches features) give the FCN's own logits, with the FCN's parameter names,
 * and leave no GPU memory behind.
 */
import { describe, expect, it } from 'vitest';
import { init, random, rand, tidy, tree, memory } from '../../src/node';
import { segmentationNetwork } from '../../src/cli/segmentation-network';

describe('train-segmentation network', () => {
  it('head(features(x)) equals the FCN applied end to end (eval mode), with the FCN parameters', async () => {
    await init();
    const before = memory().liveTensors;
    const net = await segmentationNetwork({ numClasses: 19, stages: 2, pretrained: false }, random.key(3));
    expect(Object.keys(net.params).sort()).toEqual(['backbone', 'classifier', 'upsample']);
    expect(Object.keys(net.params.backbone as object).sort()).toEqual(['bn1', 'conv1', 'layer1', 'layer2']);
    // the classifier's bias starts random (PyTorch's default init): make the head's output non-trivial anyway
    const x = rand(random.key(1), [2, 3, 32, 64]);
    const [whole, halves, f] = tidy(() => {
      const a = net.apply(net.params, net.state, x, { training: false }).logits;
      const feats = net.features(net.params, net.state, x);
      return [a, net.head(net.params, feats), feats];
    });
    expect(f.shape).toEqual([2, 512, 4, 8]);
    expect(whole.shape).toEqual([2, 19, 32, 64]);
    const [a, b] = [await whole.data(), await halves.data()];
    let worst = 0,
      scale = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(a[i]));
    }
    expect(scale).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(1e-5 * scale);
    tree.dispose([whole, halves, f, x, net.params, net.state]);
    // only the preprocessing's mean stays (one tensor, made once)
    expect(memory().liveTensors - before).toBeLessThanOrEqual(1);
  }, 120_000);
});
