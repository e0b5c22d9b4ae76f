/**
 * U²-Net's layout, written once as data (Qin et al., 2020). Every consumer interprets this list:
 * the training/eval forward and the parameter layout (model.ts), the folded fp32/fp16 inference
 * (inference.ts), and the ONNX export and import (src/sod). Nothing else spells out the RSU heights,
 * the dilation rule, the encoder/decoder order or the side outputs.
 *
 * The graph is a list of nodes in the original forward order, each reading named values and writing
 * one. REBNCONV nodes are 3×3 conv (padding = dilation) + BatchNorm + ReLU over the channel concat of
 * their inputs; `conv` nodes are plain convs with a bias (side outputs and the fuse conv). Pooling is
 * 2×2 max with ceil mode, upsampling is bilinear (alignCorners false) to another value's size, and
 * `add` is an RSU's residual. Node names are the parameter paths of the original PyTorch model
 * (`stage1.rebnconvin`, `side3`, `outconv`), so official state_dicts load by key.
 */

export type U2NetName = 'u2net' | 'u2netp';
/** Which 3×3 conv a REBNCONV uses: full, 2 groups, or depthwise + pointwise (compact variants). */
export type U2NetVariant = 'standard' | 'grouped' | 'separable';

/** [height, inChannels, midChannels, outChannels, dilated] of one RSU stage. */
export type StageSpec = [number, number, number, number, boolean];

/**
 * The stage layout of U²-Net and U²-NetP as in the reference implementation: per stage its height, channels and
 * dilation.
 */
export const U2NET_CONFIG: Record<U2NetName, { stages: Record<string, StageSpec>; sides: number[] }> = {
  u2net: {
    stages: {
      stage1: [7, 3, 32, 64, false],
      stage2: [6, 64, 32, 128, false],
      stage3: [5, 128, 64, 256, false],
      stage4: [4, 256, 128, 512, false],
      stage5: [4, 512, 256, 512, true],
      stage6: [4, 512, 256, 512, true],
      stage5d: [4, 1024, 256, 512, true],
      stage4d: [4, 1024, 128, 256, false],
      stage3d: [5, 512, 64, 128, false],
      stage2d: [6, 256, 32, 64, false],
      stage1d: [7, 128, 16, 64, false],
    },
    sides: [64, 64, 128, 256, 512, 512],
  },
  u2netp: {
    stages: {
      stage1: [7, 3, 16, 64, false],
      stage2: [6, 64, 16, 64, false],
      stage3: [5, 64, 16, 64, false],
      stage4: [4, 64, 16, 64, false],
      stage5: [4, 64, 16, 64, true],
      stage6: [4, 64, 16, 64, true],
      stage5d: [4, 128, 16, 64, true],
      stage4d: [4, 128, 16, 64, false],
      stage3d: [5, 128, 16, 64, false],
      stage2d: [6, 128, 16, 64, false],
      stage1d: [7, 128, 16, 64, false],
    },
    sides: [64, 64, 64, 64, 64, 64],
  },
};

export const U2NET_ENCODER = ['stage1', 'stage2', 'stage3', 'stage4', 'stage5', 'stage6'] as const;
export const U2NET_DECODER = ['stage5d', 'stage4d', 'stage3d', 'stage2d', 'stage1d'] as const;

/**
 * Where a layer's random key comes from: starting at the model's key, each step splits into `count`
 * keys and takes number `index` (so the same seed gives the same initial weights as before).
 */
export type KeyPath = readonly (readonly [count: number, index: number])[];

/** 3×3 conv + BatchNorm + ReLU on the channel concat of `x` (named `concat` where a lowering needs it). */
export interface RebnconvNode {
  op: 'rebnconv';
  name: string;
  x: string[];
  y: string;
  concat?: string;
  inChannels: number;
  outChannels: number;
  dilation: number;
  key: KeyPath;
}
/** A plain conv with bias (stride 1, dilation 1) on the channel concat of `x`. */
export interface ConvNode {
  op: 'conv';
  name: string;
  x: string[];
  y: string;
  concat?: string;
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  padding: number;
  key: KeyPath;
}
export interface MaxPoolNode {
  op: 'maxpool';
  x: string;
  y: string;
}
export interface UpsampleNode {
  op: 'upsample';
  x: string;
  like: string;
  y: string;
}
export interface AddNode {
  op: 'add';
  a: string;
  b: string;
  y: string;
}
/** One node of the U²-Net graph: a REBNCONV, a conv, a max-pool, an upsample or an add. */
export type U2NetNode = RebnconvNode | ConvNode | MaxPoolNode | UpsampleNode | AddNode;

/**
 * U²-Net as a flat list of nodes with named values, read by every interpreter (training forward, folded
 * inference, ONNX export and import).
 */
