/**
 * A U²-Net / U²-NetP training step in TF.js (WebGPU backend, NHWC) from its public ops, on the same
 * layout webgrad's model has, so the two libraries do the same work per step:
 *
 * - each REBNCONV: conv 3×3 with bias → BatchNorm in training mode (batch moments over N, H, W via
 *   tf.moments, learned scale and offset; running statistics are not tracked) → ReLU; the side
 *   convs and the fuse conv: conv + bias;
 * - a dilated conv (TF.js has no gradient for conv2d with dilation > 1) runs as TensorFlow's atrous
 *   convolution does: spaceToBatchND by the dilation (padding the input by d, plus what makes it a
 *   multiple of d), a 'valid' conv, batchToSpaceND, crop. Same values, gradients through each op;
 * - max-pool 2×2 stride 2 'same' (PyTorch's ceil mode), resizeBilinear (half-pixel centres) to the
 *   skip's size, concat on channels, residual add;
 * - loss: the sum over the 7 logit maps of sigmoid cross-entropy (mean over pixels), as u2netLoss;
 *   tf.train.sgd's minimize over every weight.
 *
 * The layout and initial weights come from webgrad's lowered inference graph (u2netInferenceGraph):
 * a conv followed by a ReLU there is a REBNCONV (conv + BN + ReLU) here.
 */
import type * as TF from '@tensorflow/tfjs';
import type { U2NetInferenceGraph } from '../../src/sod/onnx-export';
import type { Tfjs } from './tfjs';
import { tfGraphOp } from './tfjs-u2net';

type T4 = TF.Tensor4D;

interface TrainConv {
  filter: TF.Variable;
  bias: TF.Variable;
  /** Scale and offset of the BatchNorm after the conv (REBNCONV only). */
  bn?: { gamma: TF.Variable; beta: TF.Variable };
  dilation: number;
  k: number;
}

export interface TfU2NetTrainer {
  /** Records one SGD step (forward, loss, backward, update); the work runs on the GPU afterwards. */
  step(): void;
  dispose(): void;
}

/** OIHW → HWIO. */
function hwio(w: Float32Array, [O, I, KH, KW]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++) for (let k = 0; k < KW; k++) out[((h * KW + k) * I + i) * O + o] = w[((o * I + i) * KH + h) * KW + k];
  return out;
}

/** A 'same' conv with dilation d: spaceToBatchND → valid conv → batchToSpaceND → crop (d > 1). */
export function atrousConv(tf: Tfjs, x: T4, f: TF.Variable, d: number, k: number): T4 {
  if (d === 1) return tf.conv2d(x, f as unknown as T4, 1, 'same');
  const [, H, W] = x.shape;
  const p = (d * (k - 1)) / 2;
  const extraH = (d - ((H + 2 * p) % d)) % d,
    extraW = (d - ((W + 2 * p) % d)) % d;
  const s = tf.spaceToBatchND(
    x,
    [d, d],
    [
      [p, p + extraH],
      [p, p + extraW],
    ],
  ) as T4;
  const y = tf.conv2d(s, f as unknown as T4, 1, 'valid');
  return tf.batchToSpaceND(
    y,
    [d, d],
    [
      [0, extraH],
      [0, extraW],
    ],
  ) as T4;
}

/** A trainer for `batch` images of `size`² with fixed synthetic input and mask. */
export function tfU2NetTrainer(tf: Tfjs, g: U2NetInferenceGraph, batch: number, size: number, lr = 1e-3): TfU2NetTrainer {
  const convs = new Map<string, TrainConv>();
  const variables: TF.Variable[] = [];
  const v = (t: TF.Tensor) => {
    const r = tf.variable(t);
    variables.push(r);
    return r;
  };
  for (const o of g.ops) {
    if (o.op !== 'conv') continue;
    if (o.groups !== 1) throw new Error(`tfU2NetTrainer: grouped conv '${o.y}' (groups ${o.groups}) is not built; use the standard variant`);
    const [O, , KH] = o.weight.shape;
    convs.set(o.y, {
      filter: v(tf.tensor(hwio(o.weight.data as Float32Array, o.weight.shape), [KH, o.weight.shape[3], o.weight.shape[1], O])),
      bias: v(tf.tensor(o.bias.data as Float32Array, [O])),
      bn: o.relu ? { gamma: v(tf.ones([O])), beta: v(tf.zeros([O])) } : undefined,
      dilation: o.dilation,
      k: KH,
    });
  }
  const x = tf.tidy(() =>
    tf
      .sin(tf.mul(tf.range(0, batch * size * size * g.inChannels), 0.37))
      .mul(0.5)
      .reshape([batch, size, size, g.inChannels]),
  ) as T4;
  const target = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, g.outChannels], 0, 1, 'float32', 7), 0.5), 'float32'));
  const opt = tf.train.sgd(lr);

  const forward = (input: T4): T4[] => {
    const vals = new Map<string, T4>([[g.input, input]]);
    for (const o of g.ops) {
      switch (o.op) {
        case 'conv': {
          const c = convs.get(o.y)!;
          let y = tf.add(atrousConv(tf, vals.get(o.x)!, c.filter, c.dilation, c.k), c.bias) as T4;
          if (c.bn) {
            const { mean, variance } = tf.moments(y, [0, 1, 2]);
            y = tf.relu(tf.batchNorm(y, mean, variance, c.bn.beta, c.bn.gamma, 1e-5)) as T4;
          }
          vals.set(o.y, y);
          break;
        }
        default:
          vals.set(o.y, tfGraphOp(tf, o, vals));
      }
    }
    return g.outputs.map((n) => vals.get(n)!);
  };

  return {
    step() {
      opt.minimize(() => tf.addN(forward(x).map((l) => tf.losses.sigmoidCrossEntropy(target, l))) as TF.Scalar, false, variables);
    },
    dispose() {
      tf.dispose([x, target, ...variables]);
      opt.dispose();
    },
  };
}
