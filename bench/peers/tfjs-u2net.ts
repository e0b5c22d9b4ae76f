/**
 * U²-Net / U²-NetP in TF.js (WebGPU backend, functional ops, NHWC) as a benchmark peer, built from
 * the same lowered inference graph the ONNX export writes (`u2netInferenceGraph`: eval-mode
 * BatchNorm folded into the convs), so it runs webgrad's network with webgrad's weights:
 *
 * - conv + bias + ReLU: tf.fused.conv2d, 'same' padding (a 3×3 conv with padding = dilation keeps the
 *   size, so 'same' splits the 2·dilation padding evenly, as webgrad does), dilations as given;
 * - depthwise convs (separable variant): tf.fused.depthwiseConv2d; grouped convs (TF.js has no
 *   group argument): one conv2d per group on a channel slice, concatenated;
 * - max-pool 2×2 stride 2 'same': the output is ⌈H/2⌉ and an odd row/column gets one padding
 *   row/column at the end that max ignores, which is PyTorch's ceil mode;
 * - tf.image.resizeBilinear(…, alignCorners false, halfPixelCenters true) to the skip's size:
 *   source (x + 0.5)·in/out − 0.5, clamped, as PyTorch's bilinear with alignCorners false.
 *
 * `trainStepError` tries one gradient of the 7-map BCE loss with respect to the conv weights and
 * returns the error TF.js raises (its Conv2D gradient refuses dilation > 1), or null if it ran.
 */
import type * as TF from '@tensorflow/tfjs';
import type { U2NetInferenceGraph } from '../../src/sod/onnx-export';
import type { Tfjs } from './tfjs';

type T4 = TF.Tensor4D;

interface TfConv {
  groups: number;
  depthwise: boolean;
  /** HWIO filters, one per group ([kh, kw, cin, 1] for depthwise). */
  filters: TF.Variable[];
  biases: TF.Variable[];
  dilation: number;
  relu: boolean;
}

export interface TfU2Net {
  /** Logit maps d0 … d6, NHWC. */
  forward(x: T4): T4[];
  /** Every weight (for gradients and disposal). */
  variables: TF.Variable[];
  dispose(): void;
}

/** OIHW (group slice of output channels [o0, o1)) → HWIO. */
function toHWIO(w: Float32Array, [O, I, KH, KW]: readonly number[], o0: number, o1: number): Float32Array {
  const out = new Float32Array(KH * KW * I * (o1 - o0));
  const n = o1 - o0;
  for (let o = o0; o < o1; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let k = 0; k < KW; k++) {
          out[((h * KW + k) * I + i) * n + (o - o0)] = w[((o * I + i) * KH + h) * KW + k];
        }
  void O;
  return out;
}

