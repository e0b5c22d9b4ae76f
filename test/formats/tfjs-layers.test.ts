/**
 * TF.js Layers reader (model.json + shards) and the Keras ResNet-50 → torchvision mapping, on hand-made
 * files: byte layout across shards, dtypes, bounds, errors; names, HWIO → OIHW, [in, out] → [out, in],
 * and the configuration read from the topology.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseTfjsLayersModel, readTfjsLayersWeights, TfjsLayersError, type TfjsLayer } from '../../src/formats/tfjs-layers';
import { kerasResNet50Config, kerasResNet50StateDict, kerasResNetKey, KerasResNetError } from '../../src/formats/keras-resnet';
import { HostTensor } from '../../src/formats/host-tensor';

const le = (arr: Float32Array | Int32Array) => new Uint8Array(arr.buffer.slice(0));

/** A model.json object with the given weights in one group over `paths`. */
const modelJson = (weights: object[], paths = ['g1-shard1of1.bin'], layers: object[] = []) => ({
  format: 'layers-model',
  generatedBy: 'keras v2.2.4-tf',
  modelTopology: { model_config: { class_name: 'Model', config: { name: 'm', layers } } },
  weightsManifest: [{ paths, weights }],
});

describe('TF.js Layers reader', () => {
  it('reads weights in manifest order, concatenated across shards that split a tensor', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), (a, b, cut) => {
        const w1 = Float32Array.from({ length: a * b }, (_, i) => i * 0.5 - 3);
        const w2 = Int32Array.from({ length: b }, (_, i) => -i * 7);
        const all = new Uint8Array([...le(w1), ...le(w2)]);
        const at = Math.min(cut * 4 - 1, all.length - 1); // an unaligned cut inside the data
        const m = parseTfjsLayersModel(
          JSON.stringify(
            modelJson(
              [
                { name: 'dense/kernel', shape: [a, b], dtype: 'float32' },
                { name: 'steps', shape: [b], dtype: 'int32' },
              ],
              ['s1', 's2'],
            ),
          ),
        );
        const got = readTfjsLayersWeights(m, (p) => (p === 's1' ? all.slice(0, at) : all.slice(at)));
        expect([...got.keys()]).toEqual(['dense/kernel', 'steps']);
        expect(got.get('dense/kernel')!.shape).toEqual([a, b]);
        expect(Array.from(got.get('dense/kernel')!.data as Float32Array)).toEqual(Array.from(w1));
        expect(got.get('steps')!.dtype).toBe('int32');
        expect(Array.from(got.get('steps')!.data as Int32Array)).toEqual(Array.from(w2));
      }),
      { numRuns: 30 },
    );
  });

  it('parses the topology: class, config, inbound layers', () => {
    const m = parseTfjsLayersModel(
      modelJson(
        [],
        [],
        [
          { name: 'input_1', class_name: 'InputLayer', config: { name: 'input_1' }, inbound_nodes: [] },
          { name: 'conv', class_name: 'Conv2D', config: { name: 'conv', strides: [2, 2] }, inbound_nodes: [[['input_1', 0, 0, {}]]] },
          {
            name: 'add',
            class_name: 'Add',
            config: { name: 'add' },
            inbound_nodes: [
              [
                ['conv', 0, 0, {}],
                ['input_1', 0, 0, {}],
              ],
            ],
          },
        ],
      ),
    );
    expect(m.layers.map((l) => [l.name, l.className, l.inbound])).toEqual([
      ['input_1', 'InputLayer', []],
      ['conv', 'Conv2D', ['input_1']],
      ['add', 'Add', ['conv', 'input_1']],
    ]);
    expect(m.layers[1].config.strides).toEqual([2, 2]);
    expect(m.generatedBy).toBe('keras v2.2.4-tf');
  });

  it('refuses quantised and unsupported dtypes, wrong byte counts and malformed files, naming the weight', () => {
    const read = (weights: object[], bytes: Uint8Array) => readTfjsLayersWeights(parseTfjsLayersModel(modelJson(weights)), () => bytes);
    const f4 = le(new Float32Array(4));
    expect(() => read([{ name: 'w', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 1, min: 0 } }], f4)).toThrow(
      /weight w: quantised \(uint8\) weights are not supported/,
    );
    expect(() => read([{ name: 'w', shape: [2], dtype: 'float16' }], f4)).toThrow(/weight w: dtype 'float16' is not supported; expected float32 or int32/);
    expect(() => read([{ name: 'w', shape: [5], dtype: 'float32' }], f4)).toThrow(/weight w \[5\] needs bytes 0\.\.20; the shards of its group hold 16/);
    expect(() => read([{ name: 'w', shape: [3], dtype: 'float32' }], f4)).toThrow(/accounts for 12 bytes; the shards hold 16/);
    expect(() => read([{ name: 'w', shape: [1.5], dtype: 'float32' }], f4)).toThrow(/weight w has shape \[1\.5\]/);
    expect(() => read([{ name: 'w', shape: [-1], dtype: 'float32' }], f4)).toThrow(TfjsLayersError);
    expect(() =>
      read(
        [
          { name: 'w', shape: [2], dtype: 'float32' },
          { name: 'w', shape: [2], dtype: 'float32' },
        ],
        f4,
      ),
    ).toThrow(/appears twice/);
    expect(() => parseTfjsLayersModel('{"format": "graph-model"}')).toThrow(/format is 'graph-model'/);
    expect(() => parseTfjsLayersModel('not json')).toThrow(/model.json is not JSON/);
    expect(() => parseTfjsLayersModel({ format: 'layers-model' })).toThrow(/no modelTopology/);
    expect(() => parseTfjsLayersModel({ modelTopology: { model_config: { config: { layers: [] } } } })).toThrow(/no weightsManifest/);
  });
});

