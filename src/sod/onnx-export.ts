/**
 * ONNX export of U²-Net / U²-NetP (every variant: standard, grouped, separable) for inference
 * runtimes (onnxruntime, a C++ deployment, …). The network is first lowered to a small inference
 * graph (`u2netInferenceGraph`): eval-mode BatchNorm folded into the conv before it in float64 and
 * rounded to float32, so each REBNCONV is one conv (or depthwise + pointwise) with a ReLU. That graph
 * is then written as ONNX (opset 13, ir_version 8):
 *
 * - Conv with pads = dilations = the dilation (3×3 convs), group 2 for the grouped variant and
 *   group = C for the depthwise half of the separable one;
 * - MaxPool 2×2 stride 2 with ceil_mode 1 (PyTorch's ceil mode: with no padding the last window
 *   always starts inside the input, so the two rules agree);
 * - Resize (mode linear, coordinate_transformation_mode half_pixel) to the skip's size, the size
 *   taken at run time with Shape → Slice → Concat, so the graph works for any batch and image size.
 *   half_pixel maps output pixel x to (x + 0.5)·in/out − 0.5 and clamps at the border, which is
 *   PyTorch's bilinear rule with alignCorners false (area_pixel_compute_source_index with scale
 *   in/out). `pytorch_half_pixel`, which the original PyTorch exporter wrote, differs only for an
 *   output of length 1 (it samples 0); in U²-Net an output of length 1 only comes from an input
 *   of length 1, where both give the input;
 * - Concat on channels, Add for the RSU residuals, Relu.
 *
 * Outputs: like the original export, the seven maps d0 (fused), d1, …, d6 as probabilities (a
 * Sigmoid on each), named d0 … d6; `outputs: 'logits'` leaves the Sigmoids out.
 */
import type { Tensor } from '../tensor/tensor';
import * as tree from '../tensor/tree';
import { HostTensor } from '../formats/host-tensor';
import { writeOnnx, type OnnxWriteNode, type OnnxWriteModel } from '../formats/onnx-write';
import { U2NET_CONFIG, type U2NetModel } from '../models/u2net/model';

/** One step of the lowered inference network; values are named by string. */
export type U2NetInferenceOp =
  | { op: 'conv'; x: string; y: string; weight: HostTensor; bias: HostTensor; padding: number; dilation: number; groups: number; relu: boolean }
  | { op: 'maxpool'; x: string; y: string }
  | { op: 'upsample'; x: string; like: string; y: string }
  | { op: 'concat'; xs: string[]; y: string }
  | { op: 'add'; a: string; b: string; y: string };

export interface U2NetInferenceGraph {
  input: string;
  inChannels: number;
  outChannels: number;
  /** The logit maps d0 (fused), d1, …, d6. */
  outputs: string[];
  ops: U2NetInferenceOp[];
}

type P = { [k: string]: Tensor | P };
type Host = { shape: readonly number[]; data: Float32Array };

const ENCODER = ['stage1', 'stage2', 'stage3', 'stage4', 'stage5', 'stage6'];
const DECODER = ['stage5d', 'stage4d', 'stage3d', 'stage2d', 'stage1d'];

async function hostLeaves(t: unknown): Promise<Map<string, Host>> {
  const out = new Map<string, Host>();
  await Promise.all(tree.flatten(t).map(async ({ path, value }) => {
    const v = value as Tensor;
    if (!v || typeof v.data !== 'function') return;
    if (path.endsWith('num_batches_tracked')) return; // not used in eval mode
    if (v.dtype !== 'float32') throw new Error(`exportU2NetOnnx: '${path}' is ${v.dtype}; expected float32`);
    out.set(path, { shape: v.shape, data: Float32Array.from((await v.data()) as Float32Array) });
  }));
  return out;
}

/**
 * The eval-mode network with every BatchNorm folded into the conv before it. `params`/`state` are the
 * model's (state gives the running statistics); `eps` is the BatchNorm epsilon (1e-5, as the model uses).
 */
