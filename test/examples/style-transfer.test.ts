/** The style-transfer loop of examples/style-transfer.ts: a few steps at a small size lower the style loss, without leaks. */
import { it, expect } from 'vitest';
import { memory, random, tensor, normalize, type Tensor } from '../../src/node';
import { resnet } from '../../src/models/resnet';
import { styleTransfer } from '../../examples/style-transfer-core';

/** A 1×3×h×w image from a function of (channel, y, x) with values in [0, 1]. */
const image = (h: number, w: number, f: (c: number, y: number, x: number) => number) =>
  tensor(
    Float32Array.from({ length: 3 * h * w }, (_, i) => f(Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w)),
    { shape: [1, 3, h, w] },
  );

it('style transfer: the style loss falls over a few Adam steps (small random ResNet, 32×32), memory flat across steps', async () => {
  // a width-reduced ResNet-18 at random init stands in for the pretrained ResNet-50 (same stages)
  const model = resnet({ model: 'resnet18', planes: [8, 16, 32, 64] });
  const { params, state } = model.init(random.key(0));
  const content = image(32, 32, (c, y, x) => (c === 0 ? y / 31 : c === 1 ? x / 31 : 0.5));
  const style = image(40, 40, (c, y, x) => ((Math.floor(y / 4) + Math.floor(x / 4) + c) % 2 ? 0.9 : 0.1));
  const before = memory().liveTensors;
  const live: number[] = [];
  // no tidy here: under a gradient trace the intermediates belong to the tape (the caller tidies)
  const extract = (x: Tensor) => model.features(params, state, normalize(x), { training: false }, { stages: 3 }).stages;
  const { image: out, history } = await styleTransfer({
    extract,
    content,
    style,
    contentLayers: [1],
    styleLayers: [0, 1, 2],
    weights: { content: 1, style: 1e4, tv: 10 },
    lr: 0.05,
    lrStepSize: 50,
    lrGamma: 0.8,
    steps: 8,
    onStep: () => {
      live.push(memory().liveTensors);
    },
  });
  if (process.env.STYLE_DEBUG) console.log(history);
  expect(history).toHaveLength(8);
  expect(history.every((l) => Number.isFinite(l.total) && Number.isFinite(l.style))).toBe(true);
  expect(history[0].content).toBe(0); // d2l's init: the content image itself
  expect(history[7].style).toBeLessThan(history[0].style * 0.7);
  expect(history[7].total).toBeLessThan(history[0].total);
  expect(out.shape).toEqual([1, 3, 32, 32]);
  const px = await out.data();
  expect(Math.min(...px)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...px)).toBeLessThanOrEqual(1);
  out.dispose();
  expect(new Set(live).size, `live tensors after each step: ${live}`).toBe(1); // nothing piles up across steps
  expect(memory().liveTensors).toBe(before);
}, 120_000);