// ---- Keras ResNet-50 → torchvision ---------------------------------------------------------------

const BLOCKS = [3, 4, 6, 3];
const letter = (j: number) => String.fromCharCode(97 + j);

/** The Keras ResNet-50 layer list (the parts the converter reads). */
function kerasLayers(o: { strideIn1x1: boolean; eps?: number; bias?: boolean }): TfjsLayer[] {
  const L: TfjsLayer[] = [];
  const conv = (name: string, strides = 1) =>
    L.push({ name, className: 'Conv2D', config: { strides: [strides, strides], use_bias: o.bias ?? true }, inbound: [] });
  const bn = (name: string) => L.push({ name, className: 'BatchNormalization', config: { epsilon: o.eps ?? 1e-3 }, inbound: [] });
  conv('conv1', 2);
  bn('bn_conv1');
  BLOCKS.forEach((n, s) => {
    for (let j = 0; j < n; j++) {
      const id = `${s + 2}${letter(j)}`,
        st = s > 0 && j === 0 ? 2 : 1;
      conv(`res${id}_branch2a`, o.strideIn1x1 ? st : 1);
      bn(`bn${id}_branch2a`);
      conv(`res${id}_branch2b`, o.strideIn1x1 ? 1 : st);
      bn(`bn${id}_branch2b`);
      conv(`res${id}_branch2c`);
      bn(`bn${id}_branch2c`);
      if (j === 0) {
        conv(`res${id}_branch1`, st);
        bn(`bn${id}_branch1`);
      }
    }
  });
  L.push({ name: 'fc1000', className: 'Dense', config: { units: 1000 }, inbound: [] });
  return L;
}

/** Tiny stand-in weights under every Keras name (shapes only need the right rank here). */
function kerasWeights(): Map<string, HostTensor> {
  const m = new Map<string, HostTensor>();
  const t = (shape: number[]) =>
    new HostTensor(
      'float32',
      shape,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
    );
  for (const l of kerasLayers({ strideIn1x1: true })) {
    if (l.className === 'Conv2D') {
      m.set(`${l.name}/kernel`, t([1, 1, 2, 3]));
      m.set(`${l.name}/bias`, t([3]));
    } else if (l.className === 'BatchNormalization') for (const f of ['gamma', 'beta', 'moving_mean', 'moving_variance']) m.set(`${l.name}/${f}`, t([3]));
    else {
      m.set('fc1000/kernel', t([2, 3]));
      m.set('fc1000/bias', t([3]));
    }
  }
  return m;
}

