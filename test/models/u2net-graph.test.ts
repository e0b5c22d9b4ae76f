/**
 * U²-Net's layout is written once (src/models/u2net/graph.ts) and every interpreter reads it: the
 * training model's parameters, the folded inference, the ONNX export and the ONNX import all agree
 * with the graph's nodes, for U²-Net and U²-NetP in every variant.
 */
import { describe, expect, it } from 'vitest';
import { random, tree, tensor, tidy, type Tensor } from '../../src/node';
import { u2net, type U2NetName, type U2NetVariant } from '../../src/models/u2net/model';
import { u2netGraph, u2netParameterShapes, runU2NetGraph, U2NET_CONFIG } from '../../src/models/u2net/graph';
import { foldU2NetForInference, disposeFolded } from '../../src/models/u2net/inference';
import { u2netInferenceGraph, exportU2NetOnnx } from '../../src/sod/onnx-export';
import { u2netConvOrder, u2netStateDictFromOnnx } from '../../src/sod/onnx-import';
import { readOnnx } from '../../src/formats/onnx';

const shapes = (t: unknown) => new Map(tree.flatten(t).map(({ path, value }) => [path, [...(value as Tensor).shape]]));

describe('the U²-Net graph', () => {
  it('has the published structure: 119 convs, RSU heights 7…4 / 4F, the dilation rule', () => {
    for (const name of ['u2net', 'u2netp'] as const) {
      const g = u2netGraph({ model: name });
      const convs = g.nodes.filter((n) => n.op === 'rebnconv' || n.op === 'conv');
      expect(convs.length).toBe(119);
      expect(g.outputs.length).toBe(7);
      for (const [stage, [L, , , , dilated]] of Object.entries(U2NET_CONFIG[name].stages)) {
        const enc = g.nodes.filter((n) => n.op === 'rebnconv' && /^rebnconv\d$/.test(n.name.split('.')[1]) && n.name.startsWith(`${stage}.`));
        expect(enc.length, stage).toBe(L);
        const dil = enc.map((n) => (n.op === 'rebnconv' ? n.dilation : 0));
        expect(dil, stage).toEqual(dilated ? [1, 2, 4, 8] : [...Array(L - 1).fill(1), 2]);
        const pools = g.nodes.filter((n) => n.op === 'maxpool' && n.x.startsWith(`${stage}.`));
        expect(pools.length, stage).toBe(dilated ? 0 : L - 2);
      }
    }
  });

  for (const name of ['u2netp', 'u2net'] as U2NetName[]) {
    for (const variant of ['standard', 'grouped', 'separable'] as U2NetVariant[]) {
      it(`${name} ${variant}: the training model's state_dict keys and shapes are the graph's`, () => {
        const model = u2net({ model: name, variant });
        expect(model.graph).toBe(u2netGraph({ model: name }));
        const { params, state } = model.init(random.key(0));
        const want = u2netParameterShapes(model.graph, variant);
        expect([...shapes(params)]).toEqual([...want.params]);
        expect([...shapes(state)]).toEqual([...want.state]);
        tree.dispose([params, state]);
      });
    }
  }

  it('a non-default input/output channel count flows through stage1 and the side convs', () => {
    const g = u2netGraph({ model: 'u2netp', inChannels: 4, outChannels: 2 });
    const first = g.nodes.find((n) => n.op === 'rebnconv')!;
    expect(first.op === 'rebnconv' && first.inChannels).toBe(4);
    const out = g.nodes.at(-1)!;
    expect(out.op === 'conv' && [out.name, out.inChannels, out.outChannels]).toEqual(['outconv', 12, 2]);
  });

  it('frees every intermediate exactly once, after its last reader, never the input or an output', () => {
    const g = u2netGraph({ model: 'u2netp' });
    const freed: string[] = [];
    const seen = new Set<string>();
    const mark = (y: string, ...xs: string[]) => {
      for (const x of xs) expect(seen.has(x) || x === 'input', `${y} reads ${x}`).toBe(true);
      seen.add(y);
      return y;
    };
    const out = runU2NetGraph<string>(g, 'input', {
      rebnconv: (n, xs) => {
        for (const x of xs) expect(freed).not.toContain(x);
        return mark(n.y, ...xs);
      },
      conv: (n, xs) => mark(n.y, ...xs),
      maxpool: (n, x) => mark(n.y, x),
      upsample: (n, x, like) => mark(n.y, x, like),
      add: (n, a, b) => mark(n.y, a, b),
      free: (x) => freed.push(x),
    });
    expect(out).toEqual(g.outputs);
    expect(new Set(freed).size).toBe(freed.length);
    expect(freed.length + out.length).toBe(g.nodes.length); // every value written is either freed or returned
    expect(freed).not.toContain('input');
  });

  it("the ONNX import order, the folded weights and the ONNX export are all the graph's convs, in order", async () => {
    const model = u2net({ model: 'u2netp', variant: 'separable' });
    const { params, state } = model.init(random.key(1));
    const rebnconvs = model.graph.nodes.filter((n) => n.op === 'rebnconv').map((n) => (n.op === 'rebnconv' ? n.name : ''));
    const convNames = model.graph.nodes
      .filter((n) => n.op === 'rebnconv' || n.op === 'conv')
      .map((n) => (n.op === 'rebnconv' || n.op === 'conv' ? n.name : ''));
    // import: one slot per conv node
    expect(u2netConvOrder('u2netp').map((s) => s.path.replace(/\.conv_s1$/, ''))).toEqual(convNames);
    // folded inference: one folded block per REBNCONV, one plain conv per conv node
    const folded = await foldU2NetForInference(model, params, state);
    const foldedNames = Object.entries(folded.params).flatMap(([k, v]) => ('weight' in v ? [k] : Object.keys(v).map((b) => `${k}.${b}`)));
    expect(foldedNames.sort()).toEqual([...convNames].sort());
    disposeFolded(folded, params);
    // export: a depthwise + pointwise conv per REBNCONV (separable), the side convs and the fuse conv
    const g = await u2netInferenceGraph(model, params, state);
    const convOps = g.ops.filter((o) => o.op === 'conv').map((o) => o.y);
    expect(convOps).toEqual(convNames.flatMap((n) => (rebnconvs.includes(n) ? [`${n}.depthwise`, n] : [n])));
    tree.dispose([params, state]);
  }, 60_000);

  it('ONNX export → import round trip gives back the same network (standard U²-NetP)', async () => {
    const model = u2net({ model: 'u2netp' });
    const { params, state } = model.init(random.key(2));
    const x = tensor(
      Float32Array.from({ length: 3 * 24 * 20 }, (_, i) => Math.sin(i)),
      { shape: [1, 3, 24, 20] },
    );
    const before = tidy(() => model.apply(params, state, x, { training: false }).logits[0]);
    const sd = u2netStateDictFromOnnx(readOnnx(await exportU2NetOnnx(model, params, state, { height: 24, width: 20 })), 'u2netp');
    const keys = [...u2netParameterShapes(model.graph).params.keys(), ...u2netParameterShapes(model.graph).state.keys()];
    expect(Object.keys(sd).sort()).toEqual(keys.sort());
    const re = {
      params: tree.map(params, (_t: Tensor, path: string) => tensor(sd[path].data as Float32Array, { shape: sd[path].shape })),
      state: tree.map(state, (t: Tensor, path: string) =>
        path.endsWith('num_batches_tracked') ? t : tensor(sd[path].data as Float32Array, { shape: sd[path].shape }),
      ),
    };
    const after = tidy(() => model.apply(re.params, re.state, x, { training: false }).logits[0]);
    const [a, b] = [await before.data(), await after.data()];
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    expect(m).toBeLessThan(1e-4);
    tree.dispose([re.params, re.state]);
    tree.dispose([params, state, x, before, after]);
  }, 60_000);
});