export async function u2netInferenceGraph(model: U2NetModel, params: P, state: P, { eps = 1e-5 } = {}): Promise<U2NetInferenceGraph> {
  const c = model.config;
  const table = U2NET_CONFIG[c.model];
  const ps = await hostLeaves(params), ss = await hostLeaves(state);
  const need = (m: Map<string, Host>, k: string, what: string): Host => {
    const v = m.get(k);
    if (!v) throw new Error(`exportU2NetOnnx: ${what} has no '${k}' (is this a ${c.model} '${c.variant}' model's ${what}?)`);
    return v;
  };
  const ops: U2NetInferenceOp[] = [];
  const channels = new Map<string, number>([['input', c.inChannels]]);

  /** Conv at `path` (weight/bias), optionally folding the BatchNorm at `bn` and adding a ReLU. */
  const conv = (x: string, y: string, path: string, { padding, dilation, bn, relu, depthwise = false }: { padding: number; dilation: number; bn?: string; relu: boolean; depthwise?: boolean }) => {
    const w = need(ps, `${path}.weight`, 'params');
    const b = ps.get(`${path}.bias`);
    const [cout, cinG, kh, kw] = w.shape;
    const cin = channels.get(x)!;
    if (cin % cinG) throw new Error(`exportU2NetOnnx: '${path}.weight' has shape [${w.shape.join(', ')}], which does not divide its ${cin} input channels`);
    const groups = cin / cinG;
    if (depthwise && groups !== cin) throw new Error(`exportU2NetOnnx: '${path}' should be depthwise; its weight has shape [${w.shape.join(', ')}] for ${cin} channels`);
    const weight = new Float32Array(w.data.length), bias = new Float32Array(cout);
    const per = cinG * kh * kw;
    for (let o = 0; o < cout; o++) {
      let scale = 1, shift = b ? b.data[o] : 0;
      if (bn) {
        const gamma = ps.get(`${bn}.weight`)?.data[o] ?? 1, beta = ps.get(`${bn}.bias`)?.data[o] ?? 0;
        const mean = need(ss, `${bn}.running_mean`, 'state').data[o], v = need(ss, `${bn}.running_var`, 'state').data[o];
        scale = gamma / Math.sqrt(v + Math.fround(eps));
        shift = (shift - mean) * scale + beta;
      }
      for (let i = 0; i < per; i++) weight[o * per + i] = w.data[o * per + i] * scale;
      bias[o] = shift;
    }
    ops.push({ op: 'conv', x, y, weight: new HostTensor('float32', [cout, cinG, kh, kw], weight), bias: new HostTensor('float32', [cout], bias), padding, dilation, groups, relu });
    channels.set(y, cout);
    return y;
  };
  const rebnconv = (x: string, path: string, dilation: number) => {
    const conv3 = `${path}.conv_s1`, bn = `${path}.bn_s1`;
    if (ps.has(`${conv3}.depthwise.weight`)) {
      const h = conv(x, `${path}.depthwise`, `${conv3}.depthwise`, { padding: dilation, dilation, relu: false, depthwise: true });
      return conv(h, path, `${conv3}.pointwise`, { padding: 0, dilation: 1, bn, relu: true });
    }
    return conv(x, path, conv3, { padding: dilation, dilation, bn, relu: true });
  };
  const pool = (x: string) => { const y = `${x}.pool`; ops.push({ op: 'maxpool', x, y }); channels.set(y, channels.get(x)!); return y; };
  const up = (x: string, like: string) => { const y = `${x}.up`; ops.push({ op: 'upsample', x, like, y }); channels.set(y, channels.get(x)!); return y; };
  const cat = (xs: string[], y: string) => { ops.push({ op: 'concat', xs, y }); channels.set(y, xs.reduce((s, v) => s + channels.get(v)!, 0)); return y; };

  const rsu = (stage: string, x: string) => {
    const [L, , , , dilated] = table.stages[stage];
    const hxin = rebnconv(x, `${stage}.rebnconvin`, 1);
    const enc: string[] = [];
    let hx = hxin;
    for (let i = 1; i <= L; i++) {
      if (i > 1 && !dilated && i < L) hx = pool(enc[i - 2]);
      else if (i > 1) hx = enc[i - 2];
      const dil = dilated ? 2 ** (i - 1) : i === L ? 2 : 1;
      enc.push(rebnconv(hx, `${stage}.rebnconv${i}`, dil));
    }
    let d = enc[L - 1];
    for (let i = L - 1; i >= 1; i--) {
      const skip = enc[i - 1];
      const u = dilated || i === L - 1 ? d : up(d, skip);
      d = rebnconv(cat([u, skip], `${stage}.cat${i}d`), `${stage}.rebnconv${i}d`, dilated ? 2 ** (i - 1) : 1);
    }
    ops.push({ op: 'add', a: d, b: hxin, y: stage });
    channels.set(stage, channels.get(d)!);
    return stage;
  };

  const enc: string[] = [];
  let hx = 'input';
  ENCODER.forEach((name, i) => {
    if (i > 0) hx = pool(enc[i - 1]);
    enc.push(rsu(name, hx));
  });
  const dec: string[] = [enc[5]];
  DECODER.forEach((name, j) => {
    const skip = enc[4 - j];
    dec.push(rsu(name, cat([up(dec[j], skip), skip], `${name}.in`)));
  });
  const sources = [dec[5], dec[4], dec[3], dec[2], dec[1], dec[0]];
  const sides = sources.map((s, i) => conv(s, `side${i + 1}`, `side${i + 1}`, { padding: 1, dilation: 1, relu: false }));
  const d1 = sides[0];
  const maps = [d1, ...sides.slice(1).map((s) => up(s, d1))];
  const d0 = conv(cat(maps, 'fuse'), 'outconv', 'outconv', { padding: 0, dilation: 1, relu: false });
  return { input: 'input', inChannels: c.inChannels, outChannels: c.outChannels, outputs: [d0, ...maps], ops };
}

