/**
 * ONNX export of U²-Net / U²-NetP (every variant: standard, grouped, separable) for inference
 * runtimes (onnxruntime, a C++ deployment, …). The network is first lowered to a small inference
 * graph (`u2netInferenceGraph`) by interpreting the layout of src/models/u2net/graph.ts with the
 * weights of `foldU2NetForInference` (eval-mode BatchNorm folded into the conv before it, in float32),
 * so each REBNCONV is one conv (or depthwise + pointwise) with a ReLU. That graph is then written as
 * ONNX (opset 13, ir_version 8):
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
import type { Params, State } from '../nn/module';
import type { U2NetModel } from '../models/u2net/model';
import { runU2NetGraph } from '../models/u2net/graph';
import { foldU2NetForInference, disposeFolded, type FoldedConv, type FoldedRebnconv } from '../models/u2net/inference';

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

/** A folded conv read back to the host (float32). */
async function hostConv(f: FoldedConv, where: string): Promise<{ weight: HostTensor; bias: HostTensor }> {
  const read = async (t: Tensor, what: string) => {
    if (t.dtype !== 'float32') throw new Error(`exportU2NetOnnx: '${where}' ${what} is ${t.dtype}; expected float32`);
    return new HostTensor('float32', [...t.shape], Float32Array.from((await t.data()) as Float32Array));
  };
  return { weight: await read(f.weight, 'weight'), bias: await read(f.bias, 'bias') };
}

/**
 * The eval-mode network with every BatchNorm folded into the conv before it. `params`/`state` are the
 * model's (state gives the running statistics); `eps` is the BatchNorm epsilon (1e-5, as the model uses).
 */
export async function u2netInferenceGraph(model: U2NetModel, params: Params, state: State, { eps = 1e-5 } = {}): Promise<U2NetInferenceGraph> {
  const c = model.config;
  const graph = model.graph;
  for (const { path, value } of tree.flatten({ params, state })) {
    const t = value as Tensor;
    if (!path.endsWith('num_batches_tracked') && t.dtype !== 'float32') throw new Error(`exportU2NetOnnx: '${path}' is ${t.dtype}; expected float32`);
  }
  const folded = await foldU2NetForInference(model, params, state, { dtype: 'float32', eps });
  // read every folded conv back once: keyed by the graph node (and '.depthwise' for the separable half)
  const host = new Map<string, { weight: HostTensor; bias: HostTensor }>();
  try {
    for (const [k, v] of Object.entries(folded.params)) {
      if ('weight' in v) {
        host.set(k, await hostConv(v as FoldedConv, k));
        continue;
      }
      for (const [block, f] of Object.entries(v as { [block: string]: FoldedRebnconv })) {
        const name = `${k}.${block}`;
        if ('conv' in f) host.set(name, await hostConv(f.conv, name));
        else {
          host.set(`${name}.depthwise`, await hostConv(f.depthwise, `${name}.conv_s1.depthwise`));
          host.set(name, await hostConv(f.pointwise, `${name}.conv_s1.pointwise`));
        }
      }
    }
  } finally {
    disposeFolded(folded, params);
  }
  const ops: U2NetInferenceOp[] = [];
  const conv = (x: string, y: string, cin: number, padding: number, dilation: number, relu: boolean, depthwise = false) => {
    const { weight, bias } = host.get(y)!;
    const cinG = weight.shape[1];
    if (cin % cinG)
      throw new Error(`exportU2NetOnnx: the conv '${y}' has a weight of shape [${weight.shape.join(', ')}], which does not divide its ${cin} input channels`);
    const groups = cin / cinG;
    if (depthwise && groups !== cin)
      throw new Error(`exportU2NetOnnx: '${y}' should be depthwise; its weight has shape [${weight.shape.join(', ')}] for ${cin} channels`);
    ops.push({ op: 'conv', x, y, weight, bias, padding, dilation, groups, relu });
    return y;
  };
  const cat = (xs: string[], y: string | undefined) => {
    if (xs.length === 1) return xs[0];
    ops.push({ op: 'concat', xs, y: y! });
    return y!;
  };
  const outputs = runU2NetGraph<string>(graph, 'input', {
    rebnconv(n, xs) {
      const x = cat(xs, n.concat);
      const d = n.dilation;
      if (host.has(`${n.name}.depthwise`)) return conv(conv(x, `${n.name}.depthwise`, n.inChannels, d, d, false, true), n.y, n.inChannels, 0, 1, true);
      return conv(x, n.y, n.inChannels, d, d, true);
    },
    conv: (n, xs) => conv(cat(xs, n.concat), n.y, n.inChannels, n.padding, 1, false),
    maxpool: (n, x) => {
      ops.push({ op: 'maxpool', x, y: n.y });
      return n.y;
    },
    upsample: (n, x, like) => {
      ops.push({ op: 'upsample', x, like, y: n.y });
      return n.y;
    },
    add: (n, a, b) => {
      ops.push({ op: 'add', a, b, y: n.y });
      return n.y;
    },
  });
  return { input: graph.input, inChannels: c.inChannels, outChannels: c.outChannels, outputs, ops };
}

/** Options of {@link exportU2NetOnnx}: declared input size, dynamic batch and output kind. */
export interface U2NetOnnxOptions {
  /** Declared input height and width (default 320); null declares a named dynamic dimension. The graph itself runs at any size. */
  height?: number | null;
  /** Declared input width (default 320); null declares a dynamic dimension. */
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
  const inits = new Map<string, HostTensor>([
    ['const.0', i64([0])],
    ['const.2', i64([2])],
    ['const.4', i64([4])],
  ]);
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
          kernel_shape: [kh, kw],
          pads: [o.padding, o.padding, o.padding, o.padding],
          dilations: [o.dilation, o.dilation],
          strides: [1, 1],
          group: o.groups,
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
  const h = height ?? 'height',
    w = width ?? 'width';
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
export async function exportU2NetOnnx(model: U2NetModel, params: Params, state: State, options: U2NetOnnxOptions = {}): Promise<Uint8Array> {
  const g = await u2netInferenceGraph(model, params, state, { eps: options.eps });
  return writeOnnx(u2netOnnxModel(g, options));
}
