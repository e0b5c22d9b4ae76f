/**
 * U²-Net / U²-NetP weights from an ONNX export of the original PyTorch model (e.g. rembg's
 * u2netp.onnx). The exporter folded each BatchNorm into the conv before it and renamed those
 * initializers by number, so the convs are matched by position: the ONNX graph lists its Conv nodes
 * in the original forward order (stage1 … stage6, stage5d … stage1d, each RSU as rebnconvin,
 * rebnconv1 … rebnconvL, rebnconv(L−1)d … rebnconv1d; then side1 … side6 and outconv). Every conv
 * is checked against that order by weight shape, dilation, padding, stride and groups, and the
 * stage convs by data flow (each uses the previous one's output), which pins the many convs that
 * share a shape (e.g. the 16→16 ones of U²-NetP).
 *
 * With BN folded, the model's BatchNorms must be the identity in eval mode: weight 1, bias 0,
 * running_mean 0 and running_var 1 − eps, so (x − 0)/sqrt(var + eps) is exactly x in float32.
 */
import { HostTensor } from '../formats/host-tensor';
import type { OnnxModel, OnnxNode } from '../formats/onnx';
import { u2netGraph, type U2NetName } from '../models/u2net/graph';

export interface ConvSlot {
  /** Parameter path of the conv (e.g. `stage1.rebnconvin.conv_s1`, `side3`, `outconv`). */
  path: string;
  /** Path of the BatchNorm that follows it (folded in the ONNX file), if any. */
  bn: string | null;
  shape: [number, number, number, number];
  dilation: number;
  padding: number;
}

/** The convolutions of U²-Net / U²-NetP (3 input channels, 1 output) in the original forward order: the graph's conv nodes in order. */
export function u2netConvOrder(name: U2NetName = 'u2netp'): ConvSlot[] {
  const slots: ConvSlot[] = [];
  for (const n of u2netGraph({ model: name }).nodes) {
    if (n.op === 'rebnconv') {
      slots.push({ path: `${n.name}.conv_s1`, bn: `${n.name}.bn_s1`, shape: [n.outChannels, n.inChannels, 3, 3], dilation: n.dilation, padding: n.dilation });
    } else if (n.op === 'conv') {
      slots.push({ path: n.name, bn: null, shape: [n.outChannels, n.inChannels, n.kernelSize, n.kernelSize], dilation: 1, padding: n.padding });
    }
  }
  return slots;
}

/**
 * The encoder/decoder convs form one chain: each consumes (through ReLU, pooling, upsampling,
 * concatenation and residual adds) the output of the one before. So any topological order of the
 * graph lists them in the forward order, and same-shaped convs cannot be confused. Checked here:
 * conv i + 1 must depend on conv i. (The side convs are independent; the export kept their names.)
 */
function checkConvChain(model: OnnxModel, convs: OnnxNode[], slots: ConvSlot[]): void {
  const producer = new Map<string, OnnxNode>();
  for (const n of model.graph.nodes) for (const o of n.outputs) producer.set(o, n);
  const dependsOn = (node: OnnxNode, target: OnnxNode): boolean => {
    const seen = new Set<OnnxNode>(),
      stack = [node];
    while (stack.length) {
      const n = stack.pop()!;
      for (const input of n === node ? n.inputs.slice(0, 1) : n.inputs) {
        const p = producer.get(input);
        if (!p || seen.has(p)) continue;
        if (p === target) return true;
        seen.add(p);
        stack.push(p);
      }
    }
    return false;
  };
  for (let i = 1; i < slots.length && slots[i].bn; i++) {
    if (!dependsOn(convs[i], convs[i - 1])) {
      throw new Error(
        `u2net from ONNX: Conv node ${i} (expected ${slots[i].path}) does not use the output of Conv node ${i - 1} (expected ${slots[i - 1].path}); the graph is not U²-Net's forward order`,
      );
    }
  }
}

