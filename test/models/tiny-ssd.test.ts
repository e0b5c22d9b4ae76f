/**
 * TinySSD: d2l's parameter names and count, the shapes d2l prints for a batch of 32 images of 256²,
 * d2l's flatten_pred/concat_preds order (checked against one predictor conv computed on the host), and
 * bad input.
 */
import { describe, it, expect } from 'vitest';
import { tree, random, tidy, rand, zeros, tensor, type Tensor } from '../../src/node';
import { tinySsd, TINY_SSD_SIZES, TINY_SSD_RATIOS } from '../../src/models/tiny-ssd';
import { refConv2d } from '../../src/tensor/ops/ref/conv';
import type { ConvAttrs } from '../../src/base/conv-args';
import type { RefTensor } from '../../src/base/ref-tensor';

const count = (params: unknown) => tree.tensors(params).reduce((s, t) => s + t.size, 0);

/** d2l's TinySSD parameter count by formula: down-sampling blocks (two biased convs + two BNs each) and the 3×3 predictors. */
function d2lCount(numClasses: number): number {
  const down = (cin: number, cout: number) => cin * cout * 9 + cout + 2 * cout + cout * cout * 9 + cout + 2 * cout;
  const blocks = down(3, 16) + down(16, 32) + down(32, 64) + down(64, 128) + 2 * down(128, 128);
  const heads = [64, 128, 128, 128, 128].reduce((s, cin) => s + cin * 4 * (numClasses + 1) * 9 + 4 * (numClasses + 1) + cin * 16 * 9 + 16, 0);
  return blocks + heads;
}