export interface U2NetGraph {
  /** Which network: u2net or u2netp. */
  model: U2NetName;
  /** Channels of the input image. */
  inChannels: number;
  /** Channels of each saliency map. */
  outChannels: number;
  /** Name of the input value. */
  input: string;
  /** The nodes in execution order. */
  nodes: readonly U2NetNode[];
  /** The logit maps d0 (fused), d1, …, d6. */
  outputs: readonly string[];
}

/** Dilation of RSU encoder conv i (1-based; the last one of a plain RSU is dilated 2) and of decoder conv i. */
export const encoderDilation = (height: number, dilated: boolean, i: number) => (dilated ? 2 ** (i - 1) : i === height ? 2 : 1);
export const decoderDilation = (dilated: boolean, i: number) => (dilated ? 2 ** (i - 1) : 1);

/** The variant a REBNCONV from `cin` to `cout` channels actually takes: 2 groups need even channel counts. */
export const rebnconvVariant = (variant: U2NetVariant, cin: number, cout: number): U2NetVariant =>
  variant === 'grouped' && (cin % 2 || cout % 2) ? 'standard' : variant;

const ROOT_KEYS = 20;
const cache = new Map<string, U2NetGraph>();

/** The network as data (cached per configuration; treat it as read-only). */
export function u2netGraph({
  model = 'u2net',
  inChannels = 3,
  outChannels = 1,
}: {
  model?: U2NetName;
  inChannels?: number;
  outChannels?: number;
} = {}): U2NetGraph {
  const id = `${model}/${inChannels}/${outChannels}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const table = U2NET_CONFIG[model];
  if (!table) throw new Error(`u2netGraph: model must be one of ${Object.keys(U2NET_CONFIG).join(', ')}; got ${JSON.stringify(model)}`);
  const nodes: U2NetNode[] = [];
  const pool = (x: string) => {
    const y = `${x}.pool`;
    nodes.push({ op: 'maxpool', x, y });
    return y;
  };
  const upsample = (x: string, like: string) => {
    const y = `${x}.up`;
    nodes.push({ op: 'upsample', x, like, y });
    return y;
  };

  const rsu = (stage: string, index: number, x: string[], concat?: string) => {
    const [L, tableIn, mid, cout, dilated] = table.stages[stage];
    const cin = stage === 'stage1' ? inChannels : tableIn;
    const rebnconv = (block: string, xs: string[], ci: number, co: number, dilation: number, k: number, cat?: string) => {
      const name = `${stage}.${block}`;
      nodes.push({
        op: 'rebnconv',
        name,
        x: xs,
        y: name,
        ...(cat ? { concat: cat } : {}),
        inChannels: ci,
        outChannels: co,
        dilation,
        key: [
          [ROOT_KEYS, index],
          [2 * L, k],
        ],
      });
      return name;
    };
    const hxin = rebnconv('rebnconvin', x, cin, cout, 1, 0, concat);
    const enc: string[] = [];
    for (let i = 1; i <= L; i++) {
      let input = i === 1 ? hxin : enc[i - 2];
      if (i > 1 && i < L && !dilated) input = pool(input);
      enc.push(rebnconv(`rebnconv${i}`, [input], i === 1 ? cout : mid, mid, encoderDilation(L, dilated, i), i));
    }
    let d = enc[L - 1];
    for (let i = L - 1; i >= 1; i--) {
      const skip = enc[i - 1];
      const up = dilated || i === L - 1 ? d : upsample(d, skip);
      d = rebnconv(`rebnconv${i}d`, [up, skip], 2 * mid, i === 1 ? cout : mid, decoderDilation(dilated, i), L + i, `${stage}.cat${i}d`);
    }
    nodes.push({ op: 'add', a: d, b: hxin, y: stage });
    return stage;
  };

  const enc: string[] = [];
  let hx = 'input';
  U2NET_ENCODER.forEach((name, i) => {
    if (i > 0) hx = pool(enc[i - 1]);
    enc.push(rsu(name, i, [hx]));
  });
  const dec: string[] = [enc[5]]; // hx6, then hx5d … hx1d
  U2NET_DECODER.forEach((name, j) => {
    const skip = enc[4 - j];
    dec.push(rsu(name, U2NET_ENCODER.length + j, [upsample(dec[j], skip), skip], `${name}.in`));
  });
  // side outputs from hx1d, hx2d, …, hx5d, hx6; d2 … d6 upsampled to d1's size; the fuse conv reads all six
  const sources = [dec[5], dec[4], dec[3], dec[2], dec[1], dec[0]];
  const sides = sources.map((x, i) => {
    const name = `side${i + 1}`;
    nodes.push({ op: 'conv', name, x: [x], y: name, inChannels: table.sides[i], outChannels, kernelSize: 3, padding: 1, key: [[ROOT_KEYS, 11 + i]] });
    return name;
  });
  const maps = [sides[0], ...sides.slice(1).map((s) => upsample(s, sides[0]))];
  nodes.push({
    op: 'conv',
    name: 'outconv',
    x: maps,
    y: 'outconv',
    concat: 'fuse',
    inChannels: 6 * outChannels,
    outChannels,
    kernelSize: 1,
    padding: 0,
    key: [[ROOT_KEYS, 17]],
  });
  const graph: U2NetGraph = { model, inChannels, outChannels, input: 'input', nodes, outputs: ['outconv', ...maps] };
  cache.set(id, graph);
  return graph;
}

/** How an interpreter computes each kind of node on its own values (tensors, names, …). */
export interface U2NetInterpreter<T> {
  rebnconv(node: RebnconvNode, xs: T[]): T;
  conv(node: ConvNode, xs: T[]): T;
  maxpool(node: MaxPoolNode, x: T): T;
  upsample(node: UpsampleNode, x: T, like: T): T;
  add(node: AddNode, a: T, b: T): T;
  /** Called once per intermediate value right after its last reader ran (never for the input or an output). */
  free?(x: T): void;
}

const inputsOf = (n: U2NetNode): string[] => {
  switch (n.op) {
    case 'rebnconv':
    case 'conv':
      return n.x;
    case 'maxpool':
      return [n.x];
    case 'upsample':
      return [n.x, n.like];
    case 'add':
      return [n.a, n.b];
  }
};

/** Runs the graph with `impl` from `input`; returns the output values d0 … d6. */
export function runU2NetGraph<T>(graph: U2NetGraph, input: T, impl: U2NetInterpreter<T>): T[] {
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    for (const x of inputsOf(n)) lastUse.set(x, i);
  });
  const keep = new Set([graph.input, ...graph.outputs]);
  const values = new Map<string, T>([[graph.input, input]]);
  const get = (k: string) => {
    const v = values.get(k);
    if (v === undefined) throw new Error(`runU2NetGraph: value '${k}' is read before it is written`);
    return v;
  };
  graph.nodes.forEach((n, i) => {
    let y: T;
    switch (n.op) {
      case 'rebnconv':
        y = impl.rebnconv(n, n.x.map(get));
        break;
      case 'conv':
        y = impl.conv(n, n.x.map(get));
        break;
      case 'maxpool':
        y = impl.maxpool(n, get(n.x));
        break;
      case 'upsample':
        y = impl.upsample(n, get(n.x), get(n.like));
        break;
      case 'add':
        y = impl.add(n, get(n.a), get(n.b));
        break;
    }
    values.set(n.y, y);
    if (!impl.free) return;
    for (const x of new Set(inputsOf(n))) {
      if (lastUse.get(x) === i && !keep.has(x)) {
        impl.free(values.get(x)!);
        values.delete(x);
      }
    }
  });
  return graph.outputs.map(get);
}

/**
 * Parameter and state shapes by state_dict key, as the graph and `variant` lay them out: what
 * `u2net({ model, variant }).init` must produce and what an official checkpoint holds.
 */
export function u2netParameterShapes(graph: U2NetGraph, variant: U2NetVariant = 'standard'): { params: Map<string, number[]>; state: Map<string, number[]> } {
  const params = new Map<string, number[]>(),
    state = new Map<string, number[]>();
  for (const n of graph.nodes) {
    if (n.op === 'conv') {
      params.set(`${n.name}.weight`, [n.outChannels, n.inChannels, n.kernelSize, n.kernelSize]);
      params.set(`${n.name}.bias`, [n.outChannels]);
    }
    if (n.op !== 'rebnconv') continue;
    const cin = n.inChannels,
      cout = n.outChannels,
      conv = `${n.name}.conv_s1`,
      bn = `${n.name}.bn_s1`;
    const v = rebnconvVariant(variant, cin, cout);
    if (v === 'separable') {
      params.set(`${conv}.depthwise.weight`, [cin, 1, 3, 3]);
      params.set(`${conv}.depthwise.bias`, [cin]);
      params.set(`${conv}.pointwise.weight`, [cout, cin, 1, 1]);
      params.set(`${conv}.pointwise.bias`, [cout]);
    } else {
      params.set(`${conv}.weight`, [cout, v === 'grouped' ? cin / 2 : cin, 3, 3]);
      params.set(`${conv}.bias`, [cout]);
    }
    params.set(`${bn}.weight`, [cout]);
    params.set(`${bn}.bias`, [cout]);
    state.set(`${bn}.running_mean`, [cout]);
    state.set(`${bn}.running_var`, [cout]);
    state.set(`${bn}.num_batches_tracked`, []);
  }
  return { params, state };
}