describe('Keras ResNet-50 → torchvision keys', () => {
  it('maps names as torchvision lays the network out', () => {
    const cases: [string, string | undefined][] = [
      ['conv1/kernel', 'conv1.weight'],
      ['conv1/bias', 'conv1.bias'],
      ['bn_conv1/gamma', 'bn1.weight'],
      ['bn_conv1/moving_variance', 'bn1.running_var'],
      ['res2a_branch2a/kernel', 'layer1.0.conv1.weight'],
      ['res2a_branch1/bias', 'layer1.0.downsample.0.bias'],
      ['bn2a_branch1/beta', 'layer1.0.downsample.1.bias'],
      ['bn3d_branch2c/moving_mean', 'layer2.3.bn3.running_mean'],
      ['res4f_branch2b/kernel', 'layer3.5.conv2.weight'],
      ['bn5c_branch2b/gamma', 'layer4.2.bn2.weight'],
      ['fc1000/kernel', 'fc.weight'],
      ['fc1000/bias', 'fc.bias'],
      ['res6a_branch2a/kernel', undefined],
      ['res2a_branch2d/kernel', undefined],
      ['bn2a_branch2a/kernel', undefined],
      ['avg_pool/x', undefined],
      ['conv1/kernel/extra', undefined],
    ];
    for (const [k, want] of cases) expect(kerasResNetKey(k), k).toBe(want);
  });

  it('transposes conv kernels HWIO → OIHW and the dense kernel [in, out] → [out, in]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        (H, W, I, O) => {
          const w = kerasWeights();
          const hwio = Float32Array.from({ length: H * W * I * O }, (_, i) => i + 0.25);
          w.set('res3b_branch2b/kernel', new HostTensor('float32', [H, W, I, O], hwio));
          const dense = Float32Array.from({ length: I * O }, (_, i) => -i);
          w.set('fc1000/kernel', new HostTensor('float32', [I, O], dense));
          const sd = kerasResNet50StateDict(w);
          const c = sd['layer2.1.conv2.weight'];
          expect(c.shape).toEqual([O, I, H, W]);
          for (let o = 0; o < O; o++)
            for (let i = 0; i < I; i++)
              for (let h = 0; h < H; h++)
                for (let x = 0; x < W; x++) expect((c.data as Float32Array)[((o * I + i) * H + h) * W + x]).toBe(hwio[((h * W + x) * I + i) * O + o]);
          expect(sd['fc.weight'].shape).toEqual([O, I]);
          for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) expect((sd['fc.weight'].data as Float32Array)[o * I + i]).toBe(dense[i * O + o]);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('every weight maps and every key of the layout is present (53 convs with biases, 53 BNs, fc)', () => {
    const sd = kerasResNet50StateDict(kerasWeights());
    expect(Object.keys(sd).length).toBe(53 * 2 + 53 * 4 + 2);
    const extra = kerasWeights();
    extra.set('res2a_branch2d/kernel', new HostTensor('float32', [1], new Float32Array(1)));
    expect(() => kerasResNet50StateDict(extra)).toThrow(/outside the Keras ResNet-50 layout: res2a_branch2d\/kernel/);
    const short = kerasWeights();
    short.delete('bn4c_branch2b/moving_variance');
    expect(() => kerasResNet50StateDict(short)).toThrow(/lack 1 tensors, e.g. layer3.2.bn2.running_var/);
  });

  it('reads the configuration from the topology: v1 strides, conv biases, BN epsilon', () => {
    expect(kerasResNet50Config(kerasLayers({ strideIn1x1: true }))).toEqual({
      model: 'resnet50',
      numClasses: 1000,
      strideIn1x1: true,
      convBias: true,
      bnEps: 1e-3,
    });
    expect(kerasResNet50Config(kerasLayers({ strideIn1x1: false, eps: 1.001e-5, bias: false }))).toMatchObject({
      strideIn1x1: false,
      convBias: false,
      bnEps: 1.001e-5,
    });
    const mixed = kerasLayers({ strideIn1x1: true });
    (mixed.find((l) => l.name === 'bn4a_branch2a')!.config as { epsilon: number }).epsilon = 1e-5;
    expect(() => kerasResNet50Config(mixed)).toThrow(/epsilons differ/);
    expect(() => kerasResNet50Config(kerasLayers({ strideIn1x1: true }).filter((l) => l.name !== 'res4f_branch2a'))).toThrow(KerasResNetError);
    expect(() => kerasResNet50Config(kerasLayers({ strideIn1x1: true }).filter((l) => l.name !== 'res4f_branch2a'))).toThrow(
      /no Conv2D layer 'res4f_branch2a'/,
    );
  });
});
