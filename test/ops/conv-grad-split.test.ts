/** Split-K grad-weight (src/tensor/ops/conv.ts dwSplit): chosen for tall outputs, frees its partial slabs. */
import { describe, it, expect } from 'vitest';
import { init, tensor, memory } from '../../src/node';
import { conv2dGradWeightOp, dwSplit } from '../../src/tensor/ops/conv';
import type { ConvAttrs } from '../../src/base/conv-args';

describe('conv2dGradWeight split-K', () => {
  it('splits a 3×3 16→16 @64² case and leaves no memory behind', async () => {
    await init();
    const g = { N: 1, C: 16, H: 64, W: 64, O: 16, OH: 64, OW: 64, kH: 3, kW: 3, sH: 1, sW: 1, dH: 1, dW: 1, pT: 1, pL: 1, G: 1, Cg: 16, Og: 16 };
    expect(dwSplit(g, 8)).toBeGreaterThan(1);
    const a: ConvAttrs = { stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1], groups: 1 };
    const x = tensor(
      Float32Array.from({ length: 16 * 64 * 64 }, (_, i) => Math.sin(i)),
      { shape: [1, 16, 64, 64] },
    );
    const dy = tensor(
      Float32Array.from({ length: 16 * 64 * 64 }, (_, i) => Math.cos(i * 0.7)),
      { shape: [1, 16, 64, 64] },
    );
    // outside tidy: only the op's own bookkeeping can free the partial slabs
    const step = () => conv2dGradWeightOp.call1([x, dy], { ...a, kSize: [3, 3] }).dispose();
    step();
    const before = memory().liveBytes;
    for (let i = 0; i < 3; i++) step();
    expect(memory().liveBytes).toBe(before);
    x.dispose();
    dy.dispose();
  });
});