export function tfU2Net(tf: Tfjs, g: U2NetInferenceGraph): TfU2Net {
  const convs = new Map<string, TfConv>();
  const variables: TF.Variable[] = [];
  const v = (data: Float32Array, shape: number[]) => {
    const t = tf.variable(tf.tensor(data, shape));
    variables.push(t);
    return t;
  };
  for (const o of g.ops) {
    if (o.op !== 'conv') continue;
    const [O, I, KH, KW] = o.weight.shape;
    const w = o.weight.data as Float32Array,
      b = o.bias.data as Float32Array;
    const depthwise = o.groups > 1 && I === 1 && O === o.groups;
    if (depthwise) {
      // [C, 1, kh, kw] → [kh, kw, C, 1]
      const f = new Float32Array(KH * KW * O);
      for (let c = 0; c < O; c++) for (let h = 0; h < KH; h++) for (let k = 0; k < KW; k++) f[(h * KW + k) * O + c] = w[(c * KH + h) * KW + k];
      convs.set(o.y, { groups: o.groups, depthwise, filters: [v(f, [KH, KW, O, 1])], biases: [v(b, [O])], dilation: o.dilation, relu: o.relu });
    } else {
      const og = O / o.groups;
      const filters: TF.Variable[] = [],
        biases: TF.Variable[] = [];
      for (let gi = 0; gi < o.groups; gi++) {
        filters.push(v(toHWIO(w, o.weight.shape, gi * og, (gi + 1) * og), [KH, KW, I, og]));
        biases.push(v(b.slice(gi * og, (gi + 1) * og), [og]));
      }
      convs.set(o.y, { groups: o.groups, depthwise, filters, biases, dilation: o.dilation, relu: o.relu });
    }
  }
  return {
    variables,
    forward(x) {
      const vals = new Map<string, T4>([[g.input, x]]);
      for (const o of g.ops) {
        switch (o.op) {
          case 'conv': {
            const c = convs.get(o.y)!;
            const inp = vals.get(o.x)!;
            const activation = c.relu ? 'relu' : 'linear';
            let y: T4;
            if (c.depthwise) {
              y = tf.fused.depthwiseConv2d({
                x: inp,
                filter: c.filters[0] as unknown as T4,
                strides: 1,
                pad: 'same',
                dilations: c.dilation,
                bias: c.biases[0],
                activation,
              });
            } else if (c.groups === 1) {
              y = tf.fused.conv2d({
                x: inp,
                filter: c.filters[0] as unknown as T4,
                strides: 1,
                pad: 'same',
                dilations: c.dilation,
                bias: c.biases[0],
                activation,
              });
            } else {
              const parts = tf.split(inp, c.groups, 3).map((xi, gi) =>
                tf.fused.conv2d({
                  x: xi as T4,
                  filter: c.filters[gi] as unknown as T4,
                  strides: 1,
                  pad: 'same',
                  dilations: c.dilation,
                  bias: c.biases[gi],
                  activation,
                }),
              );
              y = tf.concat(parts, 3);
            }
            vals.set(o.y, y);
            break;
          }
          default:
            vals.set(o.y, tfGraphOp(tf, o, vals));
        }
      }
      return g.outputs.map((n) => vals.get(n)!);
    },
    dispose() {
      tf.dispose(variables);
    },
  };
}

/**
 * One training gradient (sum of BCE-with-logits over the 7 maps, gradients for every weight) on a
 * batch of `n` `size`² images; the error message TF.js gives, or null when it ran.
 */
/**
 * One non-conv node of the lowered U²-Net graph on TF.js (NHWC): max-pool, upsample, concat or add. Shared by
 * the inference peer and the training peer, which differ only in their convs.
 */
export function tfGraphOp(tf: Tfjs, o: Exclude<U2NetInferenceGraph['ops'][number], { op: 'conv' }>, vals: Map<string, T4>): T4 {
  switch (o.op) {
    case 'maxpool':
      return tf.maxPool(vals.get(o.x)!, 2, 2, 'same');
    case 'upsample': {
      const like = vals.get(o.like)!;
      return tf.image.resizeBilinear(vals.get(o.x)!, [like.shape[1], like.shape[2]], false, true);
    }
    case 'concat':
      return tf.concat(
        o.xs.map((n) => vals.get(n)!),
        3,
      );
    case 'add':
      return tf.add(vals.get(o.a)!, vals.get(o.b)!);
  }
}

export function trainStepError(tf: Tfjs, net: TfU2Net, n = 1, size = 32): string | null {
  try {
    tf.tidy(() => {
      const x = tf.randomNormal([n, size, size, 3]) as T4;
      const target = tf.cast(tf.greater(tf.randomUniform([n, size, size, 1]), 0.5), 'float32');
      const { grads } = tf.variableGrads(() => {
        const ls = net.forward(x).map((l) => tf.losses.sigmoidCrossEntropy(target, l));
        return tf.addN(ls) as TF.Scalar;
      }, net.variables);
      tf.dispose(Object.values(grads));
    });
    return null;
  } catch (e) {
    return String((e as Error)?.message ?? e).split('\n')[0];
  }
}
