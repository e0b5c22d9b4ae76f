/**
 * Keras's ResNet-50 (keras.applications as of keras 2.2.4: `conv1`, `bn_conv1`, `res2a_branch2a`,
 * `bn2a_branch2a`, `res2a_branch1`, …, `fc1000`) as a torchvision state_dict (`conv1.weight`,
 * `bn1.running_var`, `layer1.0.conv1.weight`, `layer1.0.downsample.0.bias`, …, `fc.weight`) for
 * `resnet(config)`, where the configuration is read from the topology rather than assumed: the strides
 * of the first downsampling block (v1 puts them on the 1×1 conv), whether convs have biases, and the
 * BatchNorm epsilon. Conv kernels go from Keras's HWIO to OIHW, the dense kernel from [in, out] to
 * [out, in]. No `node:` imports.
 */
import { HostTensor } from './host-tensor';
import type { TfjsLayer } from './tfjs-layers';

/**
 * What a Keras ResNet-50 topology says about the network: a `resnet()` configuration (formats sit below models,
 * so this is the plain object, assignable to `ResNetConfig`).
 */
export interface KerasResNetLayout {
  /** Always 'resnet50' (bottleneck, [3, 4, 6, 3]). */
  model: 'resnet50';
  /** Units of `fc1000`. */
  numClasses: number;
  /** True when the downsampling blocks stride on their first 1×1 conv (ResNet v1). */
  strideIn1x1: boolean;
  /** True when the convs carry biases. */
  convBias: boolean;
  /** The BatchNorms' epsilon. */
  bnEps: number;
}

/** A Keras weight set that is not the ResNet-50 layout this converter knows. */
export class KerasResNetError extends Error {
  override name = 'KerasResNetError';
}

const BN_FIELDS: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' };
const BRANCH: Record<string, string> = { '2a': '1', '2b': '2', '2c': '3' };

/** The torchvision key of a Keras ResNet weight name, or undefined when the name is not part of the layout. */
export function kerasResNetKey(name: string): string | undefined {
  const [layer, field, extra] = name.split('/');
  if (extra !== undefined || field === undefined) return undefined;
  if (layer === 'conv1' && (field === 'kernel' || field === 'bias')) return `conv1.${field === 'kernel' ? 'weight' : 'bias'}`;
  if (layer === 'bn_conv1' && BN_FIELDS[field]) return `bn1.${BN_FIELDS[field]}`;
  if (layer === 'fc1000' && (field === 'kernel' || field === 'bias')) return `fc.${field === 'kernel' ? 'weight' : 'bias'}`;
  const m = /^(res|bn)([2-5])([a-z])_branch(1|2a|2b|2c)$/.exec(layer);
  if (!m) return undefined;
  const [, kind, stage, letter, branch] = m;
  const block = `layer${Number(stage) - 1}.${letter.charCodeAt(0) - 97}`;
  if (kind === 'res') {
    if (field !== 'kernel' && field !== 'bias') return undefined;
    const conv = branch === '1' ? 'downsample.0' : `conv${BRANCH[branch]}`;
    return `${block}.${conv}.${field === 'kernel' ? 'weight' : 'bias'}`;
  }
  if (!BN_FIELDS[field]) return undefined;
  return `${block}.${branch === '1' ? 'downsample.1' : `bn${BRANCH[branch]}`}.${BN_FIELDS[field]}`;
}

/** HWIO → OIHW for conv kernels, [in, out] → [out, in] for the dense kernel, copies of 1-D vectors. */
function toTorchLayout(key: string, t: HostTensor): HostTensor {
  if (t.dtype !== 'float32') throw new KerasResNetError(`${key}: dtype ${t.dtype}; expected float32`);
  const src = t.data as Float32Array;
  if (t.shape.length === 4) {
    const [H, W, I, O] = t.shape;
    const dst = new Float32Array(t.size);
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let i = 0; i < I; i++) {
          const s = ((h * W + w) * I + i) * O;
          for (let o = 0; o < O; o++) dst[((o * I + i) * H + h) * W + w] = src[s + o];
        }
    return new HostTensor('float32', [O, I, H, W], dst);
  }
  if (t.shape.length === 2) {
    const [I, O] = t.shape;
    const dst = new Float32Array(t.size);
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) dst[o * I + i] = src[i * O + o];
    return new HostTensor('float32', [O, I], dst);
  }
  return new HostTensor('float32', [...t.shape], src.slice());
}