describe('TinySSD', () => {
  it("has d2l's state_dict keys and parameter count", () => {
    const net = tinySsd({ numClasses: 1 });
    const { params, state } = net.init(random.key(0));
    expect(count(params)).toBe(d2lCount(1));
    const keys = tree.flatten(params).map((l) => l.path);
    const down = (p: string) => [
      `${p}.0.weight`,
      `${p}.0.bias`,
      `${p}.1.weight`,
      `${p}.1.bias`,
      `${p}.3.weight`,
      `${p}.3.bias`,
      `${p}.4.weight`,
      `${p}.4.bias`,
    ];
    const want = [
      ...down('blk_0.0'),
      ...down('blk_0.1'),
      ...down('blk_0.2'),
      ...down('blk_1'),
      ...down('blk_2'),
      ...down('blk_3'),
      ...[0, 1, 2, 3, 4].flatMap((i) => [`cls_${i}.weight`, `cls_${i}.bias`, `bbox_${i}.weight`, `bbox_${i}.bias`]),
    ];
    expect([...keys].sort()).toEqual([...want].sort());
    const stateKeys = tree.flatten(state).map((l) => l.path);
    expect(stateKeys).toContain('blk_0.2.4.running_var');
    expect(stateKeys).toContain('blk_3.1.num_batches_tracked');
    expect(stateKeys).toHaveLength(6 * 2 * 3);
    const shapes = Object.fromEntries(tree.flatten(params).map((l) => [l.path, [...(l.value as Tensor).shape]]));
    expect(shapes['blk_0.0.0.weight']).toEqual([16, 3, 3, 3]);
    expect(shapes['blk_1.3.weight']).toEqual([128, 128, 3, 3]);
    expect(shapes['cls_0.weight']).toEqual([8, 64, 3, 3]);
    expect(shapes['bbox_4.weight']).toEqual([16, 128, 3, 3]);
    tree.dispose([params, state]);
    // 3 classes: only the class predictors grow
    const three = tinySsd({ numClasses: 3 }).init(random.key(1));
    expect(count(three.params)).toBe(d2lCount(3));
    tree.dispose(three);
  });

  it("d2l's printed example: 32 images of 256² give class preds (32, 5444, 2) and bbox preds (32, 21776)", () => {
    const net = tinySsd({ numClasses: 1 });
    expect(net.sizes).toEqual(TINY_SSD_SIZES);
    expect(net.ratios).toEqual(TINY_SSD_RATIOS);
    expect(net.anchorsPerPixel).toEqual([4, 4, 4, 4, 4]);
    expect(net.featureSizes(256, 256)).toEqual([
      [32, 32],
      [16, 16],
      [8, 8],
      [4, 4],
      [1, 1],
    ]);
    expect(net.numAnchors(256, 256)).toBe(5444);
    const { params, state } = net.init(random.key(0));
    const shapes = tidy(() => {
      const out = net.apply(params, state, zeros([32, 3, 256, 256]), { training: false });
      return { cls: out.clsPreds.shape, bbox: out.bboxPreds.shape, sizes: out.featureSizes };
    });
    expect(shapes.cls).toEqual([32, 5444, 2]);
    expect(shapes.bbox).toEqual([32, 21776]);
    expect(shapes.sizes).toEqual(net.featureSizes(256, 256));
    tree.dispose([params, state]);
  }, 120_000);

  it("orders predictions as d2l's flatten_pred/concat_preds: scale, then pixel (row-major), then anchor, then class", async () => {
    // With every BatchNorm weight 0 (eval mode), each block's output is relu(its last BN's bias), a constant per
    // channel; the 3×3 predictors on such a map differ only through the zero padding (corners, edges, inside),
    // which pins the pixel order. The host recomputes every predictor with the float64 conv reference.
    const net = tinySsd({ numClasses: 2 });
    const built = net.init(random.key(3));
    const betas = new Map<string, Float64Array>();
    const params = tree.map(built.params, (t: Tensor, path: string) => {
      if (!/\.[14]\.(weight|bias)$/.test(path)) return t;
      const c = t.shape[0];
      t.dispose();
      if (path.endsWith('weight')) return zeros([c]);
      const b = Float64Array.from({ length: c }, (_, k) => 0.1 + ((k * 37) % 11) / 10);
      betas.set(path, b);
      return tensor(Array.from(b));
    });
    const x = rand(random.key(4), [2, 3, 64, 64]);
    const out = net.apply(params, built.state, x, { training: false });
    expect(out.featureSizes).toEqual([
      [8, 8],
      [4, 4],
      [2, 2],
      [1, 1],
      [1, 1],
    ]);
    const A = net.numAnchors(64, 64);
    expect(A).toBe((64 + 16 + 4 + 1 + 1) * 4);
    expect(out.clsPreds.shape).toEqual([2, A, 3]);
    expect(out.bboxPreds.shape).toEqual([2, A * 4]);
    const cls = await out.clsPreds.data();
    const box = await out.bboxPreds.data();
    const host = async (t: Tensor): Promise<RefTensor> => ({ shape: [...t.shape], dtype: 'float32', data: Float64Array.from(await t.data()) });
    const conv = { stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1], groups: 1 } as ConvAttrs;
    const featureBias = ['blk_0.2.4.bias', 'blk_1.4.bias', 'blk_2.4.bias', 'blk_3.4.bias', 'blk_3.4.bias'];
    const wantCls: number[] = [],
      wantBox: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [h, w] = out.featureSizes[i];
      const beta = betas.get(featureBias[i])!;
      const feature: RefTensor = {
        shape: [1, beta.length, h, w],
        dtype: 'float32',
        data: Float64Array.from({ length: beta.length * h * w }, (_, k) => Math.max(0, beta[Math.floor(k / (h * w))])),
      };
      for (const [name, want] of [
        [`cls_${i}`, wantCls],
        [`bbox_${i}`, wantBox],
      ] as const) {
        const p = params[name] as { weight: Tensor; bias: Tensor };
        const y = refConv2d(feature, await host(p.weight), await host(p.bias), conv);
        const C = y.shape[1];
        // channels last, pixels row-major
        for (let pix = 0; pix < h * w; pix++) for (let c = 0; c < C; c++) want.push(y.data[c * h * w + pix]);
      }
    }
    // both images see the same constant features
    const perImageCls = cls.length / 2,
      perImageBox = box.length / 2;
    expect(wantCls).toHaveLength(perImageCls);
    expect(wantBox).toHaveLength(perImageBox);
    for (let b = 0; b < 2; b++) {
      wantCls.forEach((v, k) => expect(cls[b * perImageCls + k]).toBeCloseTo(v, 4));
      wantBox.forEach((v, k) => expect(box[b * perImageBox + k]).toBeCloseTo(v, 4));
    }
    tree.dispose([out.clsPreds, out.bboxPreds, out.state, params, built.state, x]);
  });

  it('bad configuration and input: one-line errors naming the function and argument', () => {
    expect(() => tinySsd({ numClasses: 0 })).toThrow(/^tinySsd: argument 'numClasses' is 0; expected an integer ≥ 1/);
    expect(() => tinySsd({ numClasses: 1, sizes: [[0.2]] })).toThrow(/^tinySsd: argument 'sizes' is \[\[0.2\]\]; expected five non-empty lists/);
    expect(() => tinySsd({ numClasses: 1, foo: 1 } as never)).toThrow(/^tinySsd: argument 'config' has unknown key 'foo'/);
    const net = tinySsd({ numClasses: 1 });
    const { params, state } = net.init(random.key(0));
    const small = zeros([1, 3, 32, 32]);
    expect(() => net.apply(params, state, small, { training: false })).toThrow(
      /^tinySsd\.apply: argument 'x' has shape \[1, 3, 32, 32\]; expected \(B, 3, H, W\) with H, W ≥ 64/,
    );
    small.dispose();
    tree.dispose([params, state]);
  });
});