const ints = (n: OnnxNode, k: string, dflt: number[]) => {
  const v = n.attributes[k];
  return Array.isArray(v) ? (v as number[]) : dflt;
};

/**
 * A state_dict (plain PyTorch keys: params and BatchNorm buffers) for `u2net({ model: name })` from an
 * ONNX export with folded BatchNorms. Throws naming the first conv that does not fit the expected order.
 */
export function u2netStateDictFromOnnx(model: OnnxModel, name: U2NetName = 'u2netp', { eps = 1e-5 } = {}): Record<string, HostTensor> {
  const g = model.graph;
  const convs = g.nodes.filter((n) => n.opType === 'Conv');
  const slots = u2netConvOrder(name);
  if (convs.length !== slots.length) {
    throw new Error(`u2net from ONNX: the graph has ${convs.length} Conv nodes; ${name} has ${slots.length} convolutions`);
  }
  checkConvChain(model, convs, slots);
  const sd: Record<string, HostTensor> = {};
  const put = (k: string, t: HostTensor) => Object.defineProperty(sd, k, { value: t, enumerable: true, writable: true, configurable: true });
  const fill = (n: number, v: number) => new HostTensor('float32', [n], new Float32Array(n).fill(v));
  // running_var + eps must round to exactly 1 in float32
  const runningVar = Math.fround(1 - Math.fround(eps));
  if (Math.fround(runningVar + Math.fround(eps)) !== 1) throw new Error(`u2net from ONNX: eps ${eps} has no float32 running_var with var + eps = 1`);
  convs.forEach((node, i) => {
    const slot = slots[i];
    const where = `Conv node ${i} ('${node.name || node.outputs[0]}', expected ${slot.path})`;
    const [wName, bName] = node.inputs.slice(1);
    const w = g.initializers.get(wName),
      b = bName ? g.initializers.get(bName) : undefined;
    if (!w) throw new Error(`u2net from ONNX: ${where} has no initializer for its weight '${wName}'`);
    if (w.dtype !== 'float32' || w.shape.length !== 4 || w.shape.some((d, j) => d !== slot.shape[j])) {
      throw new Error(`u2net from ONNX: ${where} has a ${w.dtype} weight of shape [${w.shape.join(', ')}]; expected float32 [${slot.shape.join(', ')}]`);
    }
    const dil = ints(node, 'dilations', [1, 1]),
      pads = ints(node, 'pads', [0, 0, 0, 0]),
      strides = ints(node, 'strides', [1, 1]);
    const group = typeof node.attributes.group === 'number' ? node.attributes.group : 1;
    const ok =
      dil.every((d) => d === slot.dilation) && pads.length === 4 && pads.every((p) => p === slot.padding) && strides.every((s) => s === 1) && group === 1;
    if (!ok) {
      throw new Error(
        `u2net from ONNX: ${where} has dilations [${dil}], pads [${pads}], strides [${strides}], group ${group}; expected dilation ${slot.dilation}, padding ${slot.padding}, stride 1, group 1`,
      );
    }
    const cout = slot.shape[0];
    if (b && (b.dtype !== 'float32' || b.shape.length !== 1 || b.shape[0] !== cout)) {
      throw new Error(`u2net from ONNX: ${where} has a bias of shape [${b.shape.join(', ')}]; expected [${cout}]`);
    }
    put(`${slot.path}.weight`, w);
    put(`${slot.path}.bias`, b ?? fill(cout, 0));
    if (slot.bn) {
      put(`${slot.bn}.weight`, fill(cout, 1));
      put(`${slot.bn}.bias`, fill(cout, 0));
      put(`${slot.bn}.running_mean`, fill(cout, 0));
      put(`${slot.bn}.running_var`, fill(cout, runningVar));
      put(`${slot.bn}.num_batches_tracked`, new HostTensor('int64', [], BigInt64Array.of(0n)));
    }
  });
  return sd;
}