export interface U2NetOnnxOptions {
  /** Declared input height and width (default 320); null declares a named dynamic dimension. The graph itself runs at any size. */
  height?: number | null;
  width?: number | null;
  /** Declare the batch dimension as 'batch' instead of 1 (default false). */
  dynamicBatch?: boolean;
  /** 'sigmoid' (default, like the original export) or 'logits'. */
  outputs?: 'sigmoid' | 'logits';
  /** BatchNorm epsilon (default 1e-5). */
  eps?: number;
  /** Opset (default 13; Resize with empty roi/scales inputs needs 13 or later). */
  opset?: number;
}

const i64 = (vs: number[]) => new HostTensor('int64', [vs.length], BigInt64Array.from(vs, BigInt));

/** The lowered graph as an ONNX model (see the file comment for the ops). */
export function u2netOnnxModel(g: U2NetInferenceGraph, options: U2NetOnnxOptions = {}): OnnxWriteModel {
  const { height = 320, width = 320, dynamicBatch = false, outputs = 'sigmoid', opset = 13 } = options;
  if (opset < 13) throw new Error(`exportU2NetOnnx: opset ${opset} is too old; Resize with a sizes input and no scales needs opset 13 or later`);
  const nodes: OnnxWriteNode[] = [];
  const inits = new Map<string, HostTensor>([['const.0', i64([0])], ['const.2', i64([2])], ['const.4', i64([4])]]);
  const node = (opType: string, inputs: string[], outs: string[], attributes: OnnxWriteNode['attributes'] = {}, name = outs[0]) =>
    nodes.push({ opType, inputs, outputs: outs, name: `${opType}:${name}`, attributes });
  for (const o of g.ops) {
    switch (o.op) {
      case 'conv': {
        const [cout, , kh, kw] = o.weight.shape;
        const base = o.relu ? `${o.y}.conv` : o.y;
        inits.set(`${o.y}.weight`, o.weight);
        inits.set(`${o.y}.bias`, o.bias);
        node('Conv', [o.x, `${o.y}.weight`, `${o.y}.bias`], [base], {
          kernel_shape: [kh, kw], pads: [o.padding, o.padding, o.padding, o.padding], dilations: [o.dilation, o.dilation], strides: [1, 1], group: o.groups,
        });
        if (o.relu) node('Relu', [base], [o.y]);
        void cout;
        break;
      }
      case 'maxpool':
        node('MaxPool', [o.x], [o.y], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], ceil_mode: 1 });
        break;
      case 'upsample': {
        // sizes = [N, C of x] ++ [H, W of like]
        node('Shape', [o.x], [`${o.y}.xshape`]);
        node('Slice', [`${o.y}.xshape`, 'const.0', 'const.2', 'const.0'], [`${o.y}.nc`]);
        node('Shape', [o.like], [`${o.y}.likeshape`]);
        node('Slice', [`${o.y}.likeshape`, 'const.2', 'const.4', 'const.0'], [`${o.y}.hw`]);
        node('Concat', [`${o.y}.nc`, `${o.y}.hw`], [`${o.y}.sizes`], { axis: 0 });
        node('Resize', [o.x, '', '', `${o.y}.sizes`], [o.y], { mode: 'linear', coordinate_transformation_mode: 'half_pixel' });
        break;
      }
      case 'concat':
        node('Concat', o.xs, [o.y], { axis: 1 });
        break;
      case 'add':
        node('Add', [o.a, o.b], [o.y]);
        break;
    }
  }
  const names = g.outputs.map((_, i) => `d${i}`);
  g.outputs.forEach((v, i) => {
    if (outputs === 'sigmoid') node('Sigmoid', [v], [names[i]]);
    else node('Identity', [v], [names[i]]);
  });
  const batch = dynamicBatch ? 'batch' : 1;
  const h = height ?? 'height', w = width ?? 'width';
  return {
    irVersion: 8,
    producerName: 'webgrad',
    producerVersion: '0.1.0',
    docString: `U²-Net exported by webgrad: eval-mode BatchNorm folded into the convs; outputs d0 (fused) … d6 as ${outputs === 'sigmoid' ? 'probabilities' : 'logits'}`,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'u2net',
      nodes,
      initializers: inits,
      inputs: [{ name: g.input, elemType: 1, shape: [batch, g.inChannels, h, w] }],
      outputs: names.map((name) => ({ name, elemType: 1, shape: [batch, g.outChannels, h, w] })),
    },
  };
}

/**
 * ONNX bytes of the model's inference graph (eval-mode BatchNorm folded; see the file comment).
 * Reads the parameters back from the GPU once.
 */
export async function exportU2NetOnnx(model: U2NetModel, params: P, state: P, options: U2NetOnnxOptions = {}): Promise<Uint8Array> {
  const g = await u2netInferenceGraph(model, params, state, { eps: options.eps });
  return writeOnnx(u2netOnnxModel(g, options));
}