/**
 * The `resnet()` configuration a Keras ResNet-50 topology describes: bottleneck [3, 4, 6, 3], the classes of
 * `fc1000`, `strideIn1x1` from `res3a_branch2a`'s strides, `convBias` from the convs' `use_bias`, `bnEps` from
 * the BatchNorms' epsilon (which must all agree).
 */
export function kerasResNet50Config(layers: readonly TfjsLayer[]): KerasResNetLayout {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const need = (name: string, cls: string) => {
    const l = byName.get(name);
    if (!l || l.className !== cls) throw new KerasResNetError(`not a Keras ResNet-50 topology: no ${cls} layer '${name}'`);
    return l;
  };
  const letters = [3, 4, 6, 3].map((n, i) => Array.from({ length: n }, (_, j) => `res${i + 2}${String.fromCharCode(97 + j)}_branch2a`));
  for (const name of letters.flat()) need(name, 'Conv2D');
  for (const [s, n] of [3, 4, 6, 3].entries())
    if (byName.has(`res${s + 2}${String.fromCharCode(97 + n)}_branch2a`))
      throw new KerasResNetError(`stage ${s + 2} has more than ${n} blocks; only ResNet-50 is known`);
  const stride = (name: string) => (need(name, 'Conv2D').config.strides as number[] | undefined)?.[0] ?? 1;
  const s1 = stride('res3a_branch2a'),
    s3 = stride('res3a_branch2b');
  if (s1 * s3 !== 2) throw new KerasResNetError(`res3a: strides ${s1} (1×1) and ${s3} (3×3); expected one of them 2`);
  const convs = layers.filter((l) => l.className === 'Conv2D');
  const biases = new Set(convs.map((l) => l.config.use_bias !== false));
  if (biases.size !== 1) throw new KerasResNetError('some convs have biases and some not; expected all or none');
  const eps = new Set(layers.filter((l) => l.className === 'BatchNormalization').map((l) => Number(l.config.epsilon ?? 1e-3)));
  if (eps.size !== 1) throw new KerasResNetError(`BatchNorm epsilons differ (${[...eps].join(', ')}); expected one value`);
  const fc = need('fc1000', 'Dense');
  return {
    model: 'resnet50',
    numClasses: Number(fc.config.units),
    strideIn1x1: s1 === 2,
    convBias: [...biases][0],
    bnEps: [...eps][0],
  };
}

/**
 * The torchvision state_dict of Keras ResNet-50 weights (names as in the TF.js manifest, e.g. from
 * `readTfjsLayersWeights`). Every weight must map to a key and every key of the layout must be present.
 */
export function kerasResNet50StateDict(weights: ReadonlyMap<string, HostTensor>): Record<string, HostTensor> {
  const sd: Record<string, HostTensor> = {};
  const unknown: string[] = [];
  for (const [name, t] of weights) {
    const key = kerasResNetKey(name);
    if (!key) unknown.push(name);
    else sd[key] = toTorchLayout(key, t);
  }
  if (unknown.length)
    throw new KerasResNetError(`weights outside the Keras ResNet-50 layout: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`);
  // the layout: stem, 16 bottlenecks with a projection in each stage's first block, fc
  const convs = ['conv1'];
  const bns = ['bn1'];
  [3, 4, 6, 3].forEach((n, s) => {
    for (let b = 0; b < n; b++) {
      const k = `layer${s + 1}.${b}`;
      convs.push(`${k}.conv1`, `${k}.conv2`, `${k}.conv3`, ...(b === 0 ? [`${k}.downsample.0`] : []));
      bns.push(`${k}.bn1`, `${k}.bn2`, `${k}.bn3`, ...(b === 0 ? [`${k}.downsample.1`] : []));
    }
  });
  const expected = [...convs.map((c) => `${c}.weight`), ...bns.flatMap((b) => Object.values(BN_FIELDS).map((f) => `${b}.${f}`)), 'fc.weight', 'fc.bias'];
  const missing = expected.filter((k) => !sd[k]);
  if (missing.length) throw new KerasResNetError(`Keras ResNet-50 weights lack ${missing.length} tensors, e.g. ${missing.slice(0, 3).join(', ')}`);
  return sd;
}
