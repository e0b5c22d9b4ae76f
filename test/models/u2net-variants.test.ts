/** Compact U²-Net variants initialised from a standard model (the write-up's averaging rules). */
import { describe, it, expect, beforeAll } from 'vitest';
import { random, tree, type Tensor } from '../../src/node';
import { u2net } from '../../src/models/u2net/model';
import { convertU2netVariant } from '../../src/models/u2net/variants';

const leaf = (t: unknown, path: string) => tree.flatten(t).find((l) => l.path === path)!.value as Tensor;

describe('U²-Net variant conversion', () => {
  let std: { params: any; state: any };
  beforeAll(() => {
    std = u2net({ model: 'u2netp' }).init(random.key(0));
  });

  it('grouped: adjacent input-channel pairs averaged; the tree fits the grouped model', async () => {
    const g = convertU2netVariant(std.params as any, 'grouped');
    const shapes = (t: unknown) => tree.flatten(t).map((l) => [l.path, [...(l.value as Tensor).shape]]);
    const fresh = u2net({ model: 'u2netp', variant: 'grouped' }).init(random.key(1));
    expect(shapes(g)).toEqual(shapes(fresh.params));
    const w = await leaf(std.params, 'stage2.rebnconv1.conv_s1.weight').data(); // [16, 64, 3, 3]
    const wg = await leaf(g, 'stage2.rebnconv1.conv_s1.weight').data(); // [16, 32, 3, 3]
    // o = 3, j = 5, tap 4: mean of input channels 10 and 11
    const at = (o: number, i: number, cin: number, t: number) => (o * cin + i) * 9 + t;
    expect(wg[at(3, 5, 32, 4)]).toBeCloseTo((w[at(3, 10, 64, 4)] + w[at(3, 11, 64, 4)]) / 2, 6);
    // stage1's input conv has 3 channels: it stays standard
    expect(leaf(g, 'stage1.rebnconvin.conv_s1.weight')).toBe(leaf(std.params, 'stage1.rebnconvin.conv_s1.weight'));
    tree.dispose(fresh);
  });

  it('separable: depthwise = mean over outputs (zero bias), pointwise = mean over the window (original bias)', async () => {
    const s = convertU2netVariant(std.params as any, 'separable');
    const fresh = u2net({ model: 'u2netp', variant: 'separable' }).init(random.key(1));
    const shapes = (t: unknown) => tree.flatten(t).map((l) => [l.path, [...(l.value as Tensor).shape]]);
    expect(shapes(s)).toEqual(shapes(fresh.params));
    const w = await leaf(std.params, 'stage3.rebnconv2.conv_s1.weight').data(); // [16, 16, 3, 3]
    const dw = await leaf(s, 'stage3.rebnconv2.conv_s1.depthwise.weight').data(); // [16, 1, 3, 3]
    const pw = await leaf(s, 'stage3.rebnconv2.conv_s1.pointwise.weight').data(); // [16, 16, 1, 1]
    let m = 0;
    for (let o = 0; o < 16; o++) m += w[(o * 16 + 7) * 9 + 2];
    expect(dw[7 * 9 + 2]).toBeCloseTo(m / 16, 6);
    let win = 0;
    for (let t = 0; t < 9; t++) win += w[(4 * 16 + 9) * 9 + t];
    expect(pw[4 * 16 + 9]).toBeCloseTo(win / 9, 6);
    expect(Array.from(await leaf(s, 'stage3.rebnconv2.conv_s1.depthwise.bias').data()).every((v) => v === 0)).toBe(true);
    expect(leaf(s, 'stage3.rebnconv2.conv_s1.pointwise.bias')).toBe(leaf(std.params, 'stage3.rebnconv2.conv_s1.bias'));
    tree.dispose(fresh);
  });
});
