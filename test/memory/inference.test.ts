/**
 * Inference frees intermediates as it goes: after an eval-mode forward (no gradient trace), the only
 * new live tensors are the outputs and the returned state. Under a trace nothing is freed early.
 */
import { describe, expect, it } from 'vitest';
import { memory, rand, random, tidy, tree, valueAndGrad, sum } from '../../src/node';
import { u2net } from '../../src/models/u2net/model';
import { resnet } from '../../src/models/resnet';

describe('inference memory', () => {
  it('U²-NetP eval forward leaves only its 7 maps alive', () => {
    const model = u2net({ model: 'u2netp' });
    const { params, state } = model.init(random.key(0));
    const x = rand(random.key(1), [1, 3, 40, 36]);
    tidy(() => {
      const before = memory().liveTensors;
      const r = model.apply(params, state, x, { training: false });
      expect(tree.tensors(r.state)).toEqual(tree.tensors(state)); // eval mode hands the same state tensors back
      expect(memory().liveTensors - before).toBe(r.logits.length);
    });
    tree.dispose([params, state, x]);
  });

  it('ResNet-18 eval features keep only the four stage maps and the pooled features', () => {
    const model = resnet({ model: 'resnet18', planes: [8, 16, 16, 16] } as any);
    const { params, state } = model.init(random.key(0));
    const x = rand(random.key(1), [2, 3, 32, 32]);
    tidy(() => {
      const before = memory().liveTensors;
      const f = model.features(params, state, x, { training: false });
      // y is a flatten of the global pool: 2 tensors
      expect(memory().liveTensors - before).toBe(f.stages.length + 2);
    });
    tree.dispose([params, state, x]);
  });

  it('ResNet-50 (Keras layout) features({ stages: 2 }) keep only two stage maps and the pooled features', () => {
    const model = resnet({ model: 'resnet50', planes: [8, 8, 8, 8], strideIn1x1: true, convBias: true, bnEps: 1e-3 });
    const { params, state } = model.init(random.key(0));
    const x = rand(random.key(1), [2, 3, 32, 32]);
    tidy(() => {
      const before = memory().liveTensors;
      const f = model.features(params, state, x, { training: false }, { stages: 2 });
      expect(f.stages.length).toBe(2);
      expect(memory().liveTensors - before).toBe(2 + 2);
    });
    tree.dispose([params, state, x]);
  });

  it('under a gradient trace intermediates stay alive and gradients are right', () => {
    const model = u2net({ model: 'u2netp' });
    const { params, state } = model.init(random.key(0));
    const x = rand(random.key(1), [1, 3, 24, 24]);
    const [v, g] = tidy(() => valueAndGrad((t: typeof x) => sum(model.apply(params, state, t, { training: false }).logits[0]))(x));
    expect(g.shape).toEqual([1, 3, 24, 24]);
    tree.dispose([params, state, x, v, g]);
  });
});
